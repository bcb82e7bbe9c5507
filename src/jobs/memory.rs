//! Gives memory back after a burst: the in-memory copies of rows let go of what is past its
//! time, then glibc's allocator returns freed pages, which it otherwise keeps in per-thread
//! arenas (a bench run left the shop at 224 MB). Elsewhere than glibc the trim does nothing.

use std::time::Duration;

const TRIM_EVERY: Duration = Duration::from_secs(10);

pub fn spawn_trim(sweep: impl Fn() + Send + 'static) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            sweep();
            trim();
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn trim() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim() {}

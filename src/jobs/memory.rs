//! Gives freed memory back to the system after a burst. glibc's allocator keeps what a load
//! peak freed in per-thread arenas (a bench run left the shop at 224 MB); trimming them every few
//! seconds brings the process back near its idle size. Elsewhere this does nothing.

use std::time::Duration;

const TRIM_EVERY: Duration = Duration::from_secs(10);

pub fn spawn_trim() {
    tokio::spawn(async {
        let mut tick = tokio::time::interval(TRIM_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
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

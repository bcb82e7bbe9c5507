//! Counts the media responses each viewer and each address is streaming, so that one client
//! cannot hold hundreds of streams open (of a free preview, say). A slot is taken when a body
//! starts and given back when it ends or the client goes away (the guard lives in the body).
//! Per process: behind several instances each holds its own count.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct StreamSlots {
    open: Mutex<HashMap<String, usize>>,
}

/// A held slot; dropping it gives the slot back.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    keys: [String; 2],
}

impl StreamSlots {
    /// A slot for `viewer` (an account, or the address when signed out) from `ip`, or None when
    /// either already has its limit of streams open.
    pub fn acquire(
        self: &Arc<Self>,
        viewer: String,
        ip: String,
        per_viewer: usize,
        per_ip: usize,
    ) -> Option<StreamSlot> {
        let keys = [format!("v:{viewer}"), format!("ip:{ip}")];
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = |k: &String| open.get(k).copied().unwrap_or(0);
        if count(&keys[0]) >= per_viewer || count(&keys[1]) >= per_ip {
            return None;
        }
        for key in &keys {
            *open.entry(key.clone()).or_default() += 1;
        }
        drop(open);
        Some(StreamSlot { slots: self.clone(), keys })
    }

    /// Streams open now for a key (`v:…` or `ip:…`).
    pub fn open(&self, key: &str) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).get(key).copied().unwrap_or(0)
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            if let Some(n) = open.get_mut(key) {
                *n -= 1;
                if *n == 0 {
                    open.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_viewer_and_per_address_and_gives_slots_back() {
        let slots = Arc::new(StreamSlots::default());
        let a1 = slots.acquire("u1".into(), "10.0.0.1".into(), 2, 3);
        let a2 = slots.acquire("u1".into(), "10.0.0.1".into(), 2, 3);
        assert!(a1.is_some() && a2.is_some());
        assert!(slots.acquire("u1".into(), "10.0.0.2".into(), 2, 3).is_none(), "the viewer's limit");
        let b1 = slots.acquire("u2".into(), "10.0.0.1".into(), 2, 3);
        assert!(b1.is_some());
        assert!(slots.acquire("u3".into(), "10.0.0.1".into(), 2, 3).is_none(), "the address's limit");
        drop(a1);
        assert!(slots.acquire("u3".into(), "10.0.0.1".into(), 2, 3).is_some(), "a slot came back");
        drop((a2, b1));
        assert_eq!(slots.open("v:u1"), 0);
        assert_eq!(slots.open("ip:10.0.0.1"), 0, "the temporary u3 slot was dropped at once");
    }
}

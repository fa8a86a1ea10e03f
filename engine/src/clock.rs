//! The gateway's notion of "now", in milliseconds since the Unix epoch.
//!
//! Everything that stamps time (last-modified, access events, heat) asks a [`Clock`] instead of the system, so
//! that tests can move time forward without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Wall-clock time plus an adjustable offset; clones share the offset.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Milliseconds since the Unix epoch, offset included.
    pub fn now_ms(&self) -> i64 {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        wall + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock (and its clones) forward by `ms`.
    pub fn advance_ms(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_all_clones() {
        let a = Clock::system();
        let b = a.clone();
        let before = b.now_ms();
        a.advance_ms(86_400_000);
        assert!(b.now_ms() - before >= 86_400_000);
    }
}

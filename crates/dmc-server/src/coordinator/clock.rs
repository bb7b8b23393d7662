//! Where the coordinator's time comes from: every rule reads [`Clock`];
//! only [`system_clock`] reads the wall clock.

use std::sync::Arc;

use dmc_core::Timestamp;

/// The coordinator's time source.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The wall clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i128)
            .unwrap_or(0);
        Timestamp::from_raw(ns)
    })
}

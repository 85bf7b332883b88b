//! The memory one worker's flows may hold while inspecting: reassembled
//! stream bytes, QUIC CRYPTO data, anything an inspector buffers across
//! packets. Each flow has its own bound; this one bounds them together, so
//! a flood of half-sent hellos costs at most the budget, not the per-flow
//! bound times the flow table.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A worker's inspection budget. Each reservation holds a handle on the
/// counter, so that it gives its bytes back when dropped, wherever the
/// flow that holds it ends; the worker's pipeline is the only other owner.
#[derive(Debug)]
pub struct InspectBudget {
    free: Arc<AtomicUsize>,
}

impl InspectBudget {
    /// 64 MiB: 4,096 flows reassembling at once, far more than hellos in
    /// flight on a busy link.
    pub const DEFAULT_BYTES: usize = 64 << 20;

    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> Self {
        InspectBudget { free: Arc::new(AtomicUsize::new(bytes)) }
    }

    /// Bytes not reserved now.
    pub fn free(&self) -> usize {
        self.free.load(Ordering::Relaxed)
    }

    pub(super) fn reserve(&self, bytes: usize) -> Option<Reservation> {
        self.free
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |free| free.checked_sub(bytes))
            .ok()
            .map(|_| Reservation { free: self.free.clone(), bytes })
    }
}

impl Default for InspectBudget {
    fn default() -> Self {
        InspectBudget::new(InspectBudget::DEFAULT_BYTES)
    }
}

/// Budget held by one flow; given back when the flow stops inspecting or
/// ends.
#[derive(Debug)]
pub(super) struct Reservation {
    free: Arc<AtomicUsize>,
    bytes: usize,
}

impl Reservation {
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.free.fetch_add(self.bytes, Ordering::Relaxed);
    }
}

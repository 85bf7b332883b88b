//! The capture clock: the time a source's frames are handed on with, proof
//! against one absurd record stamp.
//!
//! Flow timing (idle expiry, first and last seen) follows the frames' stamps.
//! One record dated 2106, or stamped with all ones, would move that clock
//! decades ahead: every later flow would end at its first packet, or idle
//! expiry would stop for the rest of the file. So a record stamped more than
//! the allowed step ahead of the clock, or behind it, is counted and handed
//! on at the clock's time instead. A capture whose time really jumps (a gap
//! with nothing on the link, captures of two days concatenated) moves the
//! clock once [`AGREEING_RECORDS`] records in a row agree on the new time;
//! until then they too are placed at the old clock.

use std::time::Duration;

/// How many consecutive records, within the step of one another, it takes
/// to move the clock to their time: enough that one or two corrupt stamps
/// never do, few enough that a real jump costs only a handful of records'
/// timing.
pub const AGREEING_RECORDS: u32 = 4;

/// The default step: an hour.
pub const DEFAULT_MAX_JUMP: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct CaptureClock {
    max_jump_ns: u64,
    /// Latest time handed on; `None` before the first record.
    now_ns: Option<u64>,
    /// Records out of step with the clock but in step with one another:
    /// the latest of their stamps and how many in a row.
    candidate: Option<(u64, u32)>,
    jumps: u64,
}

impl CaptureClock {
    pub fn new(max_jump: Duration) -> Self {
        let max_jump_ns = u64::try_from(max_jump.as_nanos()).unwrap_or(u64::MAX);
        CaptureClock { max_jump_ns, now_ns: None, candidate: None, jumps: 0 }
    }

    /// The time to hand a record stamped `ts_ns` on with.
    pub fn place(&mut self, ts_ns: u64) -> u64 {
        let Some(now) = self.now_ns else {
            self.now_ns = Some(ts_ns);
            return ts_ns;
        };
        if ts_ns.abs_diff(now) <= self.max_jump_ns {
            self.now_ns = Some(now.max(ts_ns));
            self.candidate = None;
            return ts_ns;
        }
        let candidate = match self.candidate {
            Some((latest, n)) if ts_ns.abs_diff(latest) <= self.max_jump_ns => (latest.max(ts_ns), n + 1),
            _ => (ts_ns, 1),
        };
        if candidate.1 >= AGREEING_RECORDS {
            self.now_ns = Some(candidate.0);
            self.candidate = None;
            return ts_ns;
        }
        self.candidate = Some(candidate);
        self.jumps += 1;
        now
    }

    /// Records handed on at the clock's time instead of their own.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const T0: u64 = 1_772_438_400 * S;

    #[test]
    fn one_absurd_stamp_is_placed_at_the_clock_and_counted() {
        let mut c = CaptureClock::new(DEFAULT_MAX_JUMP);
        assert_eq!(c.place(T0), T0);
        assert_eq!(c.place(T0 + S), T0 + S);
        assert_eq!(c.place(u64::MAX), T0 + S, "all ones");
        assert_eq!(c.place(T0 + 2 * S), T0 + 2 * S);
        assert_eq!(c.place(u64::from(u32::MAX) * S), T0 + 2 * S, "2106");
        assert_eq!(c.place(3 * S), T0 + 2 * S, "1970");
        assert_eq!(c.place(T0 + 3 * S), T0 + 3 * S);
        assert_eq!(c.jumps(), 3);
    }

    #[test]
    fn small_steps_back_are_kept_and_do_not_move_the_clock_back() {
        let mut c = CaptureClock::new(Duration::from_secs(10));
        c.place(T0 + 5 * S);
        assert_eq!(c.place(T0 + 2 * S), T0 + 2 * S, "reordered by less than the step");
        assert_eq!(c.place(T0 + 14 * S), T0 + 14 * S, "within the step of the latest time");
        assert_eq!(c.place(T0 + 3 * S), T0 + 14 * S, "more than the step behind the latest time");
        assert_eq!(c.jumps(), 1);
    }

    #[test]
    fn the_clock_follows_a_jump_that_records_agree_on() {
        let mut c = CaptureClock::new(DEFAULT_MAX_JUMP);
        c.place(T0);
        let later = T0 + 86_400 * S;
        for i in 0..u64::from(AGREEING_RECORDS) - 1 {
            assert_eq!(c.place(later + i * S), T0, "record {i} after the gap is not trusted yet");
        }
        let last = later + u64::from(AGREEING_RECORDS) * S;
        assert_eq!(c.place(last), last, "the fourth agreeing record moves the clock");
        assert_eq!(c.place(last + S), last + S);
        assert_eq!(c.jumps(), u64::from(AGREEING_RECORDS) - 1);
    }

    #[test]
    fn alternating_absurd_stamps_never_move_the_clock() {
        let mut c = CaptureClock::new(DEFAULT_MAX_JUMP);
        c.place(T0);
        for i in 1..100 {
            assert_eq!(c.place(u64::MAX - i), T0 + (i - 1) * S);
            assert_eq!(c.place(T0 + i * S), T0 + i * S);
        }
        assert_eq!(c.jumps(), 99);
    }

    #[test]
    fn a_huge_step_trusts_every_stamp() {
        let mut c = CaptureClock::new(Duration::MAX);
        c.place(T0);
        assert_eq!(c.place(u64::MAX), u64::MAX);
        assert_eq!(c.jumps(), 0);
    }
}

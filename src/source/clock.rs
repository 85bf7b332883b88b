//! The capture clock: the time a source's frames are handed on with, proof
//! against absurd record stamps.
//!
//! Flow timing (idle expiry, first and last seen) follows the frames'
//! stamps. One record dated 2106, or stamped with all ones, would move that
//! clock decades ahead: every later flow would end at its first packet, or
//! idle expiry would stop for the rest of the file. So a record stamped more
//! than the allowed step ahead of the clock, or behind it, is held back. If
//! [`AGREEING_RECORDS`] records in a row agree on the new time (a capture
//! that really jumps: a quiet night, captures of two days concatenated, as
//! many public captures are), the clock follows them and they are handed on
//! with their own stamps. Otherwise they are handed on at the clock's time
//! and counted. Holding copies at most a few frames, only at a jump; the
//! first record of a source sets the clock.

use std::time::Duration;

use super::{Frame, LinkType};

/// How many consecutive records, within the step of one another, it takes
/// to move the clock to their time: enough that one or two corrupt stamps
/// never do.
pub const AGREEING_RECORDS: usize = 4;

/// Frames larger than this together are not held: the first of them is
/// timed at the clock at once.
const HOLD_BYTES: usize = 256 * 1024;

/// The default step: an hour.
pub const DEFAULT_MAX_JUMP: Duration = Duration::from_secs(3600);

/// A frame kept back while the clock cannot yet tell whether its stamp is right.
#[derive(Debug, Clone)]
struct HeldFrame {
    ts_ns: u64,
    link: LinkType,
    data: Vec<u8>,
    wire_len: u32,
    interface: u32,
}

/// One source's capture clock (see the module's description): it hands
/// frames on in order, each with the time to use.
#[derive(Debug, Clone)]
pub struct CaptureClock {
    max_jump_ns: u64,
    /// Latest time handed on; `None` before the first record.
    now_ns: Option<u64>,
    /// Records out of step with the clock but in step with one another, in order.
    held: Vec<HeldFrame>,
    held_bytes: usize,
    /// The latest stamp among `held`.
    held_latest_ns: u64,
    jumps: u64,
    followed: u64,
}

impl CaptureClock {
    /// A clock that takes stamps within `max_jump` of it as they are
    /// (a step past `u64::MAX` nanoseconds counts as `u64::MAX`); it is set
    /// by the first frame it is given.
    pub fn new(max_jump: Duration) -> Self {
        let max_jump_ns = u64::try_from(max_jump.as_nanos()).unwrap_or(u64::MAX);
        CaptureClock {
            max_jump_ns,
            now_ns: None,
            held: Vec::new(),
            held_bytes: 0,
            held_latest_ns: 0,
            jumps: 0,
            followed: 0,
        }
    }

    /// Takes the next frame of the source and hands on, in order, every
    /// frame whose time is settled: to `hand_on`, with the time to use and
    /// whether that is the clock's rather than its own stamp.
    #[inline]
    pub fn place<F: FnMut(&Frame<'_>, bool)>(&mut self, frame: &Frame<'_>, hand_on: &mut F) {
        // The common case: a stamp within the step of the clock, nothing held.
        if let Some(now) = self.now_ns {
            if self.held.is_empty() && frame.ts_ns.abs_diff(now) <= self.max_jump_ns {
                self.now_ns = Some(now.max(frame.ts_ns));
                return hand_on(frame, false);
            }
        }
        self.place_out_of_step(frame, hand_on);
    }

    /// [`place`](Self::place) for the first frame, a frame out of step, or
    /// while frames are held.
    #[cold]
    #[inline(never)]
    fn place_out_of_step(&mut self, frame: &Frame<'_>, hand_on: &mut dyn FnMut(&Frame<'_>, bool)) {
        let ts = frame.ts_ns;
        let Some(now) = self.now_ns else {
            self.now_ns = Some(ts);
            return hand_on(frame, false);
        };
        if ts.abs_diff(now) <= self.max_jump_ns {
            self.release_at_clock(hand_on);
            self.now_ns = Some(now.max(ts));
            return hand_on(frame, false);
        }
        let joins = !self.held.is_empty()
            && ts.abs_diff(self.held_latest_ns) <= self.max_jump_ns
            && self.held_bytes + frame.data.len() <= HOLD_BYTES;
        if joins && self.held.len() + 1 >= AGREEING_RECORDS {
            // The records agree: the capture's time really moved.
            for h in self.held.drain(..) {
                let f =
                    Frame { ts_ns: h.ts_ns, link: h.link, data: &h.data, wire_len: h.wire_len, interface: h.interface };
                hand_on(&f, false);
            }
            self.held_bytes = 0;
            self.now_ns = Some(self.held_latest_ns.max(ts));
            self.followed += 1;
            return hand_on(frame, false);
        }
        if !joins {
            self.release_at_clock(hand_on);
            if frame.data.len() > HOLD_BYTES {
                self.jumps += 1;
                return hand_on(&Frame { ts_ns: now, ..*frame }, true);
            }
            self.held_latest_ns = ts;
        }
        self.held_latest_ns = self.held_latest_ns.max(ts);
        self.held_bytes += frame.data.len();
        self.held.push(HeldFrame {
            ts_ns: ts,
            link: frame.link,
            data: frame.data.to_vec(),
            wire_len: frame.wire_len,
            interface: frame.interface,
        });
    }

    /// At the end of the source: hands on what is still held, at the clock.
    pub fn finish(&mut self, hand_on: &mut dyn FnMut(&Frame<'_>, bool)) {
        self.release_at_clock(hand_on);
    }

    fn release_at_clock(&mut self, hand_on: &mut dyn FnMut(&Frame<'_>, bool)) {
        let Some(now) = self.now_ns else { return };
        for h in self.held.drain(..) {
            self.jumps += 1;
            hand_on(
                &Frame { ts_ns: now, link: h.link, data: &h.data, wire_len: h.wire_len, interface: h.interface },
                true,
            );
        }
        self.held_bytes = 0;
    }

    /// Records handed on at the clock's time instead of their own.
    pub fn jumps(&self) -> u64 {
        self.jumps
    }

    /// Times the clock moved to follow records that agreed on a jump.
    pub fn followed(&self) -> u64 {
        self.followed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;
    const T0: u64 = 1_772_438_400 * S;

    /// Feeds frames stamped `stamps` (data: their index) and returns, in the
    /// order handed on, (index, time, timed at the clock).
    fn run(clock: &mut CaptureClock, stamps: &[u64]) -> Vec<(u8, u64, bool)> {
        let mut out = Vec::new();
        let data: Vec<[u8; 1]> = (0..stamps.len()).map(|i| [u8::try_from(i).unwrap()]).collect();
        for (i, &ts_ns) in stamps.iter().enumerate() {
            let frame = Frame { ts_ns, link: LinkType::Raw, data: &data[i], wire_len: 1, interface: 0 };
            clock.place(&frame, &mut |f, at_clock| out.push((f.data[0], f.ts_ns, at_clock)));
        }
        clock.finish(&mut |f, at_clock| out.push((f.data[0], f.ts_ns, at_clock)));
        out
    }

    #[test]
    fn absurd_stamps_are_timed_at_the_clock_and_counted() {
        let mut c = CaptureClock::new(DEFAULT_MAX_JUMP);
        let out = run(&mut c, &[T0, T0 + S, u64::MAX, T0 + 2 * S, u64::from(u32::MAX) * S, 3 * S, T0 + 3 * S]);
        let want = [
            (0, T0, false),
            (1, T0 + S, false),
            (2, T0 + S, true),
            (3, T0 + 2 * S, false),
            (4, T0 + 2 * S, true),
            (5, T0 + 2 * S, true),
            (6, T0 + 3 * S, false),
        ];
        assert_eq!(out, want);
        assert_eq!((c.jumps(), c.followed()), (3, 0));
    }

    #[test]
    fn small_steps_back_are_kept_and_do_not_move_the_clock_back() {
        let mut c = CaptureClock::new(Duration::from_secs(10));
        let out = run(&mut c, &[T0 + 5 * S, T0 + 2 * S, T0 + 14 * S, T0 + 3 * S, T0 + 15 * S]);
        let want = [
            (0, T0 + 5 * S, false),
            (1, T0 + 2 * S, false),
            (2, T0 + 14 * S, false),
            (3, T0 + 14 * S, true),
            (4, T0 + 15 * S, false),
        ];
        assert_eq!(out, want);
        assert_eq!(c.jumps(), 1);
    }

    #[test]
    fn a_jump_the_records_agree_on_keeps_their_own_stamps() {
        let mut c = CaptureClock::new(DEFAULT_MAX_JUMP);
        let later = T0 + 86_400 * S;
        let out = run(&mut c, &[T0, later, later + S, later + 2 * S, later + 3 * S, later + 4 * S]);
        let want: Vec<(u8, u64, bool)> = [T0, later, later + S, later + 2 * S, later + 3 * S, later + 4 * S]
            .iter()
            .enumerate()
            .map(|(i, &t)| (u8::try_from(i).unwrap(), t, false))
            .collect();
        assert_eq!(out, want, "all in order, none at the clock");
        assert_eq!((c.jumps(), c.followed()), (0, 1));
    }

    #[test]
    fn a_run_too_short_to_trust_is_timed_at_the_clock() {
        let mut c = CaptureClock::new(DEFAULT_MAX_JUMP);
        let far = u64::MAX - 10 * S;
        let out = run(&mut c, &[T0, far, far + S, far + 2 * S, T0 + S, far]);
        let want = [(0, T0, false), (1, T0, true), (2, T0, true), (3, T0, true), (4, T0 + S, false), (5, T0 + S, true)];
        assert_eq!(out, want, "held in order, released before the record that refutes them, and at the end");
        assert_eq!((c.jumps(), c.followed()), (4, 0));
    }

    #[test]
    fn alternating_absurd_stamps_never_move_the_clock() {
        let mut c = CaptureClock::new(DEFAULT_MAX_JUMP);
        let mut stamps = vec![T0];
        for i in 1..100 {
            stamps.extend([u64::MAX - i, T0 + i * S]);
        }
        let out = run(&mut c, &stamps);
        assert!(out.iter().all(|&(_, t, _)| t < T0 + 100 * S));
        assert_eq!(c.jumps(), 99);
    }

    #[test]
    fn a_huge_step_trusts_every_stamp() {
        let mut c = CaptureClock::new(Duration::MAX);
        assert_eq!(run(&mut c, &[T0, u64::MAX]), [(0, T0, false), (1, u64::MAX, false)]);
        assert_eq!(c.jumps(), 0);
    }
}

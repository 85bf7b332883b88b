//! The shape every device-discovery inspector shares: a UDP flow on the
//! protocol's port whose datagrams are read one by one, each telling
//! facts about the host that sent it. The flow's attribution never
//! depends on them (they go to multicast groups and LAN peers), so the
//! flow is settled from the first datagram; a few messages say all a
//! device repeats.

use crate::inspect::{Direction, Inspector, Progress, Report};

/// Datagrams read per flow.
const MAX_MESSAGES: u8 = 16;

/// Reads each datagram with `read`.
pub(super) struct Announcements {
    read: fn(Direction, &[u8], &mut Report<'_>),
    messages: u8,
}

impl Announcements {
    pub(super) fn boxed(read: fn(Direction, &[u8], &mut Report<'_>)) -> Box<dyn Inspector> {
        Box::new(Announcements { read, messages: 0 })
    }
}

impl Inspector for Announcements {
    fn feed(&mut self, dir: Direction, data: &[u8], report: &mut Report<'_>) -> Progress {
        (self.read)(dir, data, report);
        self.messages += 1;
        if self.messages >= MAX_MESSAGES { Progress::Done } else { Progress::Watching { consumed: data.len() } }
    }
}

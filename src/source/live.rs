//! Live capture from a network interface through libpcap.
//!
//! On Linux libpcap reads a TPACKET_V3 memory-mapped ring: the kernel fills
//! blocks of frames and hands over a whole block at once, so a batch of
//! frames costs no copy and no system call per frame. (Immediate mode would
//! make libpcap fall back to TPACKET_V2, so a short block timeout is used
//! instead.) Several handles on one interface share its traffic through
//! `PACKET_FANOUT` in hash mode: both directions of a flow hash alike, so
//! each flow is seen by exactly one worker.
//!
//! The handle is non-blocking and waits with `poll(2)` and a timeout: with
//! TPACKET_V3 a blocking read would wait for the first frame however long
//! that takes, and a sensor on a silent link must still stop promptly.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use anyhow::Context;
use pcap::{Active, Capture, Direction, Precision};

use super::{Frame, LinkType};

/// Frames are captured whole: jumbo frames and GRO-merged packets too.
pub const SNAPLEN: i32 = 262_144;
/// Kernel ring per handle.
pub const DEFAULT_RING_BYTES: i32 = 64 << 20;
/// The TPACKET_V3 block timeout: how long a partly filled block waits
/// before the kernel hands it over on a quiet link.
const BLOCK_TIMEOUT_MS: i32 = 50;
/// Frames per `pcap_dispatch` call, so a busy link still lets the worker
/// look at its stop flag and timers between batches.
pub const BATCH: usize = 4096;

/// How to open one capture handle.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub interface: String,
    /// A BPF filter expression (tcpdump syntax).
    pub bpf: Option<String>,
    /// Joins this `PACKET_FANOUT` group (hash mode) when set.
    pub fanout_group: Option<u16>,
    pub ring_bytes: i32,
}

/// Cumulative counters of one handle since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Frames the kernel passed to the socket (after the filter).
    pub received: u64,
    /// Frames the kernel dropped because the ring was full.
    pub dropped: u64,
    /// Frames the interface or its driver dropped.
    pub if_dropped: u64,
}

/// One open live capture handle.
pub struct LiveCapture {
    cap: Capture<Active>,
    fd: RawFd,
    link: LinkType,
    interface: u32,
    /// libpcap's statistics are 32-bit and wrap; these extend them.
    last_raw: [u32; 3],
    totals: CaptureStats,
}

impl LiveCapture {
    /// Opens `opts.interface` in promiscuous mode, incoming frames only (a
    /// mirror port only receives; frames the sensor's own host sends are
    /// not traffic to attribute). `interface` becomes [`Frame::interface`].
    pub fn open(opts: &CaptureOptions, interface: u32) -> anyhow::Result<LiveCapture> {
        let name = &opts.interface;
        let inactive = Capture::from_device(name.as_str())
            .with_context(|| format!("interface {name}"))?
            .promisc(true)
            .snaplen(SNAPLEN)
            .buffer_size(opts.ring_bytes)
            .timeout(BLOCK_TIMEOUT_MS)
            .precision(Precision::Nano);
        let cap = inactive.open().map_err(|e| open_error(name, e))?;
        let mut cap = cap.setnonblock().with_context(|| format!("interface {name}: cannot set non-blocking mode"))?;
        cap.direction(Direction::In).with_context(|| format!("interface {name}: cannot select incoming frames"))?;
        if let Some(expr) = &opts.bpf {
            cap.filter(expr, true).with_context(|| format!("interface {name}: BPF filter {expr:?}"))?;
        }
        let fd = cap.as_raw_fd();
        if let Some(group) = opts.fanout_group {
            sys::join_fanout(fd, group)
                .with_context(|| format!("interface {name}: cannot join PACKET_FANOUT group {group}"))?;
        }
        let link = LinkType::from_number(cap.get_datalink().0 as u32);
        Ok(LiveCapture { cap, fd, link, interface, last_raw: [0; 3], totals: CaptureStats::default() })
    }

    pub fn link(&self) -> LinkType {
        self.link
    }

    /// Hands up to [`BATCH`] waiting frames to `f`. When none are waiting,
    /// waits up to `wait` for some and returns 0 (so the caller can look at
    /// its stop flag). Frames borrow the ring and must be handled in `f`.
    pub fn dispatch<F: FnMut(&Frame<'_>)>(&mut self, wait: Duration, mut f: F) -> Result<usize, pcap::Error> {
        let (link, interface) = (self.link, self.interface);
        let n = self.cap.dispatch(Some(BATCH), |p| {
            let ts = &p.header.ts;
            // Nanosecond precision: tv_usec holds nanoseconds.
            let ts_ns = (ts.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(ts.tv_usec as u64);
            f(&Frame { ts_ns, link, data: p.data, wire_len: p.header.len, interface });
        })?;
        if n == 0 {
            // EINTR and the like only shorten the wait.
            let _ = sys::wait_readable(self.fd, wait);
        }
        Ok(n)
    }

    /// Reads the kernel's counters. Cheap, but a system call: call it
    /// between batches, about once a second.
    pub fn stats(&mut self) -> Result<CaptureStats, pcap::Error> {
        let s = self.cap.stats()?;
        let raw = [s.received, s.dropped, s.if_dropped];
        let totals = [&mut self.totals.received, &mut self.totals.dropped, &mut self.totals.if_dropped];
        for ((total, now), last) in totals.into_iter().zip(raw).zip(self.last_raw.iter_mut()) {
            *total += u64::from(now.wrapping_sub(*last));
            *last = now;
        }
        Ok(self.totals)
    }
}

fn open_error(interface: &str, e: pcap::Error) -> anyhow::Error {
    let text = e.to_string();
    let hint = if text.contains("ermission") || text.contains("not permitted") {
        " (live capture needs root or CAP_NET_RAW and CAP_NET_ADMIN: \
         setcap cap_net_raw,cap_net_admin+eip /path/to/vendorwatch)"
    } else {
        ""
    };
    anyhow::anyhow!("cannot capture on interface {interface}: {text}{hint}")
}

/// The only unsafe code of the crate: `setsockopt(PACKET_FANOUT)`, which
/// libpcap has no call for, and `poll(2)` on the handle's descriptor.
mod sys {
    #![allow(unsafe_code)]

    use std::io;
    use std::os::fd::RawFd;
    use std::time::Duration;

    // From <linux/if_packet.h>; kernel ABI, stable since Linux 3.1.
    const PACKET_FANOUT: libc::c_int = 18;
    const PACKET_FANOUT_HASH: libc::c_int = 0;
    /// Reassembles IP fragments before hashing, so a flow's fragments reach
    /// the same worker as its other packets.
    const PACKET_FANOUT_FLAG_DEFRAG: libc::c_int = 0x8000;

    /// Joins the packet socket `fd` to fanout group `group` in hash mode.
    pub fn join_fanout(fd: RawFd, group: u16) -> io::Result<()> {
        let arg: libc::c_int = libc::c_int::from(group) | ((PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
        // SAFETY: `fd` is the open AF_PACKET socket of a live pcap handle
        // that outlives this call; `arg` is an initialised c_int on our
        // stack and the length passed is exactly its size, which is what
        // the kernel reads for PACKET_FANOUT.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_PACKET,
                PACKET_FANOUT,
                (&raw const arg).cast::<libc::c_void>(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    /// Waits until `fd` is readable or `timeout` passes; true if readable.
    pub fn wait_readable(fd: RawFd, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
        let ms = libc::c_int::try_from(timeout.as_millis()).unwrap_or(libc::c_int::MAX);
        // SAFETY: `pfd` is one valid, initialised pollfd on our stack and
        // the count passed is 1; poll only writes its `revents` field.
        let rc = unsafe { libc::poll(&raw mut pfd, 1, ms) };
        match rc {
            0 => Ok(false),
            n if n > 0 => Ok(true),
            _ => Err(io::Error::last_os_error()),
        }
    }
}

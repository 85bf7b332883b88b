//! Live capture from a network interface through libpcap.
//!
//! On Linux libpcap reads a `TPACKET_V3` memory-mapped ring: the kernel fills
//! blocks of frames and hands over a whole block at once, so a batch of
//! frames costs no copy and no system call per frame. (Immediate mode would
//! make libpcap fall back to `TPACKET_V2`, so a short block timeout is used
//! instead.) Several handles on one interface share its traffic through
//! `PACKET_FANOUT` in hash mode: both directions of a flow hash alike, so
//! each flow is seen by exactly one worker.
//!
//! The handle is non-blocking and waits with `poll(2)` and a timeout: with
//! `TPACKET_V3` a blocking read would wait for the first frame however long
//! that takes, and a sensor on a silent link must still stop promptly.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use pcap::{Active, Capture, Direction, Precision};

use super::{Frame, LinkType};

/// Frames are captured whole: jumbo frames and GRO-merged packets too.
pub const SNAPLEN: i32 = 262_144;
/// Kernel ring per handle.
pub const DEFAULT_RING_BYTES: i32 = 64 << 20;
/// The `TPACKET_V3` block timeout: how long a partly filled block waits
/// before the kernel hands it over on a quiet link.
const BLOCK_TIMEOUT_MS: i32 = 50;
/// Frames per `pcap_dispatch` call, so a busy link still lets the worker
/// look at its stop flag and timers between batches.
pub const BATCH: usize = 4096;

/// How to open one capture handle.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    /// The interface's name.
    pub interface: String,
    /// A BPF filter expression (tcpdump syntax).
    pub bpf: Option<String>,
    /// Joins this `PACKET_FANOUT` group (hash mode) when set.
    pub fanout_group: Option<u16>,
    /// The kernel ring's size ([`DEFAULT_RING_BYTES`]).
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
    pub fn open(opts: &CaptureOptions, interface: u32) -> Result<LiveCapture, OpenError> {
        let name = &opts.interface;
        let failed = |step: Step| {
            let interface = name.clone();
            move |cause| OpenError { interface, step, cause }
        };
        let inactive = Capture::from_device(name.as_str())
            .map_err(|e| failed(Step::Device)(e.into()))?
            .promisc(true)
            .snaplen(SNAPLEN)
            .buffer_size(opts.ring_bytes)
            .timeout(BLOCK_TIMEOUT_MS)
            .precision(Precision::Nano);
        let cap = inactive.open().map_err(|e| failed(Step::Activate)(e.into()))?;
        let mut cap = cap.setnonblock().map_err(|e| failed(Step::NonBlocking)(e.into()))?;
        cap.direction(Direction::In).map_err(|e| failed(Step::Direction)(e.into()))?;
        if let Some(expr) = &opts.bpf {
            cap.filter(expr, true).map_err(|e| failed(Step::Filter(expr.clone()))(e.into()))?;
        }
        let fd = cap.as_raw_fd();
        if let Some(group) = opts.fanout_group {
            sys::join_fanout(fd, group).map_err(|e| failed(Step::Fanout(group))(e.into()))?;
        }
        // A negative link type is no link type: u32::MAX is none either.
        let link = LinkType::from_number(u32::try_from(cap.get_datalink().0).unwrap_or(u32::MAX));
        Ok(LiveCapture { cap, fd, link, interface, last_raw: [0; 3], totals: CaptureStats::default() })
    }

    /// The interface's link layer.
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
            // A stamp before 1970 is a broken clock: counted as the epoch.
            let (secs, nanos) = (u64::try_from(ts.tv_sec).unwrap_or(0), u64::try_from(ts.tv_usec).unwrap_or(0));
            let ts_ns = secs.saturating_mul(1_000_000_000).saturating_add(nanos);
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

/// Why an interface could not be opened for capture. The message is
/// whole (what was tried, and libpcap's or the kernel's reason), so it
/// reads the same however it is printed.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.message())]
pub struct OpenError {
    /// The interface's name.
    pub interface: String,
    /// What was being done when it failed.
    pub step: Step,
    /// Why that failed.
    pub cause: Cause,
}

/// The steps of [`LiveCapture::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Finding the device.
    Device,
    /// Activating the handle: where permissions are checked.
    Activate,
    /// Making the handle non-blocking.
    NonBlocking,
    /// Selecting incoming frames only.
    Direction,
    /// Compiling and setting this BPF filter.
    Filter(String),
    /// Joining this `PACKET_FANOUT` group.
    Fanout(u16),
}

/// What libpcap or the kernel said.
#[derive(Debug)]
pub enum Cause {
    /// libpcap's error.
    Pcap(pcap::Error),
    /// A system call's error.
    Os(std::io::Error),
}

impl From<pcap::Error> for Cause {
    fn from(e: pcap::Error) -> Self {
        Cause::Pcap(e)
    }
}

impl From<std::io::Error> for Cause {
    fn from(e: std::io::Error) -> Self {
        Cause::Os(e)
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Pcap(e) => e.fmt(f),
            Cause::Os(e) => e.fmt(f),
        }
    }
}

impl OpenError {
    fn message(&self) -> String {
        let (name, cause) = (&self.interface, &self.cause);
        match &self.step {
            Step::Device => format!("interface {name}: {cause}"),
            Step::Activate => {
                let text = cause.to_string();
                let hint = if text.contains("ermission") || text.contains("not permitted") {
                    " (live capture needs root or CAP_NET_RAW: setcap cap_net_raw+ep /path/to/vendorwatch)"
                } else {
                    ""
                };
                format!("cannot capture on interface {name}: {text}{hint}")
            }
            Step::NonBlocking => format!("interface {name}: cannot set non-blocking mode: {cause}"),
            Step::Direction => format!("interface {name}: cannot select incoming frames: {cause}"),
            Step::Filter(expr) => format!("interface {name}: BPF filter {expr:?}: {cause}"),
            Step::Fanout(group) => format!("interface {name}: cannot join PACKET_FANOUT group {group}: {cause}"),
        }
    }
}

/// Who the sensor runs as after [`drop_privileges`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// The user id.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
}

/// Becomes `user` (its uid, its primary group, no supplementary groups),
/// keeping only `CAP_NET_RAW`, so that an interface that vanishes can still be
/// opened again. Call it from the only thread of the process: capabilities
/// are per thread, and threads started later inherit them.
pub fn drop_privileges(user: &str) -> Result<Credentials, PrivilegeError> {
    let who = user.to_owned();
    let (uid, gid) = sys::lookup_user(user)
        .map_err(|cause| PrivilegeError::LookUp { user: who.clone(), cause })?
        .ok_or_else(|| PrivilegeError::NoSuchUser { user: who.clone() })?;
    if uid == 0 {
        return Err(PrivilegeError::Root { user: who });
    }
    if sys::effective_uid() != 0 {
        return Err(PrivilegeError::NotRoot { user: who });
    }
    sys::become_user(uid, gid).map_err(|cause| PrivilegeError::Switch { user: who, uid, gid, cause })?;
    Ok(Credentials { uid, gid })
}

/// Why [`drop_privileges`] could not become the user; the message names
/// the `--user` flag it came from and, where there is one, the OS's reason.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    /// The user database could not be read.
    #[error("--user {user}: cannot look the user up: {cause}")]
    LookUp {
        /// The user named.
        user: String,
        /// The system's reason.
        cause: std::io::Error,
    },
    /// No user has that name.
    #[error("--user {user}: no such user")]
    NoSuchUser {
        /// The user named.
        user: String,
    },
    /// The user named is root: nothing would be dropped.
    #[error("--user {user}: that user is root; name an unprivileged one")]
    Root {
        /// The user named.
        user: String,
    },
    /// Only root can change to another user.
    #[error("--user {user}: the sensor must be started as root to change user")]
    NotRoot {
        /// The user named.
        user: String,
    },
    /// The change of user or of capabilities failed.
    #[error("--user {user}: cannot switch to uid {uid}, gid {gid}: {cause}")]
    Switch {
        /// The user named.
        user: String,
        /// Its user id.
        uid: u32,
        /// Its primary group id.
        gid: u32,
        /// The system's reason.
        cause: std::io::Error,
    },
}

/// The only unsafe code of the crate: `setsockopt(PACKET_FANOUT)`, which
/// libpcap has no call for, `poll(2)` on the handle's descriptor, and the
/// calls that change the process's user while keeping `CAP_NET_RAW`.
mod sys {
    #![allow(unsafe_code)]

    use std::ffi::CString;
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
                libc::socklen_t::try_from(size_of::<libc::c_int>()).expect("a c_int's size fits a socklen_t"),
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

    /// `CAP_NET_RAW` from <linux/capability.h>.
    const CAP_NET_RAW: u32 = 13;
    /// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets as two 32-bit halves.
    const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

    #[repr(C)]
    struct CapHeader {
        version: u32,
        pid: libc::c_int,
    }

    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct CapData {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }

    pub fn effective_uid() -> u32 {
        // SAFETY: geteuid takes no arguments and cannot fail.
        unsafe { libc::geteuid() }
    }

    /// The uid and primary gid of `name` through the system's user database
    /// (NSS: /etc/passwd, LDAP, ...); None if there is no such user.
    pub fn lookup_user(name: &str) -> io::Result<Option<(u32, u32)>> {
        let name = CString::new(name).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in user name"))?;
        let mut buf = vec![0 as libc::c_char; 16 * 1024];
        loop {
            // SAFETY: an all-zero passwd is a valid value of the plain C
            // struct; getpwnam_r fills it.
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: `name` is a NUL-terminated string; `pwd`, `buf` (of the
            // length passed) and `result` are valid for writes for the whole
            // call, and `pwd`'s string fields point into `buf`, which we do
            // not read through them.
            let rc =
                unsafe { libc::getpwnam_r(name.as_ptr(), &raw mut pwd, buf.as_mut_ptr(), buf.len(), &raw mut result) };
            match rc {
                0 if result.is_null() => return Ok(None),
                0 => return Ok(Some((pwd.pw_uid, pwd.pw_gid))),
                libc::ERANGE if buf.len() < 1 << 20 => buf.resize(buf.len() * 4, 0),
                libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(None),
                e => return Err(io::Error::from_raw_os_error(e)),
            }
        }
    }

    fn check(rc: libc::c_int) -> io::Result<()> {
        if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
    }

    /// Switches to `uid`/`gid` (no supplementary groups) keeping `CAP_NET_RAW`
    /// permitted and effective, and nothing else.
    pub fn become_user(uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: each call takes plain integers or a pointer to one gid on
        // our stack with the count 1; none retains a pointer.
        unsafe {
            // Keep the permitted set across setuid, so CAP_NET_RAW can stay.
            check(libc::prctl(libc::PR_SET_KEEPCAPS, 1 as libc::c_ulong, 0, 0, 0))?;
            check(libc::setgroups(1, &raw const gid))?;
            check(libc::setgid(gid))?;
            check(libc::setuid(uid))?;
            check(libc::prctl(libc::PR_SET_KEEPCAPS, 0 as libc::c_ulong, 0, 0, 0))?;
        }
        let mut header = CapHeader { version: CAPABILITY_VERSION_3, pid: 0 };
        let mut data = [CapData::default(); 2];
        data[0].effective = 1 << CAP_NET_RAW;
        data[0].permitted = 1 << CAP_NET_RAW;
        // SAFETY: capset reads one header and, for version 3, two data
        // structs: both are initialised, repr(C) as in the kernel's ABI,
        // and live on our stack for the call.
        let rc = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, data.as_mut_ptr()) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        // Root cannot be regained: if it could, the switch did not happen.
        // SAFETY: setuid takes an integer; on success we refuse to go on.
        if unsafe { libc::setuid(0) } == 0 {
            return Err(io::Error::other("still able to become root after the switch"));
        }
        Ok(())
    }
}

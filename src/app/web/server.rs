//! The accept loop and the connections: HTTP/1.1 over TCP or TLS, each
//! connection under a cap, a header-read timeout and an idle timeout.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use super::{ConfigCell, WebConfig, WebOptions};
use crate::app::live::{Live, lock};

/// Descriptors kept free for everything but connections (capture sockets,
/// files, the runtime's own).
const RESERVED_DESCRIPTORS: usize = 64;
/// Bytes of request head a connection buffers at most.
const MAX_REQUEST_HEAD: usize = 32 * 1024;
/// How long requests in flight get to finish when the sensor stops.
const STOP_GRACE: Duration = Duration::from_millis(400);

/// What a request knows of its connection.
#[derive(Clone)]
pub(crate) struct ConnContext {
    pub tls: bool,
    pub config: Arc<WebConfig>,
}

/// The running endpoint.
pub(crate) struct Server {
    pub task: JoinHandle<()>,
    /// `http` or `https`.
    pub scheme: &'static str,
}

/// Loads the web config (an error is the caller's to report: nothing is
/// served) and serves `listener` until `stop` turns true.
pub(crate) fn spawn(
    listener: TcpListener,
    live: Arc<Live>,
    options: &WebOptions,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<Server> {
    let config = ConfigCell::new(options.config_file.as_deref())?;
    let scheme = config.current().scheme();
    let listen = listener.local_addr().context("the listening socket has no address")?;
    let router = super::super::http::router(live, options, listen);
    let max_connections = fit_descriptor_limit(options.max_connections);
    if max_connections < options.max_connections {
        eprintln!(
            "vendorwatch: at most {max_connections} HTTP connections (--web.max-connections {}), to fit the open file limit",
            options.max_connections
        );
    }
    let conns = Arc::new(Connections::new(max_connections));
    let accept = Accept { listener, config, router, conns, options: options.clone(), stop };
    Ok(Server { task: tokio::spawn(accept.run()), scheme })
}

/// The soft `RLIMIT_NOFILE`, from /proc (no unsafe call needed).
fn descriptor_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..].split_whitespace().next()?.parse().ok()
}

fn fit_descriptor_limit(wanted: usize) -> usize {
    let fitted = match descriptor_limit() {
        Some(limit) => wanted.min(limit.saturating_sub(RESERVED_DESCRIPTORS)),
        None => wanted,
    };
    fitted.max(1)
}

struct Accept {
    listener: TcpListener,
    config: ConfigCell,
    router: Router,
    conns: Arc<Connections>,
    options: WebOptions,
    stop: watch::Receiver<bool>,
}

impl Accept {
    async fn run(mut self) {
        let mut last_error_log: Option<Instant> = None;
        loop {
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                _ = self.stop.wait_for(|s| *s) => return,
            };
            let tcp = match accepted {
                Ok((tcp, _peer)) => tcp,
                Err(e) => {
                    // Out of descriptors (EMFILE, ENFILE) or a connection
                    // reset before it was accepted: free one and go on.
                    if last_error_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
                        eprintln!("vendorwatch: http: accept failed: {e}");
                        last_error_log = Some(Instant::now());
                    }
                    self.conns.evict_idlest();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            };
            let _ = tcp.set_nodelay(true);
            let slot = self.conns.admit();
            let conn = Connection {
                slot,
                config: self.config.current(),
                router: self.router.clone(),
                read_header_timeout: self.options.read_header_timeout,
                idle_timeout: self.options.idle_timeout,
                stop: self.stop.clone(),
            };
            tokio::spawn(conn.run(tcp));
        }
    }
}

/// Milliseconds since the endpoint started: when a connection last moved
/// a byte.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        self.last_ms.store(self.elapsed_ms(), Ordering::Relaxed);
    }

    fn last(&self) -> u64 {
        self.last_ms.load(Ordering::Relaxed)
    }

    fn idle_for(&self) -> Duration {
        Duration::from_millis(self.elapsed_ms().saturating_sub(self.last()))
    }

    /// Milliseconds since `epoch`, saturating (u64 of them is 584 million years).
    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// The open connections, for the cap.
struct Connections {
    cap: usize,
    epoch: Instant,
    inner: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    next_id: u64,
    by_id: HashMap<u64, (Arc<Activity>, Arc<Notify>)>,
}

/// A connection's place under the cap; given back on drop.
struct Slot {
    id: u64,
    conns: Arc<Connections>,
    activity: Arc<Activity>,
    /// Notified when a newer connection needs the place.
    evicted: Arc<Notify>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.conns.inner).by_id.remove(&self.id);
    }
}

impl Connections {
    fn new(cap: usize) -> Self {
        Connections { cap, epoch: Instant::now(), inner: Mutex::new(Open::default()) }
    }

    /// A place for a new connection; at the cap, the connection idle the
    /// longest is told to close and gives its place up at once.
    fn admit(self: &Arc<Self>) -> Slot {
        let mut open = lock(&self.inner);
        while open.by_id.len() >= self.cap {
            if !evict(&mut open) {
                break;
            }
        }
        let id = open.next_id;
        open.next_id += 1;
        let activity = Arc::new(Activity { epoch: self.epoch, last_ms: AtomicU64::new(0) });
        activity.touch();
        let evicted = Arc::new(Notify::new());
        open.by_id.insert(id, (activity.clone(), evicted.clone()));
        Slot { id, conns: self.clone(), activity, evicted }
    }

    fn evict_idlest(&self) {
        evict(&mut lock(&self.inner));
    }
}

fn evict(open: &mut Open) -> bool {
    let Some(id) = open.by_id.iter().min_by_key(|(_, (a, _))| a.last()).map(|(id, _)| *id) else { return false };
    if let Some((_, evicted)) = open.by_id.remove(&id) {
        // notify_one keeps the wake-up for a task not yet waiting.
        evicted.notify_one();
    }
    true
}

/// A stream that records when it last moved a byte.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

struct Connection {
    slot: Slot,
    config: Arc<WebConfig>,
    router: Router,
    read_header_timeout: Duration,
    idle_timeout: Duration,
    stop: watch::Receiver<bool>,
}

impl Connection {
    async fn run(self, tcp: tokio::net::TcpStream) {
        let io = Tracked { inner: tcp, activity: self.slot.activity.clone() };
        match self.config.tls.clone() {
            None => self.http(io, false).await,
            Some(tls) => {
                let handshake = tokio_rustls::TlsAcceptor::from(tls).accept(io);
                let stream = tokio::select! {
                    r = tokio::time::timeout(self.read_header_timeout, handshake) => r,
                    () = self.slot.evicted.notified() => return,
                };
                if let Ok(Ok(stream)) = stream {
                    self.http(stream, true).await;
                }
            }
        }
    }

    async fn http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(mut self, io: S, tls: bool) {
        let context = ConnContext { tls, config: self.config.clone() };
        let router = self.router.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(context.clone());
            let mut router = router.clone();
            tower_service::Service::call(&mut router, req)
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.read_header_timeout)
            .max_buf_size(MAX_REQUEST_HEAD)
            .serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        let mut idle_check = tokio::time::interval((self.idle_timeout / 4).max(Duration::from_millis(250)));
        let stopping = loop {
            tokio::select! {
                _ = conn.as_mut() => return,
                () = self.slot.evicted.notified() => return,
                _ = idle_check.tick() => {
                    if self.slot.activity.idle_for() >= self.idle_timeout {
                        return;
                    }
                }
                stopped = self.stop.wait_for(|s| *s) => break stopped.is_ok(),
            }
        };
        if stopping {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(STOP_GRACE, conn.as_mut()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_the_cap_the_idlest_connection_goes() {
        let conns = Arc::new(Connections::new(2));
        let a = conns.admit();
        std::thread::sleep(Duration::from_millis(5));
        let b = conns.admit();
        std::thread::sleep(Duration::from_millis(5));
        a.activity.touch();
        let c = conns.admit();
        assert_eq!(lock(&conns.inner).by_id.len(), 2);
        assert!(lock(&conns.inner).by_id.contains_key(&a.id), "a moved a byte after b");
        assert!(!lock(&conns.inner).by_id.contains_key(&b.id), "b was idle the longest");
        drop((a, b, c));
        assert!(lock(&conns.inner).by_id.is_empty(), "places are given back");
    }

    #[test]
    fn the_cap_fits_the_descriptor_limit() {
        let limit = descriptor_limit().expect("/proc/self/limits");
        assert_eq!(fit_descriptor_limit(usize::MAX), limit - RESERVED_DESCRIPTORS);
        assert_eq!(fit_descriptor_limit(3), 3.min(limit - RESERVED_DESCRIPTORS).max(1));
    }
}

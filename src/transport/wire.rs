//! The bytes on the socket: our own TCP transport under ureq's connector chain, and the facts
//! about one connection that decide `delivery` (docs/abi.md): how many bytes went out on it,
//! and, when it dies, whether the peer's TCP stack acknowledged any byte of the request.
//!
//! ureq's own TCP transport costs 10 syscalls per warm call on Linux: a liveness probe that
//! toggles non-blocking mode (ioctl, recvfrom, ioctl) twice, a read and a write timeout set
//! again every call (2 setsockopt), then the write and the read that do the work. This one
//! probes with one non-blocking MSG_PEEK before every reuse, writes, and reads (3 syscalls),
//! with socket timeouts set only when the remaining budget no longer fits them.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport as Wire,
};

// Counts this thread's socket syscalls made here, for the unit test that proves the lean path
// (`bash bench/run.sh` counts all of them with strace).
#[cfg(test)]
thread_local! {
    pub(super) static SYSCALLS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

#[inline]
fn syscall() {
    #[cfg(test)]
    SYSCALLS.with(|c| c.set(c.get() + 1));
}

/// What is known of one connection's socket, shared by the transport that writes on it and the
/// pool that judges a failed exchange.
#[derive(Debug)]
pub(super) struct Side {
    /// Bytes written to the socket over the connection's life (TLS records, a proxy's CONNECT
    /// and every request): the peer's cumulative acknowledgement is compared with it.
    written: AtomicU64,
    /// A read returned end-of-stream: the peer sent its FIN.
    peer_fin: AtomicBool,
    /// Our own socket, when the connection is direct or through an HTTP proxy; None under
    /// SOCKS, whose socket is the SOCKS connector's.
    stream: Option<Arc<TcpStream>>,
}

impl Side {
    fn new(stream: Option<Arc<TcpStream>>) -> Arc<Side> {
        Arc::new(Side {
            written: AtomicU64::new(0),
            peer_fin: AtomicBool::new(false),
            stream,
        })
    }

    /// Bytes written on this connection so far.
    pub(super) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    fn add_written(&self, n: usize) {
        self.written.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// After an exchange failed with bytes of its request written (everything from byte
    /// `before` of the connection on), and nothing of an answer read: can the gateway hold any
    /// of them? Only a peer that sent its FIN and then refused the bytes with an RST, its TCP
    /// stack never having acknowledged one of them, provably did not read the request: the
    /// FIN says the server closed its socket (a server that only half-closed and reads on
    /// acknowledges what it reads), the RST that the bytes met a closed socket. An RST with no
    /// FIN before it proves nothing (a middlebox can forge one while the request still reaches
    /// the gateway), and a silent peer may still read it: both stay `Maybe`. Waits at most
    /// until `until` for the RST or an acknowledgement to arrive.
    pub(super) fn judge(&self, before: u64, until: Instant) -> Verdict {
        let sent = self.written().saturating_sub(before);
        if sent == 0 {
            return Verdict::Nothing;
        }
        let Some(stream) = &self.stream else {
            return Verdict::Maybe(format!(
                "{sent} request bytes were written through a proxy socket libwdt cannot inspect"
            ));
        };
        if !self.peer_fin.load(Ordering::Relaxed) {
            return Verdict::Maybe(format!("{sent} request bytes were written"));
        }
        loop {
            let Some(info) = tcp::info(stream) else {
                return Verdict::Maybe(format!(
                    "{sent} request bytes were written; this system does not say whether the gateway acknowledged them"
                ));
            };
            if info.unacked < sent {
                return Verdict::Maybe(format!(
                    "the gateway acknowledged {} of the {sent} request bytes before it closed the connection",
                    sent - info.unacked
                ));
            }
            if info.closed {
                return Verdict::NotAcked { sent };
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Verdict::Maybe(format!(
                    "the gateway closed the connection with {sent} request bytes written and neither acknowledged nor refused them in time"
                ));
            }
            tcp::wait_hangup(stream, left.min(Duration::from_millis(10)));
        }
    }
}

/// What a failed exchange's request bytes can have done (docs/abi.md, "delivery").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Verdict {
    /// No byte of the request reached a socket.
    Nothing,
    /// Bytes were written, but the peer had closed its socket and its TCP stack acknowledged
    /// none of them: the gateway cannot have read the request.
    NotAcked { sent: u64 },
    /// The gateway may hold request bytes; why.
    Maybe(String),
}

thread_local! {
    /// The side of the connection the connector chain just opened on this thread: the chain is
    /// ureq's and returns only the transport, so the side is handed back to `connect.rs` here
    /// (every connector of the chain runs on the calling thread).
    static OPENED: RefCell<Option<Arc<Side>>> = const { RefCell::new(None) };
}

/// Forgets a side left by an earlier chain run on this thread.
pub(super) fn clear_opened() {
    OPENED.with(|o| o.borrow_mut().take());
}

/// The side of the connection the chain opened since `clear_opened`.
pub(super) fn take_opened() -> Option<Arc<Side>> {
    OPENED.with(|o| o.borrow_mut().take())
}

/// Opens the TCP connection for direct and HTTP-proxy connections. A transport made by an
/// earlier connector (SOCKS) is wrapped so its writes still count as socket bytes.
#[derive(Debug)]
pub(super) struct LeanTcpConnector;

impl<In: Wire> Connector<In> for LeanTcpConnector {
    type Out = Either<Counted<In>, LeanTcp>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(inner) = chained {
            // Under an HTTP CONNECT proxy the tunnel runs over a LeanTcp of ours, whose side
            // already counts every byte; under SOCKS the socket is not ours and the wrapper
            // counts what is handed to it.
            let own = OPENED.with(|o| o.borrow().is_some());
            let side = (!own).then(|| {
                let side = Side::new(None);
                OPENED.with(|o| *o.borrow_mut() = Some(side.clone()));
                side
            });
            return Ok(Some(Either::A(Counted { inner, side })));
        }
        let stream = connect(&details.addrs, details.timeout)?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let config = details.config;
        let stream = Arc::new(stream);
        (details.register_shutdown)(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>)?;
        let side = Side::new(Some(stream.clone()));
        OPENED.with(|o| *o.borrow_mut() = Some(side.clone()));
        Ok(Some(Either::B(LeanTcp {
            stream,
            side,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// Tries each address in turn, each with an equal share of what is left of the connect budget.
fn connect(addrs: &[SocketAddr], timeout: NextTimeout) -> Result<TcpStream, ureq::Error> {
    let deadline = timeout.not_zero().map(|t| Instant::now() + *t);
    let mut last: Option<ureq::Error> = None;
    for (i, addr) in addrs.iter().enumerate() {
        let result = match deadline {
            None => TcpStream::connect(addr),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let share = left / (addrs.len() - i) as u32;
                TcpStream::connect_timeout(addr, share.max(Duration::from_millis(1)))
            }
        };
        match result {
            Ok(s) => return Ok(s),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                ) =>
            {
                last = Some(ureq::Error::Timeout(timeout.reason));
            }
            Err(e) => last = Some(ureq::Error::Io(e)),
        }
    }
    Err(last.unwrap_or(ureq::Error::Timeout(timeout.reason)))
}

pub(super) struct LeanTcp {
    stream: Arc<TcpStream>,
    side: Arc<Side>,
    buffers: LazyBuffers,
    /// The socket's SO_RCVTIMEO / SO_SNDTIMEO as last set (None: never set, blocking).
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl std::fmt::Debug for LeanTcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeanTcp").finish_non_exhaustive()
    }
}

/// The socket timeout to use for a wait with `left` to go, or None if `current` already fits.
/// A socket timeout never exceeds what is left (a wait cannot overrun the deadline); a wait that
/// times out early is simply resumed. Setting it to 7/8 of the budget, not all of it, leaves room
/// for the next call's budget (which starts a few microseconds shorter than this one's) to fit
/// the same value: no setsockopt per call on a warm connection.
fn fit_timeout(current: Option<Duration>, left: Duration) -> Option<Duration> {
    if let Some(q) = current {
        if q <= left && q >= left / 4 {
            return None;
        }
    }
    let target = if left >= Duration::from_millis(8) {
        left - left / 8
    } else {
        left
    };
    Some(target.max(Duration::from_micros(1)))
}

/// Waits for I/O with `op` until it makes progress or the deadline passes.
fn with_deadline<T>(
    timeout: NextTimeout,
    current: &mut Option<Duration>,
    stream: &TcpStream,
    set: fn(&TcpStream, Option<Duration>) -> io::Result<()>,
    mut op: impl FnMut(&TcpStream) -> io::Result<T>,
) -> Result<T, ureq::Error> {
    let deadline = match timeout.not_zero() {
        None => None,
        Some(_) if timeout.after.is_zero() => return Err(ureq::Error::Timeout(timeout.reason)),
        Some(t) => Some(Instant::now() + *t),
    };
    loop {
        match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(timeout.reason));
                }
                if let Some(q) = fit_timeout(*current, left) {
                    syscall();
                    set(stream, Some(q))?;
                    *current = Some(q);
                }
            }
            None if current.is_some() => {
                syscall();
                set(stream, None)?;
                *current = None;
            }
            None => {}
        }
        syscall();
        match op(stream) {
            Ok(v) => return Ok(v),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                ) =>
            {
                continue
            }
            Err(e) => return Err(ureq::Error::Io(e)),
        }
    }
}

impl Wire for LeanTcp {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        let mut done = 0;
        while done < amount {
            let output = &self.buffers.output()[done..amount];
            let n = with_deadline(
                timeout,
                &mut self.write_timeout,
                &self.stream,
                TcpStream::set_write_timeout,
                |mut s| s.write(output),
            )?;
            if n == 0 {
                return Err(ureq::Error::Io(io::ErrorKind::WriteZero.into()));
            }
            self.side.add_written(n);
            done += n;
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = timeout.for_read();
        let input = self.buffers.input_append_buf();
        let n = with_deadline(
            timeout,
            &mut self.read_timeout,
            &self.stream,
            TcpStream::set_read_timeout,
            |mut s| s.read(input),
        )?;
        self.buffers.input_appended(n);
        if n == 0 {
            self.side.peer_fin.store(true, Ordering::Relaxed);
        }
        Ok(n > 0)
    }

    /// Asked before every reuse: a byte waiting on a connection between exchanges is one the
    /// library did not ask for (a second answer, a body longer than its length, an answer
    /// after a 204), and reading it as the next request's answer would hand a call another
    /// call's outcome; a FIN or RST means the server is gone. Either retires the connection.
    fn is_open(&mut self) -> bool {
        probe(&self.stream)
    }
}

/// True when the peer has neither closed the connection nor sent anything unasked: one
/// non-blocking MSG_PEEK, without toggling the socket's blocking mode.
#[cfg(unix)]
#[allow(unsafe_code)] // one recv(2) on a socket we own, into a stack byte
fn probe(stream: &TcpStream) -> bool {
    use std::os::unix::io::AsRawFd;
    syscall();
    let mut byte = 0u8;
    // SAFETY: the fd is open for the lifetime of `stream`; the buffer is one valid byte.
    let n = unsafe {
        libc::recv(
            stream.as_raw_fd(),
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    n < 0 && {
        let e = io::Error::last_os_error();
        e.kind() == io::ErrorKind::WouldBlock
    }
}

#[cfg(not(unix))]
fn probe(stream: &TcpStream) -> bool {
    if stream.set_nonblocking(true).is_err() {
        return false;
    }
    let open = matches!(stream.peek(&mut [0u8]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
    stream.set_nonblocking(false).is_ok() && open
}

/// A transport another connector opened: a CONNECT tunnel over our own TCP transport (which
/// counts its bytes itself), or a SOCKS connection, whose writes are counted here, a failed
/// write conservatively in full, since we cannot know how much of it left.
#[derive(Debug)]
pub(super) struct Counted<T> {
    inner: T,
    side: Option<Arc<Side>>,
}

impl<T: Wire> Wire for Counted<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let result = self.inner.transmit_output(amount, timeout);
        if let Some(side) = &self.side {
            side.add_written(amount);
        }
        result
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.inner.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

/// What the kernel knows of a TCP connection: Linux's TCP_INFO. Elsewhere nothing is known,
/// and every written request whose connection dies stays `unknown`.
mod tcp {
    use std::net::TcpStream;
    use std::time::Duration;

    pub(super) struct Info {
        /// Bytes written and not acknowledged by the peer (SIOCOUTQ: write_seq - snd_una,
        /// kept after an RST): every byte before them was acknowledged.
        pub(super) unacked: u64,
        /// The connection is closed (TCP_CLOSE): after an RST, nothing more goes out.
        pub(super) closed: bool,
    }

    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)] // getsockopt(2) and ioctl(2) into locals
    pub(super) fn info(stream: &TcpStream) -> Option<Info> {
        use std::os::unix::io::AsRawFd;
        const TCP_CLOSE: u8 = 7;
        let fd = stream.as_raw_fd();
        // tcpi_state is the first byte of Linux's `struct tcp_info` (linux/tcp.h), in every
        // kernel's version of it.
        let mut buf = [0u8; 256];
        let mut len = buf.len() as libc::socklen_t;
        let mut outq: libc::c_int = 0;
        // SAFETY: the fd is open for the lifetime of `stream`; `buf` and `len` are valid and
        // `len` is the buffer's size, which the kernel never exceeds; SIOCOUTQ (TIOCOUTQ on
        // a socket) writes one int.
        let ok = unsafe {
            libc::getsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                buf.as_mut_ptr().cast(),
                &mut len,
            ) == 0
                && len >= 1
                && libc::ioctl(fd, libc::TIOCOUTQ as _, &mut outq) == 0
        };
        if !ok || outq < 0 {
            return None;
        }
        Some(Info {
            unacked: outq as u64,
            closed: buf[0] == TCP_CLOSE,
        })
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn info(_: &TcpStream) -> Option<Info> {
        None
    }

    /// Waits up to `max` for the connection to be hung up (an RST ends it): poll(2) with no
    /// events asked reports only errors and hang-ups, not the readable end-of-stream a FIN
    /// leaves.
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)] // one poll(2) on a socket we own
    pub(super) fn wait_hangup(stream: &TcpStream, max: Duration) {
        use std::os::unix::io::AsRawFd;
        let mut fd = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: 0,
            revents: 0,
        };
        let ms = max.as_millis().clamp(1, 1000) as libc::c_int;
        // SAFETY: one valid pollfd for an fd open for the lifetime of `stream`.
        unsafe { libc::poll(&mut fd, 1, ms) };
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn wait_hangup(_: &TcpStream, max: Duration) {
        std::thread::sleep(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_are_set_only_when_the_budget_no_longer_fits() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        // First use: set below the budget.
        let q = fit_timeout(None, s(30)).unwrap();
        assert!(q < s(30) && q > s(20), "{q:?}");
        // The next call's budget is a little shorter: the same value still fits.
        assert_eq!(fit_timeout(Some(q), s(30) - ms(3)), None);
        // A wait resumed near the deadline must not outlast it.
        let near = fit_timeout(Some(q), ms(500)).unwrap();
        assert!(near <= ms(500));
        // A value left small by a slow call is raised again, once.
        assert!(fit_timeout(Some(ms(5)), s(30)).unwrap() > s(20));
        // Never longer than what is left, even when tiny.
        assert!(fit_timeout(None, ms(3)).unwrap() <= ms(3));
    }
}

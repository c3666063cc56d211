//! The bytes on the socket: our own TCP transport under ureq's connector chain (the lean path
//! on a warm connection), and the per-attempt count of request bytes actually written, from
//! which `delivery` is decided.
//!
//! ureq's own TCP transport costs 10 syscalls per warm call on Linux: a liveness probe that
//! toggles non-blocking mode (ioctl, recvfrom, ioctl) twice, a read and a write timeout set
//! again every call (2 setsockopt), then the write and the read that do the work. This one
//! writes, reads, and probes only a connection that sat idle (one non-blocking MSG_PEEK), with
//! socket timeouts set only when the remaining budget no longer fits them.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, ShutdownHandle,
    Transport as Wire,
};

thread_local! {
    /// Bytes written to any socket by this thread (our TCP transport, or, conservatively, a
    /// transport we did not open). Every write of one attempt happens on the calling thread.
    static SOCKET_BYTES: Cell<u64> = const { Cell::new(0) };
    /// Bytes of the HTTP request of the current attempt that reached a socket: socket bytes
    /// written while the request itself was being transmitted (so TLS handshakes and proxy
    /// CONNECT lines, which happen while connecting, do not count).
    static REQUEST_BYTES: Cell<u64> = const { Cell::new(0) };
}

// Counts this thread's socket syscalls made here, for the unit test that proves the lean path
// (`bash bench/run.sh` counts all of them with strace).
#[cfg(test)]
thread_local! {
    pub(super) static SYSCALLS: Cell<u64> = const { Cell::new(0) };
}

#[inline]
fn syscall() {
    #[cfg(test)]
    SYSCALLS.with(|c| c.set(c.get() + 1));
}

fn add_socket_bytes(n: usize) {
    SOCKET_BYTES.with(|c| c.set(c.get().wrapping_add(n as u64)));
}

/// Starts counting a new attempt's request bytes on this thread.
pub(super) fn begin_attempt() {
    REQUEST_BYTES.with(|c| c.set(0));
}

/// Bytes written to any socket by this thread so far.
pub(super) fn socket_bytes() -> u64 {
    SOCKET_BYTES.with(Cell::get)
}

/// Counts `n` socket bytes written while the request itself was being transmitted.
pub(super) fn add_request_bytes(n: u64) {
    REQUEST_BYTES.with(|c| c.set(c.get().wrapping_add(n)));
}

/// How many request bytes of the current attempt reached a socket (0 means: provably not sent).
pub(super) fn request_bytes_written() -> u64 {
    REQUEST_BYTES.with(Cell::get)
}

/// A pooled connection is probed only after it sat idle this long. A server's keep-alive close
/// comes after seconds; a server that closes right after answering has its FIN here within a
/// few milliseconds on any LAN. Writing into a connection closed in a shorter window is a race
/// no client can see coming: that request is `unknown` and never resent.
#[cfg(not(test))]
const PROBE_AFTER: Duration = Duration::from_millis(5);
/// Longer in the unit test, so a test thread descheduled for a few milliseconds on a busy
/// machine does not turn a back-to-back call into an idle one.
#[cfg(test)]
pub(super) const PROBE_AFTER: Duration = Duration::from_millis(250);

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
            return Ok(Some(Either::A(Counted(inner))));
        }
        let stream = connect(&details.addrs, details.timeout)?;
        if details.config.no_delay() {
            stream.set_nodelay(true)?;
        }
        let config = details.config;
        let stream = Arc::new(stream);
        (details.register_shutdown)(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>)?;
        Ok(Some(Either::B(LeanTcp {
            stream,
            buffers: LazyBuffers::new(config.input_buffer_size(), config.output_buffer_size()),
            read_timeout: None,
            write_timeout: None,
            last_io: Instant::now(),
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
    buffers: LazyBuffers,
    /// The socket's SO_RCVTIMEO / SO_SNDTIMEO as last set (None: never set, blocking).
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    last_io: Instant,
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
            add_socket_bytes(n);
            done += n;
        }
        self.last_io = Instant::now();
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
        self.last_io = Instant::now();
        Ok(n > 0)
    }

    fn is_open(&mut self) -> bool {
        if self.last_io.elapsed() < PROBE_AFTER {
            return true;
        }
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

/// A transport another connector opened (SOCKS): its writes count as socket bytes, a failed
/// write conservatively in full, since we cannot know how much of it left.
#[derive(Debug)]
pub(super) struct Counted<T>(T);

impl<T: Wire> Wire for Counted<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let result = self.0.transmit_output(amount, timeout);
        add_socket_bytes(amount);
        result
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        self.0.is_tls()
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

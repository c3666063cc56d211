//! Where log lines go. A log line must never cost an answer: writing to a closed or broken
//! stderr is ignored, and on Unix a broken pipe must not raise SIGPIPE in the host (its
//! default action kills the till), so the signal is blocked for the write and a pending one
//! is consumed.

use std::io::Write;

/// Writes one line to stderr, ignoring every failure.
pub fn to_stderr(line: &str) {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    without_sigpipe(|| {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    });
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // sigprocmask/sigtimedwait: the only way to keep SIGPIPE off the host
fn without_sigpipe(write: impl FnOnce()) {
    // SAFETY: plain libc calls on stack-allocated, initialised sigset_t values; the mask is
    // restored before returning.
    unsafe {
        let mut pipe: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe);
        libc::sigaddset(&mut pipe, libc::SIGPIPE);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut old) != 0 {
            write();
            return;
        }
        let already_pending = {
            let mut pending: libc::sigset_t = std::mem::zeroed();
            libc::sigpending(&mut pending) == 0 && libc::sigismember(&pending, libc::SIGPIPE) == 1
        };
        write();
        if !already_pending {
            // Consume the SIGPIPE our own write raised, if any, so unblocking does not deliver it.
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let mut pending: libc::sigset_t = std::mem::zeroed();
            if libc::sigpending(&mut pending) == 0
                && libc::sigismember(&pending, libc::SIGPIPE) == 1
            {
                libc::sigtimedwait(&pipe, std::ptr::null_mut(), &zero);
            }
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
}

#[cfg(not(target_os = "linux"))]
fn without_sigpipe(write: impl FnOnce()) {
    write();
}

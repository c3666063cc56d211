//! The optional background worker: one thread per open outbox that flushes on an interval
//! until the handle is closed. A panic inside a flush is caught so the thread keeps its
//! promise to the host (no unwinding out of the library) and simply tries again next time.
//! Also the test-only crash helpers.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::Outbox;
use crate::error::Error;

pub struct Worker {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub fn start(outbox: Arc<Outbox>, every: Duration) -> Result<Worker, Error> {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("wdt-outbox".into())
            .spawn(move || loop {
                {
                    let (lock, cv) = &*flag;
                    let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                    let (guard, _) = cv
                        .wait_timeout_while(guard, every, |stopped| !*stopped)
                        .unwrap_or_else(|p| p.into_inner());
                    if *guard {
                        return;
                    }
                }
                // Errors stay in the entries' history; there is no one to return them to.
                let _ = catch_unwind(AssertUnwindSafe(|| outbox.flush(None)));
            })
            .map_err(|e| {
                Error::config_at(
                    "worker_interval_ms",
                    format_args!("cannot start the outbox worker thread: {e}"),
                )
            })?;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, cv) = &*self.stop;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Ends this process at once, as a power cut would: no destructors, no flush of anything.
#[allow(unsafe_code)] // one libc call; only reachable through the test-only crash hook
pub fn kill_self() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid with a valid signal number has no memory effects.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}

/// Kills this process `after` from now, from another thread: the current call is then cut
/// off wherever it is (request written, answer not yet read).
pub fn kill_after(after: Duration) {
    let _ = std::thread::Builder::new()
        .name("wdt-outbox-crash".into())
        .spawn(move || {
            std::thread::sleep(after);
            kill_self();
        });
}

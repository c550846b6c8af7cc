//! Ctrl-C and SIGTERM: the outputs being written are removed before the process exits.
//!
//! SIGINT, SIGTERM and SIGHUP are blocked in every thread (the mask is inherited by the
//! threads started afterwards) and taken by one watcher thread with `sigwait`, which runs
//! ordinary code: it removes every temporary output ([`aumann::output::discard_staged`]) and
//! exits with 128 + the signal's number, as a shell reports a process killed by it.
//!
//! A signal the process was started with ignored (`nohup` ignores SIGHUP; a shell ignores
//! SIGINT in background jobs) stays ignored: it is neither blocked nor waited for.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

/// Set once the watcher has taken a signal and is removing the outputs on its way to exit.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// When a signal is being handled, wait for the watcher to end the process: an error the
/// command met because its outputs were discarded under it is not the reason it stopped.
pub fn wait_if_stopping() {
    while STOPPING.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// Block the signals in this thread (call before any other thread starts) and start the
/// watcher.
pub fn discard_outputs_on_signal() -> Result<()> {
    let set = signal_set();
    // SAFETY: `set` is an initialised signal set; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    anyhow::ensure!(rc == 0, "cannot block signals (error {rc})");
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || watch(set))?;
    Ok(())
}

/// SIGINT, SIGTERM and SIGHUP, less those the process inherited as ignored.
fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset adds valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            if !ignored(signal) {
                libc::sigaddset(&mut set, signal);
            }
        }
        set
    }
}

/// Whether `signal`'s disposition is "ignore" (inherited from the parent across exec).
fn ignored(signal: libc::c_int) -> bool {
    // SAFETY: a null new action only reads the current one into the zeroed `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0
            && current.sa_sigaction == libc::SIG_IGN
    }
}

fn watch(set: libc::sigset_t) {
    loop {
        let mut signal = 0;
        // SAFETY: `set` is initialised and `signal` is a valid place for the result.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            continue;
        }
        STOPPING.store(true, Ordering::SeqCst);
        aumann::output::discard_staged();
        let name = match signal {
            libc::SIGINT => "interrupted",
            libc::SIGTERM => "terminated",
            _ => "hung up",
        };
        eprintln!("\n{name}: no output written");
        std::process::exit(128 + signal);
    }
}

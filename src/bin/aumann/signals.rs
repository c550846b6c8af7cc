//! Ctrl-C and SIGTERM: the outputs being written are removed before the process exits.
//!
//! SIGINT, SIGTERM and SIGHUP are blocked in every thread (the mask is inherited by the
//! threads started afterwards) and taken by one watcher thread with `sigwait`, which runs
//! ordinary code: it removes every temporary output ([`aumann::output::discard_staged`]) and
//! exits with 128 + the signal's number, as a shell reports a process killed by it.

use anyhow::Result;

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

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the zeroed set; sigaddset adds valid signal numbers.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

fn watch(set: libc::sigset_t) {
    loop {
        let mut signal = 0;
        // SAFETY: `set` is initialised and `signal` is a valid place for the result.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            continue;
        }
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

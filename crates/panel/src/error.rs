//! The panels' error type: a panel folder, a topics file, a followers snapshot or event input
//! that cannot be used, named with its file and line; and the engine's errors, as they came.

use std::path::PathBuf;

use aumann_engine::error::EngineCause;

/// What can go wrong loading, generating or ingesting a panel.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An engine error (a file, a shape, a value), unchanged.
    #[error(transparent)]
    Engine(#[from] aumann_engine::Error),
    /// A panel folder that cannot be used.
    #[error("panel {}: {reason}", path.display())]
    Panel {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
    /// A topics file that cannot be used.
    #[error("{}{}: {reason}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Topics {
        /// The file.
        path: PathBuf,
        /// The line of a syntax error.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A followers snapshot (`did,followers` CSV) that cannot be used.
    #[error("{}:{line}: {reason}", path.display())]
    Followers {
        /// The file.
        path: PathBuf,
        /// The line (1-based).
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Event input that cannot be used as a whole (no event files, say).
    #[error("{}: {reason}", path.display())]
    Events {
        /// The file or folder.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file that stops being readable part way (a truncated compressed file, say).
    #[error(
        "{}: unreadable from byte {offset} of the file on ({source}); {}",
        path.display(),
        read_before(*events)
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes of the file read when the failure came (for a compressed file, at most one
        /// read buffer past the last complete event).
        offset: u64,
        /// Events read from it before the failure.
        events: u64,
        /// The failure.
        source: std::io::Error,
    },
    /// A file none of which can be decoded (compressed with a dictionary not given, say).
    #[error("{}: cannot be decoded: {reason}", path.display())]
    Undecodable {
        /// The file.
        path: PathBuf,
        /// Why, with the likely cause.
        reason: String,
    },
    /// A capture's resume cursor file that cannot be trusted.
    #[error("{}: resume cursor {}{reason}", path.display(), value.as_ref().map(|v| format!("'{v}' ")).unwrap_or_default())]
    Cursor {
        /// The file.
        path: PathBuf,
        /// What it holds (its first 40 characters), if it could be read.
        value: Option<String>,
        /// What is wrong.
        reason: String,
    },
}

impl EngineCause for Error {
    fn engine(&self) -> Option<&aumann_engine::Error> {
        let Self::Engine(e) = self else { return None };
        Some(e)
    }
}

/// What a truncated file gave: its events before the failure, if any.
fn read_before(events: u64) -> String {
    match events {
        0 => "no event of it was read".into(),
        1 => "the event before it was read".into(),
        n => format!("the {n} events before it were read"),
    }
}

/// `Result` with the panels' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

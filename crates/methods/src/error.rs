//! The methods' error type: the engine's errors as they came, a figure that could not be drawn,
//! or a scenario folder that cannot be used.

use std::path::PathBuf;

pub use aumann_report::RenderError;

use aumann_engine::error::EngineCause;

/// What can go wrong simulating, comparing, checking faithfulness or training.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An engine error (a file, a shape, a value, a backend), unchanged.
    #[error(transparent)]
    Engine(#[from] aumann_engine::Error),
    /// An output (a figure, the parameters as JSON) that could not be produced.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// A scenario folder that cannot be used.
    #[error("scenario {}: {reason}", path.display())]
    Scenario {
        /// The file.
        path: PathBuf,
        /// What is wrong and what was expected.
        reason: String,
    },
}

impl EngineCause for Error {
    fn engine(&self) -> Option<&aumann_engine::Error> {
        let Self::Engine(e) = self else { return None };
        Some(e)
    }
}

/// `Result` with the methods' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

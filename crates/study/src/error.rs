//! The study's error type: the engine's and the panels' errors as they came, or a figure that
//! could not be drawn.

pub use aumann_report::RenderError;

use aumann_engine::error::EngineCause;

/// What can go wrong running the study or writing its report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An engine error (a file, a shape, a value), unchanged.
    #[error(transparent)]
    Engine(#[from] aumann_engine::Error),
    /// A panel that cannot be used.
    #[error(transparent)]
    Panel(#[from] aumann_panel::Error),
    /// A figure that could not be drawn.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl EngineCause for Error {
    fn engine(&self) -> Option<&aumann_engine::Error> {
        match self {
            Self::Engine(e) => Some(e),
            Self::Panel(e) => e.engine(),
            Self::Render(_) => None,
        }
    }
}

/// `Result` with the study's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

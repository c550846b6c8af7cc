//! The reports' error: a figure that could not be drawn or encoded.

/// An output (a figure, a table) that could not be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {reason}")]
pub struct RenderError {
    /// Which output.
    pub what: String,
    /// The underlying failure.
    pub reason: String,
}

//! Progress of long work, reported to a caller's callback after each unit of work.

/// `done` of `total` units of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Units finished.
    pub done: usize,
    /// Units in the whole run.
    pub total: usize,
}

//! The tables and figures of aumann's reports: CSV and markdown tables, follower-percentile × day
//! heatmaps and line charts, drawn as PNG with an embedded font (no system font or image
//! library). It knows nothing of attribution: the study and the faithfulness runs hand it
//! numbers and labels.
//!
//! | module | what |
//! |---|---|
//! | [`csv_table`], [`markdown`] | CSV and markdown tables: a header, rows of cells |
//! | [`heatmap`] | heatmaps of attribution mass, and the font and PNG encoding all figures share |
//! | [`lines`] | line charts with interval bands and a logarithmic x axis |
#![warn(missing_docs)]

pub mod csv_table;
pub mod error;
pub mod heatmap;
pub mod lines;
pub mod markdown;

pub use error::RenderError;

/// `Result` with the reports' [`RenderError`].
pub type Result<T, E = RenderError> = std::result::Result<T, E>;

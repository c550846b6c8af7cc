//! Real data: Bluesky's Jetstream event stream read into the study's features.
//!
//! Jetstream (v1 `/subscribe` wire) sends one JSON object per event, stored one per line
//! (JSONL): a commit (one record created, updated or deleted in a user's repository), an
//! identity change, or an account status change. [`event`] parses a line into the fields the
//! panel needs; [`reader`] streams lines, counting what it cannot read instead of stopping at
//! it; [`source`] opens files as written or zstd-compressed; [`files`] reads many of them;
//! [`topics`] says which posts are about what; [`records`] keeps what counting needs and
//! [`build`] counts it into a panel; [`clock`] says which timestamps are plausible;
//! [`followers`] reads a followers snapshot; [`capture`] records the live stream, [`tail`]
//! mending the end a crash left on its files.
//!
//! ```text
//! {"did": …, "time_us": µs, "kind": "commit",   "commit": {"rev", "operation", "collection", "rkey", "record"?, "cid"?}}
//! {"did": …, "time_us": µs, "kind": "identity", "identity": {…}}
//! {"did": …, "time_us": µs, "kind": "account",  "account": {"active", "status"?, …}}
//! ```
//!
//! `time_us` is Jetstream's clock (the resume cursor), not the record's `createdAt`; lines are
//! not in `time_us` order; delivery is at least once, so the same event may come twice.

pub mod build;
#[cfg(feature = "capture")]
pub mod capture;
pub mod clock;
pub mod event;
pub mod files;
pub mod followers;
pub mod panel_events;
pub mod reader;
pub mod records;
pub mod source;
pub mod tail;
pub mod topics;

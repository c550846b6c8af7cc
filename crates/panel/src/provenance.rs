//! What built a panel, as its manifest records it: for a panel built from Jetstream events,
//! what the ingest read, dropped and resolved. The records live with the panel (its manifest
//! holds them); the ingest fills them in.

/// What an ingest read, dropped and resolved: the manifest's `ingest` record.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IngestReport {
    /// Events handed to the builder.
    pub events: u64,
    /// Events outside the window (skipped).
    pub outside_window: u64,
    /// Events whose timestamp is not plausible (before 2023, after the wall clock plus a
    /// day; skipped, and never part of a window of the days seen).
    #[serde(default)]
    pub implausible_time: u64,
    /// Second copies of an event already read (dropped).
    pub duplicates: u64,
    /// Deletes matched with their record's create (the record counts for nothing).
    pub deletes_resolved: u64,
    /// Deletes of records whose create was not read (made before the input begins).
    pub deletes_unmatched: u64,
    /// Reposts whose post was not read (their topic cannot be known; not counted).
    pub reposts_unclassified: u64,
    /// How reach was obtained.
    pub reach: String,
    /// Whether reach is the follows-seen approximation rather than a snapshot.
    pub reach_approximate: bool,
    /// Agents given 0 followers because the snapshot has no row for them.
    pub agents_without_snapshot_row: usize,
    /// Accounts that committed a record in the window, before filtering.
    pub accounts_seen: usize,
    /// Each filter and how many accounts it removed, in the order they ran.
    pub filters: Vec<FilterCount>,
    /// What read the files added (files, lines, malformed lines, unknown kinds, …).
    #[serde(default)]
    pub reading: ReadingReport,
}

/// What reading the files found, summed over files.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReadingReport {
    /// Files read.
    pub files: usize,
    /// Bytes read (as stored).
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// Lines that were not events.
    pub malformed: u64,
    /// Events of kinds this reader does not know.
    pub unknown_kinds: u64,
    /// Error frames.
    pub error_frames: u64,
    /// Files that stopped being readable part way (their events up to there were read).
    pub truncated_files: usize,
    /// Files that could not be decoded at all, skipped as asked.
    #[serde(default)]
    pub unreadable_files: usize,
}

/// One filter's effect.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FilterCount {
    /// The filter.
    pub filter: String,
    /// Accounts it removed.
    pub removed: usize,
}

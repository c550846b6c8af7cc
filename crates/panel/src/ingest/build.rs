//! From events to a panel: every event handed to [`PanelBuilder::add`], then
//! [`PanelBuilder::finish`] counts the study's features per account, topic and UTC day.
//!
//! ```text
//! day(event)        = ⌊time_us / 86 400 s⌋                     Jetstream's clock, not createdAt
//! activity_{i,k,t}  = ln(1 + posts and reposts by i on topic k on day t)
//! resonance_{i,k,t} = ln(1 + replies on day t by others to i's posts on topic k)
//! reach_i           = ln(1 + followers_i)                       snapshot, or follows seen
//! posts_7d_i        = posts (replies excluded) and reposts by i, last 7 days of the window
//! replies_7d_i      = replies by others to any post of i, last 7 days of the window
//! ```
//!
//! A post is on topic `k` when its text, facet tags or `tags` match ([`Topics`]); a repost
//! is when the post it reposts, read anywhere in the input, is. A deleted record counts for
//! nothing, whichever of its create and delete is read first; a post's update replaces its
//! topics (the latest revision wins) and keeps its day. Self-replies are not resonance.
//!
//! The agents are the accounts that committed at least one record in the window, less those
//! the [`Filters`] remove, in the order of their DIDs (so the panel does not depend on the
//! order of the input). DIDs leave only through [`Ingested::dids`].
//!
//! The window is the user's ([`Window::Days`]), or the days of the events read
//! ([`Window::Seen`]); then only events with a plausible timestamp ([`IngestConfig::plausible`],
//! see [`super::clock`]) count, so that one corrupt `time_us` cannot stretch the panel over
//! centuries. Events outside either are counted and set aside. A panel has at most
//! [`MAX_DAYS`] days.

use std::collections::HashMap;
use std::ops::Range;

use foldhash::fast::FixedState;

use super::event::{Body, Commit, Event, Operation, Subject};
use super::records::{self, Entry, Post, Records, Target};
use super::topics::Topics;
pub use crate::provenance::{FilterCount, IngestReport, ReadingReport};
use crate::{Manifest, Panel, calendar};
use aumann_engine::array::Array3;
use aumann_engine::error::{Error, Result};

pub use super::clock::MAX_DAYS;

/// `app.bsky.feed.post`.
pub const POST: &str = "app.bsky.feed.post";
/// `app.bsky.feed.repost`.
pub const REPOST: &str = "app.bsky.feed.repost";
/// `app.bsky.feed.like`.
pub const LIKE: &str = "app.bsky.feed.like";
/// `app.bsky.graph.follow`.
pub const FOLLOW: &str = "app.bsky.graph.follow";

/// Account statuses that remove an account from the panel.
pub const INACTIVE: [&str; 4] = ["takendown", "suspended", "deleted", "deactivated"];

/// The days of a panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// From the first to the last UTC day of any event read.
    Seen,
    /// `days` UTC days from `first` (days since 1970-01-01); events outside are skipped.
    Days {
        /// The first day.
        first: i64,
        /// How many days.
        days: usize,
    },
}

/// The first day a window may start on: 0000-01-01.
const FIRST_DAY: i64 = -719_528;
/// The last day a window may end on: 9999-12-31.
const LAST_DAY: i64 = 2_932_896;

impl Window {
    /// `days` days from the date `from` (`YYYY-MM-DD`).
    ///
    /// # Errors
    /// [`Error::Parameter`] for a `from` that is not a date of years 0 to 9999, or `days`
    /// outside `1..=`[`MAX_DAYS`] or running past 9999.
    pub fn starting(from: &str, days: usize) -> Result<Self> {
        let bad = |reason: String| Error::Parameter {
            name: "from",
            value: from.to_string(),
            reason,
        };
        let year = from.trim().split('-').next().unwrap_or_default();
        if year.len() > 4 {
            return Err(bad("years have at most 4 digits (YYYY-MM-DD)".into()));
        }
        let first = calendar::parse(from).map_err(bad)?;
        Window::Days { first, days }.check()
    }

    /// The window, if it can be a panel's.
    ///
    /// # Errors
    /// [`Error::Parameter`] for a window of no day or of more than [`MAX_DAYS`], or one not
    /// within years 0 to 9999.
    pub fn check(self) -> Result<Self> {
        let Window::Days { first, days } = self else {
            return Ok(self);
        };
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(Error::Parameter {
                name: "days",
                value: days.to_string(),
                reason: format!("a window has 1 to {MAX_DAYS} days (100 years)"),
            });
        }
        let last = first.saturating_add(days as i64 - 1);
        if first < FIRST_DAY || last > LAST_DAY {
            return Err(Error::Parameter {
                name: "from",
                value: calendar::label(first.clamp(FIRST_DAY * 2, LAST_DAY * 2)),
                reason: format!("a window of {days} days from it is not within years 0 to 9999"),
            });
        }
        Ok(self)
    }

    /// Whether the UTC day `day` is in the window (every day is in [`Window::Seen`]).
    pub fn contains(self, day: i64) -> bool {
        match self {
            Window::Seen => true,
            Window::Days { first, days } => day
                .checked_sub(first)
                .is_some_and(|t| (0..days as i64).contains(&t)),
        }
    }
}

/// Which accounts a panel leaves out; each filter runs on what the previous ones kept.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Filters {
    /// Accounts taken down, suspended, deleted or deactivated in the window.
    pub inactive: bool,
    /// Accounts posting and reposting more than this many times a day on average over the
    /// window (an automated-account heuristic).
    pub max_daily_posts: Option<f64>,
    /// Accounts with no engagement with another account (a like, repost, reply or follow,
    /// made or received).
    pub engagement: bool,
}

impl Default for Filters {
    fn default() -> Self {
        Self {
            inactive: true,
            max_daily_posts: Some(100.0),
            engagement: true,
        }
    }
}

/// Followers per DID, from a snapshot taken outside the stream.
pub type FollowerCounts = HashMap<String, u64>;

/// How a panel is built.
#[derive(Clone, Debug)]
pub struct IngestConfig {
    /// The days.
    pub window: Window,
    /// Followers per DID; `None` counts the follows seen in the window instead.
    pub followers: Option<FollowerCounts>,
    /// The filters.
    pub filters: Filters,
    /// Timestamps (Unix µs) of the events a [`Window::Seen`] counts; the others are set
    /// aside. A [`Window::Days`] counts the events of its days whatever this says.
    pub plausible: Range<i64>,
}

impl Default for IngestConfig {
    /// The days seen, reach from the follows seen, the default filters, and timestamps from
    /// 2023 to a day past the wall clock.
    fn default() -> Self {
        Self {
            window: Window::Seen,
            followers: None,
            filters: Filters::default(),
            plausible: super::clock::plausible(super::clock::now_us(), super::clock::INGEST_AHEAD),
        }
    }
}

/// A built panel, its agents' DIDs (row order) and what the ingest did.
#[derive(Clone, Debug)]
pub struct Ingested {
    /// The panel.
    pub panel: Panel,
    /// The DID of each agent (row `i` is `dids[i]`): write it only when asked to.
    pub dids: Vec<String>,
}

/// Why no panel can be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// No event fell in the window, or every account was filtered out.
    #[error("no agents: {0}")]
    NoAgents(String),
    /// More topics than a post's topic set holds.
    #[error("{0} topics; at most 64 are supported")]
    TooManyTopics(usize),
    /// A window that cannot be a panel's ([`Window::check`]).
    #[error("{0}")]
    Window(String),
    /// A panel that does not fit in memory.
    #[error("{0}")]
    TooLarge(String),
    /// A window longer than a panel holds.
    #[error("{0} days in the window; a panel holds at most {MAX_DAYS} (100 years)")]
    TooManyDays(u64),
}

/// Per account, what is known before counting.
#[derive(Clone, Copy, Debug, Default)]
struct AccountFlags {
    committed: bool,
    inactive: bool,
    engaged: bool,
}

/// Events in, a panel out.
pub struct PanelBuilder {
    topics: Topics,
    config: IngestConfig,
    index: HashMap<Box<str>, u32, FixedState>,
    dids: Vec<Box<str>>,
    flags: Vec<AccountFlags>,
    records: Records,
    seen: Option<(i32, i32)>,
    report: IngestReport,
}

impl PanelBuilder {
    /// A builder for `topics`.
    ///
    /// # Errors
    /// [`BuildError::TooManyTopics`] past 64 topics; [`BuildError::Window`] for a window
    /// that [`Window::check`] refuses.
    pub fn new(topics: Topics, config: IngestConfig) -> Result<Self, BuildError> {
        if topics.len() > 64 {
            return Err(BuildError::TooManyTopics(topics.len()));
        }
        (config.window.check()).map_err(|e| BuildError::Window(e.to_string()))?;
        Ok(Self {
            topics,
            config,
            index: HashMap::with_hasher(FixedState::with_seed(0x6a65_7473)),
            dids: Vec::new(),
            flags: Vec::new(),
            records: Records::default(),
            seen: None,
            report: IngestReport::default(),
        })
    }

    /// Account index of `did`, new or not.
    fn account(&mut self, did: &str) -> u32 {
        if let Some(&i) = self.index.get(did) {
            return i;
        }
        let i = self.dids.len() as u32;
        self.index.insert(did.into(), i);
        self.dids.push(did.into());
        self.flags.push(AccountFlags::default());
        i
    }

    /// Take one event.
    pub fn add(&mut self, event: Event) {
        self.report.events += 1;
        let Some(day) = self.day_of(event.time_us) else {
            return;
        };
        let seen = self.seen.get_or_insert((day, day));
        *seen = (seen.0.min(day), seen.1.max(day));
        match event.body {
            Body::Commit(commit) => self.commit(&event.did, day, commit),
            Body::Account(a) => {
                let inactive = !a.active && a.status.is_some_and(|s| INACTIVE.contains(&&*s));
                let i = self.account(&event.did) as usize;
                self.flags[i].inactive |= inactive;
            }
            Body::Identity | Body::Unknown(_) => {}
        }
    }

    /// The day of an event at `time_us` if it counts; else counted as set aside.
    fn day_of(&mut self, time_us: i64) -> Option<i32> {
        let day = calendar::day_of_micros(time_us);
        let window = self.config.window;
        if window == Window::Seen && !self.config.plausible.contains(&time_us) {
            self.report.implausible_time += 1;
            return None;
        }
        match i32::try_from(day) {
            Ok(day) if window.contains(i64::from(day)) => Some(day),
            _ => {
                self.report.outside_window += 1;
                None
            }
        }
    }

    fn commit(&mut self, did: &str, day: i32, commit: Commit) {
        let author = self.account(did);
        self.flags[author as usize].committed = true;
        let collection = commit.collection.as_str();
        if collection == LIKE {
            self.like(author, commit);
            return;
        }
        if ![POST, REPOST, FOLLOW].contains(&collection) {
            return;
        }
        let key = records::key(did, collection, &commit.rkey);
        match commit.operation {
            Operation::Delete => self.delete(key),
            Operation::Create | Operation::Update => {
                if let Some(entry) = self.entry(author, day, &commit) {
                    self.put(key, entry, commit.operation);
                }
            }
        }
    }

    /// A like is engagement, made and received; nothing of it is kept.
    fn like(&mut self, author: u32, commit: Commit) {
        let subject = commit.record.and_then(|r| r.subject);
        if let Some(Subject::Record(r)) = subject
            && let Some((_, did, _)) = records::key_of_uri(&r.uri)
        {
            let liked = self.account(did);
            if liked != author {
                self.flags[author as usize].engaged = true;
                self.flags[liked as usize].engaged = true;
            }
        }
    }

    /// The entry a create or update makes, if its record says what the panel needs.
    fn entry(&mut self, author: u32, day: i32, commit: &Commit) -> Option<Entry> {
        let record = commit.record.as_ref()?;
        let target = |this: &mut Self, uri: &str| {
            let (key, did, collection) = records::key_of_uri(uri)?;
            (collection == POST).then(|| Target {
                key,
                author: this.account(did),
            })
        };
        Some(match commit.collection.as_str() {
            POST => Entry::Post(Post {
                author,
                day,
                rev: records::tid_order(&commit.rev),
                topics: self.topics.of(record).iter().fold(0, |m, &k| m | 1 << k),
                parent: record
                    .reply
                    .as_ref()
                    .and_then(|r| target(self, &r.parent.uri)),
                created: commit.operation == Operation::Create,
            }),
            REPOST => Entry::Repost {
                author,
                day,
                subject: match &record.subject {
                    Some(Subject::Record(r)) => target(self, &r.uri),
                    _ => None,
                },
            },
            _ => match &record.subject {
                Some(Subject::Account(did)) => Entry::Follow {
                    author,
                    day,
                    subject: self.account(did),
                },
                _ => return None,
            },
        })
    }

    /// Keep `entry` at `key`, resolving it against what is there already.
    fn put(&mut self, key: u64, entry: Entry, operation: Operation) {
        use std::collections::hash_map::Entry as Slot;
        let report = &mut self.report;
        match self.records.entry(key) {
            Slot::Vacant(slot) => {
                slot.insert(entry);
            }
            Slot::Occupied(mut slot) => match (slot.get_mut(), entry) {
                (Entry::Tombstone { created }, _) => {
                    if operation == Operation::Create && !*created {
                        *created = true;
                        report.deletes_resolved += 1;
                    } else {
                        report.duplicates += 1;
                    }
                }
                (Entry::Post(old), Entry::Post(new)) => {
                    let fresh = (new.created && !old.created) || new.rev > old.rev;
                    if !fresh {
                        report.duplicates += 1;
                    }
                    if new.rev > old.rev {
                        old.rev = new.rev;
                        old.topics = new.topics;
                        old.parent = new.parent;
                    }
                    if new.created && !old.created {
                        old.created = true;
                        old.day = new.day;
                    }
                }
                _ => report.duplicates += 1,
            },
        }
    }

    fn delete(&mut self, key: u64) {
        let previous = self
            .records
            .insert(key, Entry::Tombstone { created: false });
        match previous {
            None => {}
            Some(Entry::Tombstone { created }) => {
                self.records.insert(key, Entry::Tombstone { created });
                self.report.duplicates += 1;
            }
            Some(Entry::Post(Post { created: false, .. })) => {}
            Some(_) => {
                self.records.insert(key, Entry::Tombstone { created: true });
                self.report.deletes_resolved += 1;
            }
        }
    }

    /// Count everything and build the panel.
    ///
    /// # Errors
    /// [`BuildError::NoAgents`] when no account committed a record in the window or the
    /// filters removed them all; [`BuildError::TooManyDays`] past [`MAX_DAYS`].
    pub fn finish(self, source: &str, reading: ReadingReport) -> Result<Ingested, BuildError> {
        let Some((seen_first, seen_last)) = self.seen else {
            return Err(BuildError::NoAgents("no event in the window".into()));
        };
        let (first, days) = match self.config.window {
            Window::Seen => {
                let span = i64::from(seen_last) - i64::from(seen_first) + 1;
                (i64::from(seen_first), span as u64)
            }
            Window::Days { first, days } => (first, days as u64),
        };
        if days > MAX_DAYS as u64 {
            return Err(BuildError::TooManyDays(days));
        }
        let days = days as usize;
        let mut counts = Counts::new(self.dids.len(), first, days);
        let mut flags = self.flags;
        let mut report = self.report;
        report.reading = reading;
        counts.count(&self.records, &mut flags, &mut report);
        let (kept, filters) = filter(&flags, &counts, &self.config.filters, days);
        report.accounts_seen = flags.iter().filter(|f| f.committed).count();
        report.filters = filters;
        if kept.is_empty() {
            return Err(BuildError::NoAgents(format!(
                "{} accounts committed records in the window and the filters removed all of them",
                report.accounts_seen
            )));
        }
        let mut kept = kept;
        kept.sort_by(|&a, &b| self.dids[a].cmp(&self.dids[b]));
        let shape = [self.topics.len(), days, kept.len(), 3];
        aumann_engine::limits::allocation("the panel", &shape, 4)
            .map_err(|e| BuildError::TooLarge(e.to_string()))?;
        let followers = reach(&kept, &self.dids, &counts, &self.config, &mut report);
        let panel = counts.panel(&kept, followers, &self.topics, source, report);
        let dids = kept.iter().map(|&i| self.dids[i].to_string()).collect();
        Ok(Ingested { panel, dids })
    }
}

/// Followers per kept agent: from the snapshot, or the follows seen.
fn reach(
    kept: &[usize],
    dids: &[Box<str>],
    counts: &Counts,
    config: &IngestConfig,
    report: &mut IngestReport,
) -> Vec<f64> {
    match &config.followers {
        Some(snapshot) => {
            report.reach = "followers snapshot".into();
            kept.iter()
                .map(|&i| match snapshot.get(&*dids[i]) {
                    Some(&f) => f as f64,
                    None => {
                        report.agents_without_snapshot_row += 1;
                        0.0
                    }
                })
                .collect()
        }
        None => {
            report.reach = "follows seen in the window, less unfollows (an approximation: \
                            followers gained before the window are missing)"
                .into();
            report.reach_approximate = true;
            kept.iter()
                .map(|&i| f64::from(counts.followers[i]))
                .collect()
        }
    }
}

/// Accounts kept (indices) and what each filter removed.
fn filter(
    flags: &[AccountFlags],
    counts: &Counts,
    filters: &Filters,
    days: usize,
) -> (Vec<usize>, Vec<FilterCount>) {
    let mut kept: Vec<usize> = (0..flags.len()).filter(|&i| flags[i].committed).collect();
    let mut applied = Vec::new();
    let mut run = |name: &str, on: bool, keep: &dyn Fn(usize) -> bool| {
        if on {
            let before = kept.len();
            kept.retain(|&i| keep(i));
            applied.push(FilterCount {
                filter: name.into(),
                removed: before - kept.len(),
            });
        }
    };
    run(
        "taken down, suspended, deleted or deactivated in the window",
        filters.inactive,
        &|i| !flags[i].inactive,
    );
    let limit = filters.max_daily_posts.unwrap_or(f64::INFINITY);
    run(
        &format!("more than {limit} posts and reposts a day on average"),
        filters.max_daily_posts.is_some(),
        &|i| f64::from(counts.posts[i]) <= limit * days as f64,
    );
    run(
        "no engagement with another account",
        filters.engagement,
        &|i| flags[i].engaged,
    );
    (kept, applied)
}

/// Counts per account (indexed as the builder's accounts) and per (account, topic, day).
struct Counts {
    first: i64,
    days: usize,
    /// `(account, topic, day) → [posts and reposts, replies received]`.
    cells: HashMap<(u32, u8, u16), [u32; 2], FixedState>,
    posts: Vec<u32>,
    posts_7d: Vec<u32>,
    replies_7d: Vec<u32>,
    followers: Vec<u32>,
}

impl Counts {
    fn new(accounts: usize, first: i64, days: usize) -> Self {
        Self {
            first,
            days,
            cells: HashMap::with_hasher(FixedState::with_seed(0x6365_6c6c)),
            posts: vec![0; accounts],
            posts_7d: vec![0; accounts],
            replies_7d: vec![0; accounts],
            followers: vec![0; accounts],
        }
    }

    /// The window's day index of `day`, if it is in the window.
    fn day(&self, day: i32) -> Option<usize> {
        let t = i64::from(day).checked_sub(self.first)?;
        (0..self.days as i64).contains(&t).then_some(t as usize)
    }

    fn recent(&self, t: usize) -> bool {
        t >= self.days.saturating_sub(7)
    }

    fn add_topics(&mut self, account: u32, topics: u64, t: usize, what: usize) {
        let mut m = topics;
        while m != 0 {
            let k = m.trailing_zeros() as u8;
            self.cells.entry((account, k, t as u16)).or_default()[what] += 1;
            m &= m - 1;
        }
    }

    fn count(&mut self, records: &Records, flags: &mut [AccountFlags], report: &mut IngestReport) {
        let topics_of = |target: &Target| match records.get(&target.key) {
            Some(Entry::Post(p)) => Some(p.topics),
            _ => None,
        };
        for entry in records.values() {
            match *entry {
                Entry::Post(p) if p.created => {
                    let Some(t) = self.day(p.day) else { continue };
                    self.add_topics(p.author, p.topics, t, 0);
                    self.posts[p.author as usize] += 1;
                    match p.parent {
                        Some(parent) if parent.author != p.author => {
                            engage(flags, p.author, parent.author);
                            if self.recent(t) {
                                self.replies_7d[parent.author as usize] += 1;
                            }
                            let on = topics_of(&parent).unwrap_or(0);
                            self.add_topics(parent.author, on, t, 1);
                        }
                        Some(_) => {}
                        None if self.recent(t) => self.posts_7d[p.author as usize] += 1,
                        None => {}
                    }
                }
                Entry::Repost {
                    author,
                    day,
                    subject,
                } => {
                    let Some(t) = self.day(day) else { continue };
                    self.posts[author as usize] += 1;
                    if self.recent(t) {
                        self.posts_7d[author as usize] += 1;
                    }
                    let Some(subject) = subject else { continue };
                    if subject.author != author {
                        engage(flags, author, subject.author);
                    }
                    match topics_of(&subject) {
                        Some(on) => self.add_topics(author, on, t, 0),
                        None => report.reposts_unclassified += 1,
                    }
                }
                Entry::Follow {
                    author,
                    day,
                    subject,
                } => {
                    if self.day(day).is_some() && subject != author {
                        engage(flags, author, subject);
                        self.followers[subject as usize] += 1;
                    }
                }
                Entry::Tombstone { created: false } => report.deletes_unmatched += 1,
                Entry::Post(_) | Entry::Tombstone { .. } => {}
            }
        }
    }

    /// The panel of the `kept` accounts, in that order.
    fn panel(
        &self,
        kept: &[usize],
        followers: Vec<f64>,
        topics: &Topics,
        source: &str,
        report: IngestReport,
    ) -> Panel {
        let (n, days) = (kept.len(), self.days);
        let mut row = vec![u32::MAX; self.posts.len()];
        for (r, &i) in kept.iter().enumerate() {
            row[i] = r as u32;
        }
        let reach: Vec<f32> = followers.iter().map(|f| f.ln_1p() as f32).collect();
        let mut x: Vec<Vec<f32>> = (0..topics.len())
            .map(|_| {
                let mut v = vec![0f32; days * n * 3];
                for t in 0..days {
                    for (r, &f) in reach.iter().enumerate() {
                        v[(t * n + r) * 3] = f;
                    }
                }
                v
            })
            .collect();
        for (&(account, k, t), &[posts, replies]) in &self.cells {
            let r = row[account as usize];
            if r == u32::MAX {
                continue;
            }
            let o = (usize::from(t) * n + r as usize) * 3;
            x[usize::from(k)][o + 1] = f64::from(posts).ln_1p() as f32;
            x[usize::from(k)][o + 2] = f64::from(replies).ln_1p() as f32;
        }
        let per_agent = |v: &[u32]| kept.iter().map(|&i| f64::from(v[i])).collect();
        Panel {
            manifest: Manifest {
                ingest: Some(report),
                ..Manifest::new(
                    n,
                    topics.names().iter().map(|s| s.to_string()).collect(),
                    (0..days)
                        .map(|t| calendar::label(self.first + t as i64))
                        .collect(),
                    source,
                )
            },
            followers,
            posts_7d: Some(per_agent(&self.posts_7d)),
            replies_7d: Some(per_agent(&self.replies_7d)),
            topics: x
                .into_iter()
                .map(|v| Array3::from_f32([days, n, 3], v))
                .collect(),
        }
    }
}

fn engage(flags: &mut [AccountFlags], a: u32, b: u32) {
    flags[a as usize].engaged = true;
    flags[b as usize].engaged = true;
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::ingest::event::Line;

    fn post(did: &str, time_us: i64) -> Event {
        let line = format!(
            r#"{{"did":"{did}","time_us":{time_us},"kind":"commit","commit":{{"rev":"3k","operation":"create","collection":"{POST}","rkey":"3k","record":{{"text":"ai"}}}}}}"#
        );
        match Line::parse(&line) {
            Ok(Line::Event(e)) => e,
            other => panic!("{other:?}"),
        }
    }

    fn builder(window: Window) -> Result<PanelBuilder, BuildError> {
        let topics = Topics::parse("[[topic]]\nname='ai'\nkeywords=['ai']\n", Path::new("t"));
        let config = IngestConfig {
            window,
            filters: Filters {
                inactive: false,
                max_daily_posts: None,
                engagement: false,
            },
            plausible: clock_2026(),
            ..IngestConfig::default()
        };
        PanelBuilder::new(topics.unwrap(), config)
    }

    /// The plausible range on 2026-07-05.
    fn clock_2026() -> Range<i64> {
        let day = calendar::days_from_civil(2026, 7, 5);
        super::super::clock::plausible(day * calendar::MICROS_PER_DAY, Default::default())
    }

    #[test]
    fn extreme_times_are_set_aside_and_the_window_is_the_plausible_days() {
        let mut b = builder(Window::Seen).unwrap();
        let day = calendar::days_from_civil(2026, 7, 1) * calendar::MICROS_PER_DAY;
        for (k, t) in [
            i64::MIN,
            -1,
            0,
            1_600_000_000_000_000,
            day,
            day + 86_400_000_000,
            i64::MAX,
        ]
        .into_iter()
        .enumerate()
        {
            b.add(post(&format!("did:plc:{k}"), t));
        }
        let built = b.finish("t", ReadingReport::default()).unwrap();
        let report = built.panel.manifest.ingest.as_ref().unwrap();
        assert_eq!((report.events, report.implausible_time), (7, 5));
        assert_eq!(
            built.panel.manifest.day_labels,
            ["2026-07-01", "2026-07-02"]
        );
    }

    #[test]
    fn windows_are_bounded_and_their_arithmetic_does_not_wrap() {
        let err = Window::starting("2026-07-01", 1_000_000_000)
            .unwrap_err()
            .to_string();
        assert!(err.contains("1000000000") && err.contains("36525"), "{err}");
        assert!(Window::starting("2026-07-01", 0).is_err());
        assert!(Window::starting("2026-07-01", MAX_DAYS).is_ok());
        let err = Window::starting("99999999999999999-01-01", 3)
            .unwrap_err()
            .to_string();
        assert!(err.contains("99999999999999999"), "{err}");
        assert!(Window::starting("9999-12-30", 3).is_err());
        for first in [i64::MIN, i64::MAX, i64::MAX - 2] {
            let window = Window::Days { first, days: 5 };
            assert!(window.check().is_err(), "{first}");
            assert!(window.contains(first) && !window.contains(0));
            assert!(matches!(builder(window), Err(BuildError::Window(_))));
        }
        let window = Window::Days {
            first: calendar::days_from_civil(2026, 7, 1),
            days: 2,
        };
        let mut b = builder(window).unwrap();
        for (k, t) in [i64::MIN, -1, 0, i64::MAX].into_iter().enumerate() {
            b.add(post(&format!("did:plc:{k}"), t));
        }
        let report = b.report.clone();
        assert_eq!((report.outside_window, report.implausible_time), (4, 0));
        assert!(matches!(
            b.finish("t", ReadingReport::default()),
            Err(BuildError::NoAgents(_))
        ));
    }
}

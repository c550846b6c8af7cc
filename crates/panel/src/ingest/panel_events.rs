//! A panel as the Jetstream events that would have made it: `panel ingest` of what
//! [`write_events`] writes gives back the same panel, so ingest can be checked exactly and its
//! speed measured on any volume.
//!
//! ```text
//! DIR/topics.toml               one [[topic]] per panel topic: keyword and hashtag = its name
//! DIR/followers.csv             did,followers
//! DIR/events/YYYY-MM-DD.jsonl   one file per day (.jsonl.zst when compressed)
//! ```
//!
//! Agent `i` is `did:plc:` and `i` in 24 digits, so the ingest's DID order is row order. On
//! day `t`, for topic `k`, `c = e^{activity} − 1` topic items become `⌈c/2⌉` posts (the
//! topic's name in the text, or as a `#tag` facet every other post) and `⌊c/2⌋` reposts of the
//! first of them; `r = e^{resonance} − 1` replies to that first post come from agents
//! `i + 1, i + 2, …` (mod n), in words of no topic. The 7-day counts beyond the topics become
//! plain posts on the last day with their replies. Every agent follows the next one on the
//! first day, so each has an engagement with another account; reach comes from the snapshot.
//! Optionally every post gets likes from the agents after its author: they change nothing in
//! the panel, and make the stream's mix closer to the real one (mostly likes).

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::{Panel, calendar};
use aumann_engine::Error as EngineError;

/// What [`write_events`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventsWritten {
    /// Event lines.
    pub events: u64,
    /// Of which likes.
    pub likes: u64,
    /// Bytes of JSON lines (before any compression).
    pub bytes: u64,
    /// The day files.
    pub files: Vec<PathBuf>,
}

/// The DID of synthetic agent `i`.
pub fn synthetic_did(i: usize) -> String {
    format!("did:plc:{i:024}")
}

/// How the events are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventsOptions {
    /// Compress the day files with zstd.
    pub compress: bool,
    /// Likes on every post, from the agents after its author (they change no feature: real
    /// streams are mostly likes, and an ingest keeps nothing of them).
    pub likes_per_post: usize,
}

impl EventsOptions {
    /// Check the options can write a panel of `agents` agents: each like comes from a
    /// different agent after the post's author.
    ///
    /// # Errors
    /// [`EngineError::TooLarge`] for more likes per post than there are other agents.
    pub fn check(&self, agents: usize) -> Result<()> {
        let why = "each like comes from a different agent";
        let others = agents.saturating_sub(1);
        Ok(aumann_engine::limits::at_most(
            "likes per post",
            self.likes_per_post,
            others,
            why,
        )?)
    }
}

/// Write `panel` as events under `dir` (created if needed); `progress(day done, days)` after
/// each day.
///
/// # Errors
/// [`EngineError::Io`] naming a file that cannot be written; [`Error::Panel`] if the panel's
/// 7-day counts are smaller than its topic counts of the last 7 days, or it has replies
/// beyond its topics on an agent with no post to reply to (no event stream gives that).
/// [`EngineError::TooLarge`] for more likes per post than there are other agents.
pub fn write_events(
    panel: &Panel,
    dir: &Path,
    options: EventsOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<EventsWritten> {
    options.check(panel.agents())?;
    let compress = options.compress;
    let events_dir = dir.join("events");
    fs::create_dir_all(&events_dir).map_err(|source| EngineError::Io {
        path: events_dir.clone(),
        source,
    })?;
    write_side_files(panel, dir)?;
    let first = calendar::parse(&panel.manifest.day_labels[0]).unwrap_or(0);
    let general = general_counts(panel, &dir.join("followers.csv"))?;
    let mut written = EventsWritten::default();
    let days = panel.days();
    for t in 0..days {
        let name = format!(
            "{}.jsonl{}",
            calendar::label(first + t as i64),
            if compress { ".zst" } else { "" }
        );
        let path = events_dir.join(name);
        let mut day = Day::new(first + t as i64, options.likes_per_post);
        write_day(panel, t, &general, &mut day);
        let bytes = day.out.len() as u64;
        aumann_engine::output::write_atomic(&path, |p| save(p, &day.out, compress))?;
        written.events += day.events;
        written.likes += day.liked;
        written.bytes += bytes;
        written.files.push(path);
        progress(t + 1, days);
    }
    Ok(written)
}

fn write_side_files(panel: &Panel, dir: &Path) -> Result<()> {
    let mut toml = String::new();
    for name in &panel.manifest.topics {
        toml += &format!(
            "[[topic]]\nname = \"{name}\"\nkeywords = [\"{name}\"]\nhashtags = [\"{name}\"]\n\n"
        );
    }
    let mut csv = String::from("did,followers\n");
    for (i, f) in panel.followers.iter().enumerate() {
        csv += &format!("{},{}\n", synthetic_did(i), *f as u64);
    }
    for (name, text) in [("topics.toml", toml), ("followers.csv", csv)] {
        let path = dir.join(name);
        aumann_engine::output::write_atomic(&path, |p| {
            fs::write(p, text).map_err(|source| EngineError::Io {
                path: p.to_path_buf(),
                source,
            })
        })?;
    }
    Ok(())
}

/// The count behind a feature `ln(1 + count)`.
fn count(feature: f64) -> u64 {
    feature.exp_m1().round().max(0.0) as u64
}

/// Per agent, the 7-day posts and replies beyond those of the topics.
fn general_counts(panel: &Panel, path: &Path) -> Result<Vec<(u64, u64)>> {
    let (n, days) = (panel.agents(), panel.days());
    let recent = days.saturating_sub(7);
    let total = |v: &Option<Vec<f64>>| v.clone().unwrap_or_else(|| vec![0.0; n]);
    let (posts, replies) = (total(&panel.posts_7d), total(&panel.replies_7d));
    (0..n)
        .map(|i| {
            let (mut p, mut r) = (posts[i] as i64, replies[i] as i64);
            for x in &panel.topics {
                for t in recent..days {
                    p -= count(x.get(t, i, 1)) as i64;
                    r -= count(x.get(t, i, 2)) as i64;
                }
            }
            if p < 0 || r < 0 || (p == 0 && r > 0) {
                return Err(Error::Panel {
                    path: path.to_path_buf(),
                    reason: format!(
                        "agent {i}: 7-day counts ({}, {}) cannot hold its topic counts as events",
                        posts[i], replies[i]
                    ),
                });
            }
            Ok((p as u64, r as u64))
        })
        .collect()
}

fn save(path: &Path, bytes: &[u8], compress: bool) -> aumann_engine::Result<()> {
    let io = |source| EngineError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::create(path).map_err(io)?;
    if compress {
        let mut encoder = zstd::stream::write::Encoder::new(file, 3).map_err(io)?;
        encoder.write_all(bytes).map_err(io)?;
        encoder.finish().map_err(io)?;
    } else {
        let mut w = BufWriter::new(file);
        w.write_all(bytes).map_err(io)?;
        w.flush().map_err(io)?;
    }
    Ok(())
}

/// One day's lines being written.
struct Day {
    day: i64,
    likes: usize,
    liked: u64,
    clock: i64,
    events: u64,
    out: Vec<u8>,
}

impl Day {
    fn new(day: i64, likes: usize) -> Self {
        Self {
            day,
            likes,
            liked: 0,
            clock: day * calendar::MICROS_PER_DAY,
            events: 0,
            out: Vec::new(),
        }
    }

    /// One commit by agent `i`; returns its record key.
    fn commit(&mut self, i: usize, collection: &str, record: &str) -> String {
        self.clock += 1;
        self.events += 1;
        let tid = tid(self.clock);
        let (y, m, d) = calendar::civil_from_days(self.day);
        let _ = writeln!(
            self.out,
            r#"{{"did":"{}","time_us":{},"kind":"commit","commit":{{"rev":"{tid}","operation":"create","collection":"{collection}","rkey":"{tid}","record":{{"$type":"{collection}","createdAt":"{y:04}-{m:02}-{d:02}T12:00:00.000Z",{record}}},"cid":"bafyreisyntheticrecord"}}}}"#,
            synthetic_did(i),
            self.clock,
        );
        tid
    }

    /// A post by agent `i` of `n`, and its likes; returns its URI.
    fn post(&mut self, i: usize, n: usize, record: &str) -> String {
        let uri = post_uri(i, &self.commit(i, "app.bsky.feed.post", record));
        for m in 0..self.likes {
            let like = format!(r#""subject":{{"cid":"bafyreisyntheticsubject","uri":"{uri}"}}"#);
            self.commit((i + 1 + m % (n - 1)) % n, "app.bsky.feed.like", &like);
            self.liked += 1;
        }
        uri
    }
}

/// A 13-character TID for a clock value (clock identifier 0).
fn tid(clock: i64) -> String {
    super::records::tid((clock as u64) << 10)
}

fn post_uri(i: usize, rkey: &str) -> String {
    format!("at://{}/app.bsky.feed.post/{rkey}", synthetic_did(i))
}

fn write_day(panel: &Panel, t: usize, general: &[(u64, u64)], day: &mut Day) {
    let (n, days) = (panel.agents(), panel.days());
    let subject =
        |uri: &str| format!(r#""subject":{{"cid":"bafyreisyntheticsubject","uri":"{uri}"}}"#);
    let reply = |uri: &str| {
        format!(
            r#""text":"synthetic reply","langs":["en"],"reply":{{"parent":{{"cid":"bafyreisyntheticparent","uri":"{uri}"}},"root":{{"cid":"bafyreisyntheticparent","uri":"{uri}"}}}}"#
        )
    };
    for (i, &(posts, replies)) in general.iter().enumerate() {
        if t == 0 {
            let follow = format!(r#""subject":"{}""#, synthetic_did((i + 1) % n));
            day.commit(i, "app.bsky.graph.follow", &follow);
        }
        for (name, x) in panel.manifest.topics.iter().zip(&panel.topics) {
            let (c, r) = (count(x.get(t, i, 1)), count(x.get(t, i, 2)));
            if c == 0 {
                continue;
            }
            let mut first = String::new();
            for j in 0..c.div_ceil(2) {
                let record = if j % 2 == 0 {
                    format!(r#""text":"synthetic post on {name} today","langs":["en"]"#)
                } else {
                    let tag = name.to_uppercase();
                    format!(
                        r##""text":"synthetic post #{tag}","langs":["en"],"facets":[{{"features":[{{"$type":"app.bsky.richtext.facet#tag","tag":"{tag}"}}],"index":{{"byteEnd":{},"byteStart":15}}}}]"##,
                        16 + tag.len()
                    )
                };
                let uri = day.post(i, n, &record);
                if j == 0 {
                    first = uri;
                }
            }
            for _ in 0..c / 2 {
                day.commit(i, "app.bsky.feed.repost", &subject(&first));
            }
            for m in 0..r as usize {
                day.post((i + 1 + m % (n - 1)) % n, n, &reply(&first));
            }
        }
        if t + 1 == days && posts > 0 {
            let mut first = String::new();
            for j in 0..posts {
                let uri = day.post(i, n, r#""text":"synthetic post","langs":["en"]"#);
                if j == 0 {
                    first = uri;
                }
            }
            for m in 0..replies as usize {
                day.post((i + 1 + m % (n - 1)) % n, n, &reply(&first));
            }
        }
    }
}

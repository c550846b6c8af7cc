//! Panels: one population of agents observed over `T` days on several topics, the input of
//! the cross-scale study; built from a generator ([`synth`]) or from Bluesky's Jetstream
//! events ([`ingest`], with live capture behind the `capture` feature).
//!
//! A panel is a folder of `.npy` arrays and a JSON manifest, so a notebook opens it with
//! `numpy.load` and `json.load`:
//!
//! ```text
//! manifest.json        format, agents n, days T, topic names, day labels, feature names,
//!                      source, seed, for a generated panel the generator's couplings, and
//!                      for a panel built from events what its ingest read, dropped,
//!                      resolved and filtered
//! followers.npy        [n]        follower count per agent (integer or float, ≥ 0)
//! topics/<topic>.npy   [T, n, 3]  per day: reach = ln(1 + followers),
//!                                 activity = ln(1 + topic posts and reposts that day),
//!                                 resonance = ln(1 + replies received on them that day)
//! posts_7d.npy         [n]        optional: posts in the last 7 days (any topic)
//! replies_7d.npy       [n]        optional: replies received in the last 7 days
//! ```
//!
//! Loading checks everything before anything is computed: a missing array, a shape that does
//! not match the manifest, a negative count or feature, or a NaN is refused with the file's
//! name (and the day, agent and coordinate where one applies). Agent identifiers never appear
//! in a panel: agents are rows.

#![warn(missing_docs)]

pub mod calendar;
pub mod error;
pub mod ingest;
pub mod provenance;
pub mod synth;

pub use error::{Error, Result};

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use aumann_engine::Error as EngineError;
use aumann_engine::array::{Array3, Values};
use aumann_engine::npy;
use aumann_engine::output;

/// The manifest's `format` value.
pub const FORMAT: &str = "aumann-panel";

/// The three features of every topic array, in order.
pub const FEATURES: [&str; 3] = ["reach", "activity", "resonance"];

/// `manifest.json`: what the arrays hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// Format version (1).
    pub version: u32,
    /// Number of agents `n`.
    pub agents: usize,
    /// Number of days `T`.
    pub days: usize,
    /// Topic names; topic `k`'s features are `topics/<name>.npy`.
    pub topics: Vec<String>,
    /// One label per day (e.g. a date).
    pub day_labels: Vec<String>,
    /// Feature names, [`FEATURES`].
    pub features: Vec<String>,
    /// Where the data comes from (e.g. `synthetic` or a capture's description).
    pub source: String,
    /// The generator's seed, for synthetic panels.
    #[serde(default)]
    pub seed: Option<u64>,
    /// The generator's couplings of engagement to followers, for synthetic panels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<synth::Coupling>,
    /// For a panel built from events: what was read, dropped, resolved and filtered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest: Option<provenance::IngestReport>,
}

/// A panel in memory.
#[derive(Clone, Debug)]
pub struct Panel {
    /// What the arrays hold.
    pub manifest: Manifest,
    /// Followers per agent, `[n]`.
    pub followers: Vec<f64>,
    /// Posts in the last 7 days per agent, `[n]`, if the panel has them.
    pub posts_7d: Option<Vec<f64>>,
    /// Replies received in the last 7 days per agent, `[n]`, if the panel has them.
    pub replies_7d: Option<Vec<f64>>,
    /// Per topic, `[T, n, 3]` features (float32).
    pub topics: Vec<Array3>,
}

impl Panel {
    /// Number of agents.
    pub fn agents(&self) -> usize {
        self.manifest.agents
    }

    /// Number of days.
    pub fn days(&self) -> usize {
        self.manifest.days
    }

    /// Read a panel folder, checking every array against the manifest.
    ///
    /// # Errors
    /// [`Error::Panel`] naming the file for a missing or malformed manifest, a topic name that
    /// is not a plain file name, negative counts or features; [`EngineError::Io`], [`EngineError::NotNpy`],
    /// [`EngineError::Shape`] and [`EngineError::NonFinite`] naming the array otherwise.
    pub fn load(dir: &Path) -> Result<Panel> {
        let manifest_path = dir.join("manifest.json");
        let text =
            aumann_engine::input::read_to_string(&manifest_path).map_err(|e| Error::Panel {
                path: manifest_path.clone(),
                reason: format!(
                    "cannot read the manifest ({e}); is {} a panel folder?",
                    dir.display()
                ),
            })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| Error::Panel {
            path: manifest_path.clone(),
            reason: format!("not a valid panel manifest: {e}"),
        })?;
        manifest.check(&manifest_path)?;
        let n = manifest.agents;
        let followers = read_counts(&dir.join("followers.npy"), n)?;
        let optional = |name: &str| -> Result<Option<Vec<f64>>> {
            let path = dir.join(name);
            if path.exists() {
                read_counts(&path, n).map(Some)
            } else {
                Ok(None)
            }
        };
        let posts_7d = optional("posts_7d.npy")?;
        let replies_7d = optional("replies_7d.npy")?;
        let topics = manifest
            .topics
            .iter()
            .map(|name| read_topic(&topic_path(dir, name), manifest.days, n))
            .collect::<Result<Vec<_>>>()?;
        Ok(Panel {
            manifest,
            followers,
            posts_7d,
            replies_7d,
            topics,
        })
    }

    /// Write the panel to `dir` (created if needed). Every file is written under a temporary
    /// name and renamed into place, the manifest last, so an interrupted write never leaves a
    /// folder that loads as a panel with half its data.
    ///
    /// # Errors
    /// [`Error::Panel`] for a manifest that does not describe a panel (a topic name that is
    /// not a plain file name, say); [`EngineError::Io`] naming the file that could not be written.
    pub fn save(&self, dir: &Path) -> Result<()> {
        // Topic names become file names: a manifest that would not load is not written.
        self.manifest.check(dir)?;
        let topics_dir = dir.join("topics");
        fs::create_dir_all(&topics_dir).map_err(|source| EngineError::Io {
            path: topics_dir.clone(),
            source,
        })?;
        let n = self.agents();
        let counts = |v: &[f64]| v.iter().map(|&c| c as i64).collect::<Vec<_>>();
        output::write_atomic(&dir.join("followers.npy"), |p| {
            npy::write_i64(p, &[n], &counts(&self.followers))
        })?;
        for (name, v) in [
            ("posts_7d.npy", &self.posts_7d),
            ("replies_7d.npy", &self.replies_7d),
        ] {
            if let Some(v) = v {
                output::write_atomic(&dir.join(name), |p| npy::write_i64(p, &[n], &counts(v)))?;
            }
        }
        for (name, x) in self.manifest.topics.iter().zip(&self.topics) {
            output::write_atomic(&topic_path(dir, name), |p| {
                npy::write(p, &x.shape(), x.values())
            })?;
        }
        let json = serde_json::to_string_pretty(&self.manifest).expect("manifest serialises");
        output::write_atomic(&dir.join("manifest.json"), |p| {
            fs::write(p, json + "\n").map_err(|source| EngineError::Io {
                path: p.to_path_buf(),
                source,
            })
        })?;
        Ok(())
    }
}

impl Manifest {
    /// The manifest of a panel of `agents` agents over the days `day_labels`, on `topics`,
    /// from `source` (no seed, no ingest record: set them where they apply).
    pub fn new(agents: usize, topics: Vec<String>, day_labels: Vec<String>, source: &str) -> Self {
        Self {
            format: FORMAT.into(),
            version: 1,
            agents,
            days: day_labels.len(),
            topics,
            day_labels,
            features: FEATURES.iter().map(|s| s.to_string()).collect(),
            source: source.into(),
            seed: None,
            generator: None,
            ingest: None,
        }
    }

    fn check(&self, path: &Path) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::Panel {
                path: path.to_path_buf(),
                reason,
            })
        };
        if self.format != FORMAT {
            return bad(format!("format is '{}', expected '{FORMAT}'", self.format));
        }
        if self.version != 1 {
            return bad(format!(
                "format version {} is not supported (1 is)",
                self.version
            ));
        }
        if self.agents == 0 || self.days == 0 {
            return bad("a panel needs at least one agent and one day".into());
        }
        if self.topics.is_empty() {
            return bad("the manifest lists no topics".into());
        }
        if let Some(t) = self.topics.iter().find(|t| !is_plain_name(t)) {
            return bad(format!(
                "topic name '{t}' must be letters, digits, '-' or '_' (it names a file)"
            ));
        }
        if self.day_labels.len() != self.days {
            return bad(format!(
                "{} day labels for {} days",
                self.day_labels.len(),
                self.days
            ));
        }
        if self.features != FEATURES {
            return bad(format!(
                "features are {:?}, expected {FEATURES:?}",
                self.features
            ));
        }
        Ok(())
    }
}

/// Where topic `name`'s features live in a panel folder.
pub fn topic_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("topics").join(format!("{name}.npy"))
}

fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A `[n]` array of non-negative finite counts.
fn read_counts(path: &Path, n: usize) -> Result<Vec<f64>> {
    let a = npy::read_counts(path)?;
    if a.shape != [n] {
        return Err(EngineError::Shape {
            what: path.display().to_string(),
            expected: format!("[{n}] (one count per agent, as the manifest's agents)"),
            got: a.shape,
        }
        .into());
    }
    let v = match a.values {
        Values::F64(v) => v,
        Values::F32(v) => v.into_iter().map(f64::from).collect(),
    };
    if let Some(i) = v.iter().position(|c| !c.is_finite()) {
        return Err(Error::Panel {
            path: path.to_path_buf(),
            reason: format!("agent {i} has count {}; counts must be finite", v[i]),
        });
    }
    if let Some(i) = v.iter().position(|&c| c < 0.0) {
        return Err(Error::Panel {
            path: path.to_path_buf(),
            reason: format!("agent {i} has a negative count ({})", v[i]),
        });
    }
    Ok(v)
}

/// A `[T, n, 3]` array of finite, non-negative `ln(1 + count)` features, as float32.
fn read_topic(path: &Path, days: usize, n: usize) -> Result<Array3> {
    let a = npy::read(path)?;
    if a.shape != [days, n, 3] {
        return Err(EngineError::Shape {
            what: path.display().to_string(),
            expected: format!("[{days}, {n}, 3] (days, agents, reach/activity/resonance)"),
            got: a.shape,
        }
        .into());
    }
    let x = match a.values {
        Values::F32(v) => Array3::from_f32([days, n, 3], v),
        Values::F64(v) => Array3::from_f32([days, n, 3], v.into_iter().map(|x| x as f32).collect()),
    };
    x.check_finite(&path.display().to_string())?;
    let Values::F32(v) = x.values() else {
        unreachable!("converted to f32 above")
    };
    if let Some(at) = v.iter().position(|&f| f < 0.0) {
        let (t, i, k) = (at / (n * 3), at / 3 % n, at % 3);
        return Err(Error::Panel {
            path: path.to_path_buf(),
            reason: format!(
                "{} = {} at day {t}, agent {i} is negative; features are ln(1 + count) ≥ 0",
                FEATURES[k], v[at]
            ),
        });
    }
    Ok(x)
}

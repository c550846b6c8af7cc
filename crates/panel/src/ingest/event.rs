//! One Jetstream event: the envelope, the commit, and the record fields the panel reads.
//!
//! | record | fields kept |
//! |---|---|
//! | `app.bsky.feed.post` | `text`, hashtags (`#tag` facets and `tags`), the reply's parent URI |
//! | `app.bsky.feed.repost`, `app.bsky.feed.like` | the subject's URI |
//! | `app.bsky.graph.follow` | the subject DID |
//!
//! Everything else in a record is skipped while parsing, not stored. Unknown event kinds are
//! kept as [`Body::Unknown`] so that a reader can skip and count them: the wire may grow.

use serde::Deserialize;

/// A parsed line: an event, or an error frame the server sent instead.
// A line is handed on as soon as it is parsed, never stored in bulk: no need to box the event.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// An event.
    Event(Event),
    /// `{"error": …, "message": …}`.
    Error(String),
}

/// An event: who, when (Jetstream's µs clock) and what.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The repository (account) the event is about.
    pub did: String,
    /// Jetstream's timestamp, Unix microseconds.
    pub time_us: i64,
    /// What happened.
    pub body: Body,
}

/// What an event says.
#[derive(Clone, Debug, PartialEq)]
pub enum Body {
    /// A record created, updated or deleted.
    Commit(Commit),
    /// An identity change (handles are no longer sent).
    Identity,
    /// An account status change.
    Account(Account),
    /// A kind this reader does not know, by name.
    Unknown(String),
}

/// One operation of a repository commit.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Commit {
    /// The repository revision (shared by every operation of one commit).
    pub rev: String,
    /// Create, update or delete.
    pub operation: Operation,
    /// The record's collection (NSID), e.g. `app.bsky.feed.post`.
    pub collection: String,
    /// The record key: the record is `at://{did}/{collection}/{rkey}`.
    pub rkey: String,
    /// The record (absent on a delete).
    #[serde(default)]
    pub record: Option<Record>,
}

/// A commit's operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// A new record.
    Create,
    /// A record replaced.
    Update,
    /// A record removed (no record in the event).
    Delete,
}

/// An account event: active, or why not.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Account {
    /// Whether the account is active.
    pub active: bool,
    /// Why not (`takendown`, `suspended`, `deleted`, `deactivated`, …).
    #[serde(default)]
    pub status: Option<String>,
}

/// The record fields the panel reads.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct Record {
    /// A post's text.
    #[serde(default)]
    pub text: Option<String>,
    /// A post's rich-text facets (only their `#tag` features are kept).
    #[serde(default, deserialize_with = "facet_tags", rename = "facets")]
    pub facet_tags: Vec<String>,
    /// A post's extra tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// A reply's references.
    #[serde(default)]
    pub reply: Option<Reply>,
    /// A like's or repost's subject (a strong reference), or a follow's (a DID).
    #[serde(default)]
    pub subject: Option<Subject>,
}

/// A reply's parent.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Reply {
    /// The post replied to.
    pub parent: StrongRef,
}

/// A reference to a record.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StrongRef {
    /// `at://{did}/{collection}/{rkey}`.
    pub uri: String,
}

/// A subject: a record (likes, reposts) or an account (follows, blocks).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Subject {
    /// A record, by its strong reference.
    Record(StrongRef),
    /// An account, by DID.
    Account(String),
}

impl Record {
    /// Every hashtag of a post (facet tags, then `tags`), without `#`.
    pub fn hashtags(&self) -> impl Iterator<Item = &str> {
        self.facet_tags.iter().chain(&self.tags).map(String::as_str)
    }
}

/// The DID in an `at://` URI (its authority), if it has one.
pub fn author_of(uri: &str) -> Option<&str> {
    let rest = uri.strip_prefix("at://")?;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|d| !d.is_empty())
}

/// `facets[].features[]` with `$type` `app.bsky.richtext.facet#tag`: their `tag`s.
fn facet_tags<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Facet {
        #[serde(default)]
        features: Vec<Feature>,
    }
    #[derive(Deserialize)]
    struct Feature {
        #[serde(rename = "$type", default)]
        kind: String,
        #[serde(default)]
        tag: Option<String>,
    }
    let facets: Option<Vec<Facet>> = Option::deserialize(d)?;
    Ok(facets
        .unwrap_or_default()
        .into_iter()
        .flat_map(|f| f.features)
        .filter(|f| f.kind == "app.bsky.richtext.facet#tag")
        .filter_map(|f| f.tag)
        .collect())
}

/// The envelope as sent.
#[derive(Deserialize)]
struct Wire {
    did: Option<String>,
    time_us: Option<i64>,
    kind: Option<String>,
    commit: Option<Commit>,
    account: Option<Account>,
    error: Option<String>,
    message: Option<String>,
}

impl Line {
    /// Parse one line of JSONL.
    ///
    /// # Errors
    /// Why the line is not an event: not JSON, or a field missing or of the wrong type
    /// (serde's message, with its column).
    pub fn parse(line: &str) -> Result<Self, String> {
        Self::parse_bytes(line.as_bytes())
    }

    /// Parse one line of JSONL given as bytes (strings are checked to be UTF-8 as they are
    /// read).
    ///
    /// # Errors
    /// As [`Line::parse`], and for a string that is not UTF-8.
    pub fn parse_bytes(line: &[u8]) -> Result<Self, String> {
        let w: Wire = serde_json::from_slice(line).map_err(|e| e.to_string())?;
        if let Some(error) = w.error {
            let message = w.message.unwrap_or_default();
            return Ok(Line::Error(format!("{error}: {message}")));
        }
        let missing = |what: &str| format!("no `{what}`");
        let did = w.did.ok_or_else(|| missing("did"))?;
        let time_us = w.time_us.ok_or_else(|| missing("time_us"))?;
        let kind = w.kind.ok_or_else(|| missing("kind"))?;
        let body = match kind.as_str() {
            "commit" => Body::Commit(w.commit.ok_or_else(|| missing("commit"))?),
            "identity" => Body::Identity,
            "account" => Body::Account(w.account.ok_or_else(|| missing("account"))?),
            _ => Body::Unknown(kind),
        };
        Ok(Line::Event(Event { did, time_us, body }))
    }
}

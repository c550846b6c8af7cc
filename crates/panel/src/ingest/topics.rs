//! Topics: which posts are about what, from a TOML file.
//!
//! ```toml
//! [[topic]]
//! name = "climate"
//! keywords = ["climate change", "heatwave"]
//! hashtags = ["climate", "ClimateCrisis"]
//! ```
//!
//! A post is on a topic when its text contains one of the topic's keywords as whole words,
//! or it carries one of the topic's hashtags (a `#tag` facet or a `tags` entry); both
//! case-insensitively. "heat" matches "a heat wave" but not "theatre"; a hashtag may be written
//! with or without its `#`.
//!
//! A topic's name becomes a file name in the panel (`topics/<name>.npy`), so it must be a plain
//! one: ASCII letters, digits, `-` and `_`, at most [`MAX_NAME`] bytes, unique whatever the
//! case (`Climate` and `climate` would be one file on some file systems).

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::event::Record;
use crate::error::{Error, Result};
use aumann_engine::Error as EngineError;

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    topic: Vec<TopicSpec>,
}

/// One `[[topic]]` table.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicSpec {
    name: Spanned<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    hashtags: Vec<String>,
}

/// The longest topic name, in bytes.
pub const MAX_NAME: usize = 64;

/// Why `name` cannot name a topic's file, if it cannot.
pub fn bad_name(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("needs a name".into());
    }
    if name.len() > MAX_NAME {
        return Some(format!("{} bytes long; at most {MAX_NAME}", name.len()));
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    (!name.chars().all(plain))
        .then(|| "must be ASCII letters, digits, '-' or '_' (it names a file of the panel)".into())
}

/// One topic, lower-cased for matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    /// Its name.
    pub name: String,
    keywords: Vec<String>,
    hashtags: Vec<String>,
}

/// The topics of a study, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    topics: Vec<Topic>,
}

impl Topics {
    /// Read the topics file `path`.
    ///
    /// # Errors
    /// [`EngineError::Io`] if it cannot be read; [`Error::Topics`] naming the line of a syntax error,
    /// or the line and the topic whose name is not a plain file name ([`bad_name`]), that is
    /// repeated, or that matches nothing.
    pub fn load(path: &Path) -> Result<Self> {
        aumann_engine::input::check_regular(path)?;
        let text = std::fs::read_to_string(path).map_err(|source| EngineError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// The topics of `text`, the content of `path` (named in errors).
    ///
    /// # Errors
    /// As [`Topics::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let bad = |line: Option<usize>, reason: String| Error::Topics {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let file: TopicsFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            bad(line, e.message().to_string())
        })?;
        let mut topics: Vec<Topic> = Vec::with_capacity(file.topic.len());
        for spec in file.topic {
            let line = line_of(text, spec.name.span().start);
            let name = spec.name.into_inner().trim().to_string();
            let refuse = |reason: &str| Err(bad(Some(line), format!("topic {name:?}: {reason}")));
            if let Some(reason) = bad_name(&name) {
                return refuse(&reason);
            }
            if let Some(t) = topics.iter().find(|t| t.name.eq_ignore_ascii_case(&name)) {
                return refuse(&format!("named twice (as {:?} before)", t.name));
            }
            let (keywords, hashtags) = (lower(spec.keywords, false), lower(spec.hashtags, true));
            if keywords.is_empty() && hashtags.is_empty() {
                return refuse("has no keywords and no hashtags: it would match nothing");
            }
            topics.push(Topic {
                name,
                keywords,
                hashtags,
            });
        }
        if topics.is_empty() {
            return Err(bad(None, "no [[topic]] table".into()));
        }
        Ok(Self { topics })
    }

    /// The topics' names, in file order.
    pub fn names(&self) -> Vec<&str> {
        self.topics.iter().map(|t| t.name.as_str()).collect()
    }

    /// How many topics there are.
    pub fn len(&self) -> usize {
        self.topics.len()
    }

    /// Whether there are none (never, for a parsed file).
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// The topics (by index) the post `record` is about.
    pub fn of(&self, record: &Record) -> Vec<usize> {
        let text = record.text.as_deref().unwrap_or_default().to_lowercase();
        let tags: Vec<String> = record.hashtags().map(str::to_lowercase).collect();
        (self.topics.iter().enumerate())
            .filter(|(_, t)| {
                t.hashtags.iter().any(|h| tags.contains(h))
                    || t.keywords.iter().any(|k| contains_words(&text, k))
            })
            .map(|(i, _)| i)
            .collect()
    }
}

/// The line (1-based) of byte `at` of `text`.
fn line_of(text: &str, at: usize) -> usize {
    1 + text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// Each of `words` trimmed and lower-cased, without a leading `#` when `strip`; empty ones
/// dropped.
fn lower(words: Vec<String>, strip: bool) -> Vec<String> {
    (words.into_iter())
        .map(|s| {
            let s = s.trim().to_lowercase();
            if strip {
                s.trim_start_matches('#').to_string()
            } else {
                s
            }
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether `text` contains `phrase` with a word boundary on both sides.
fn contains_words(text: &str, phrase: &str) -> bool {
    text.match_indices(phrase).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + phrase.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r##"
[[topic]]
name = "climate"
keywords = ["Heat", "climate change"]
hashtags = ["#ClimateCrisis"]

[[topic]]
name = "sport"
hashtags = ["football"]
"##;

    fn post(text: &str, tags: &[&str]) -> Record {
        Record {
            text: Some(text.into()),
            facet_tags: tags.iter().map(|t| t.to_string()).collect(),
            ..Record::default()
        }
    }

    #[test]
    fn keywords_match_whole_words_and_hashtags_any_case() {
        let t = Topics::parse(FILE, Path::new("t.toml")).unwrap();
        assert_eq!(t.names(), vec!["climate", "sport"]);
        assert_eq!(t.of(&post("A HEAT wave again", &[])), vec![0]);
        assert_eq!(t.of(&post("the theatre is hot", &[])), Vec::<usize>::new());
        assert_eq!(t.of(&post("Climate change, then heat.", &[])), vec![0]);
        assert_eq!(
            t.of(&post("match day", &["Football", "climatecrisis"])),
            vec![0, 1]
        );
        let tagged = Record {
            tags: vec!["FOOTBALL".into()],
            ..Record::default()
        };
        assert_eq!(t.of(&tagged), vec![1]);
    }

    #[test]
    fn bad_files_are_refused_naming_the_line_or_the_topic() {
        let err = Topics::parse(
            "[[topic]]\nname = \"a\"\nkeywords = [\"x\"\n",
            Path::new("t.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("t.toml:3"), "{err}");
        let err = Topics::parse("[[topic]]\nname = \"a\"\n", Path::new("t.toml")).unwrap_err();
        assert!(err.to_string().contains("\"a\""), "{err}");
        let twice = "[[topic]]\nname='a'\nhashtags=['x']\n[[topic]]\nname='a'\nhashtags=['y']\n";
        let err = Topics::parse(twice, Path::new("t.toml")).unwrap_err();
        assert!(err.to_string().contains("named twice"), "{err}");
        let err = Topics::parse("[[topic]]\nname='a'\ncolour='red'\n", Path::new("t.toml"));
        assert!(err.unwrap_err().to_string().contains("colour"));
    }

    #[test]
    fn names_must_be_plain_file_names_and_errors_give_the_line() {
        for good in ["climate", "Climate_Crisis-2", "a", &"x".repeat(MAX_NAME)] {
            assert_eq!(bad_name(good), None, "{good}");
        }
        let long = "x".repeat(MAX_NAME + 1);
        for bad in [
            "", ".", "..", "../x", "/etc/x", "a/b", "a\\b", "a.b", ".hidden", "a b", "ü", "a\0b",
            "C:x", &long,
        ] {
            assert!(bad_name(bad).is_some(), "{bad:?}");
            let quoted = toml::Value::String(bad.to_string());
            let text = format!("# topics\n\n[[topic]]\nname = {quoted}\nhashtags = ['x']\n");
            let err = Topics::parse(&text, Path::new("t.toml"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("t.toml:4: topic "), "{err}");
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
        let twice = "[[topic]]\nname='ai'\nhashtags=['x']\n[[topic]]\nname='AI'\nhashtags=['y']\n";
        let err = Topics::parse(twice, Path::new("t.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml:5:") && err.contains("named twice"),
            "{err}"
        );
    }
}

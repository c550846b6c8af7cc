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

use std::path::Path;

use serde::Deserialize;

use super::event::Record;
use crate::error::{Error, Result};

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
    name: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    hashtags: Vec<String>,
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
    /// [`Error::Io`] if it cannot be read; [`Error::Topics`] naming the line of a syntax error,
    /// or the topic that is unnamed, repeated, or matches nothing.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
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
            let line = e.span().map(|s| 1 + text[..s.start].matches('\n').count());
            bad(line, e.message().to_string())
        })?;
        let mut topics: Vec<Topic> = Vec::with_capacity(file.topic.len());
        for spec in file.topic {
            let name = spec.name.trim().to_string();
            let refuse = |reason: &str| Err(bad(None, format!("topic {name:?}: {reason}")));
            if name.is_empty() {
                return refuse("needs a name");
            }
            if topics.iter().any(|t| t.name == name) {
                return refuse("named twice");
            }
            let lower = |v: Vec<String>, strip: bool| -> Vec<String> {
                v.into_iter()
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
            };
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
}

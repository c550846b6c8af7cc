//! A formula indicator as its user writes it: one line of text, or a JSON file in a folder.
//!
//! ```text
//! text:  [name: ID;] [features: NAME, …;] psi: [NAME =] EXPR, …; rho: EXPR
//! file:  DIR/indicator.json
//!        {"format": "aumann-formula/1", "name": ID, "features": [NAME, …],
//!         "psi": {NAME: EXPR, …} or [EXPR or "NAME = EXPR", …], "rho": EXPR}
//! ```
//!
//! Sections of the text are separated by `;` and may come in any order; `psi` and `rho` are
//! required. ψ's components are separated by commas outside parentheses. A [`Definition`]
//! holds the expressions as written: [`super::Formula::compile`] checks them.

use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The file in a folder that holds a formula indicator.
pub const FILE: &str = "indicator.json";

/// The `format` that file declares.
pub const FORMAT: &str = "aumann-formula/1";

/// Longest definition, as text or as a file, in bytes.
pub const MAX_DEFINITION_BYTES: usize = 64 * 1024;

/// The name of a formula indicator that is not given one.
pub const DEFAULT_NAME: &str = "formula";

/// A pooled indicator `V = ρ(mean_i ψ(x_i))` written as formulas: see the [module](self) docs.
#[derive(Clone, Debug, PartialEq)]
pub struct Definition {
    /// The indicator's name in summaries and messages (snake_case).
    pub name: String,
    /// The features' names in the input's order (`None`: `x0, x1, …` only).
    pub features: Option<Vec<String>>,
    /// ψ's components, in order: the pooled mean `m_j` is that of component `j`.
    pub psi: Vec<Component>,
    /// ρ over the pooled means.
    pub rho: String,
}

/// One component of ψ: an expression over one agent's features, and its name in ρ.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// The name ρ may read its mean by (besides `m_j`).
    pub name: Option<String>,
    /// The expression.
    pub expression: String,
}

impl Component {
    /// `NAME = EXPR` or `EXPR`: a name where what precedes the first `=` is one.
    fn parse(text: &str) -> Component {
        if let Some((head, tail)) = text.split_once('=') {
            let head = head.trim();
            if is_identifier(head) && !tail.starts_with('=') {
                return Component {
                    name: Some(head.to_string()),
                    expression: tail.trim().to_string(),
                };
            }
        }
        Component {
            name: None,
            expression: text.trim().to_string(),
        }
    }

    /// As the text form writes it.
    fn written(&self) -> String {
        match &self.name {
            Some(name) => format!("{name} = {}", self.expression),
            None => self.expression.clone(),
        }
    }
}

/// Whether `s` has the form of a name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A refusal of the definition as a whole (not of one expression).
fn refused(reason: String) -> Error {
    Error::Formula {
        part: "definition".into(),
        text: String::new(),
        column: None,
        reason,
    }
}

/// `what` (the text form or a file) is at most [`MAX_DEFINITION_BYTES`] long.
fn check_length(what: &str, bytes: usize) -> Result<()> {
    if bytes > MAX_DEFINITION_BYTES {
        return Err(refused(format!(
            "the {what} is {bytes} bytes long; at most {MAX_DEFINITION_BYTES}"
        )));
    }
    Ok(())
}

/// `text` split at the commas outside parentheses: the components of ψ, a list of indicators
/// with parameters.
pub fn top_level_items(text: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0i64, 0);
    for (i, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    items
}

impl Definition {
    /// The text form: see the [module](self) docs.
    ///
    /// # Errors
    /// [`Error::Formula`] for text that is too long, a section without `key:`, an unknown or
    /// repeated section, or a missing `psi` or `rho`.
    pub fn parse(text: &str) -> Result<Definition> {
        check_length("formula", text.len())?;
        let [mut name, mut features, mut psi, mut rho] = [None::<&str>; 4];
        for section in text.split(';').filter(|s| !s.trim().is_empty()) {
            let Some((key, value)) = section.split_once(':') else {
                return Err(refused(format!(
                    "section '{}' has no 'key:'; expected psi:, rho:, features: or name:",
                    excerpt(section.trim())
                )));
            };
            let slot = match key.trim() {
                "name" => &mut name,
                "features" => &mut features,
                "psi" => &mut psi,
                "rho" => &mut rho,
                other => {
                    return Err(refused(format!(
                        "unknown section '{}'; expected psi:, rho:, features: or name:",
                        excerpt(other)
                    )));
                }
            };
            if slot.replace(value).is_some() {
                return Err(refused(format!("section '{}' is given twice", key.trim())));
            }
        }
        let missing = |what: &str| refused(format!("no '{what}:' section; write psi: …; rho: …"));
        let psi = psi.ok_or_else(|| missing("psi"))?;
        let rho = rho.ok_or_else(|| missing("rho"))?;
        Ok(Definition {
            name: name.map_or(DEFAULT_NAME, str::trim).to_string(),
            features: features.map(|f| f.split(',').map(|n| n.trim().to_string()).collect()),
            psi: top_level_items(psi)
                .into_iter()
                .map(Component::parse)
                .collect(),
            rho: rho.trim().to_string(),
        })
    }

    /// The JSON of an `indicator.json` file.
    ///
    /// # Errors
    /// [`Error::Formula`] for text that is too long, is not JSON of that form (naming the line
    /// and column), or declares another format.
    pub fn from_json(text: &str) -> Result<Definition> {
        check_length("definition", text.len())?;
        let file: File = serde_json::from_str(text).map_err(|e| {
            refused(format!(
                "not a formula definition ({e}); expected JSON with \"format\": \"{FORMAT}\", \
                 \"psi\", \"rho\" and optionally \"name\", \"features\""
            ))
        })?;
        file.into_definition()
    }

    /// The definition in folder `dir`'s [`FILE`].
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Input`] for a file that cannot be read; [`Error::Model`]
    /// naming the file for one that is too long or not a definition.
    pub fn load(dir: &Path) -> Result<Definition> {
        use std::io::Read;
        let path = dir.join(FILE);
        let model = |reason: String| Error::Model {
            path: path.clone(),
            reason,
        };
        let file = crate::input::open(&path)?;
        let mut text = String::new();
        let limit = MAX_DEFINITION_BYTES as u64 + 1;
        (file.take(limit).read_to_string(&mut text)).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        if text.len() > MAX_DEFINITION_BYTES {
            return Err(model(format!(
                "longer than {MAX_DEFINITION_BYTES} bytes, the most a definition may be"
            )));
        }
        Definition::from_json(&text).map_err(|e| model(e.to_string()))
    }

    /// Whether folder `dir` holds a formula indicator (its [`FILE`]).
    pub fn is_in(dir: &Path) -> bool {
        dir.join(FILE).is_file()
    }

    /// The definition as `indicator.json` holds it, pretty-printed.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a definition is strings and lists")
    }
}

impl std::str::FromStr for Definition {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Definition::parse(text)
    }
}

/// At most 60 characters of `text`, for a message.
pub fn excerpt(text: &str) -> String {
    const MAX: usize = 60;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// `indicator.json` as read.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    features: Option<Vec<String>>,
    psi: Components,
    rho: String,
}

impl File {
    fn into_definition(self) -> Result<Definition> {
        if self.format != FORMAT {
            return Err(refused(format!(
                "format '{}' is not one this version reads; expected \"{FORMAT}\"",
                excerpt(&self.format)
            )));
        }
        Ok(Definition {
            name: self.name.unwrap_or_else(|| DEFAULT_NAME.into()),
            features: self.features,
            psi: self.psi.0,
            rho: self.rho,
        })
    }
}

/// ψ's components as a file holds them: a list of `EXPR` or `NAME = EXPR`, or an object of
/// `NAME: EXPR` read in the order written.
struct Components(Vec<Component>);

impl<'de> Deserialize<'de> for Components {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(ComponentsVisitor)
    }
}

struct ComponentsVisitor;

impl<'de> Visitor<'de> for ComponentsVisitor {
    type Value = Components;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of expressions or an object of name: expression")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Components, A::Error> {
        let mut out = Vec::new();
        while let Some(text) = seq.next_element::<String>()? {
            out.push(Component::parse(&text));
        }
        Ok(Components(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Components, A::Error> {
        let mut out: Vec<Component> = Vec::new();
        while let Some((name, expression)) = map.next_entry::<String, String>()? {
            if out.iter().any(|c| c.name.as_deref() == Some(&name)) {
                return Err(de::Error::custom(format!(
                    "psi names '{}' twice",
                    excerpt(&name)
                )));
            }
            out.push(Component {
                name: Some(name),
                expression,
            });
        }
        Ok(Components(out))
    }
}

impl Serialize for Definition {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let fields = 4 + usize::from(self.features.is_some());
        let mut out = s.serialize_struct("Definition", fields)?;
        out.serialize_field("format", FORMAT)?;
        out.serialize_field("name", &self.name)?;
        if let Some(features) = &self.features {
            out.serialize_field("features", features)?;
        }
        out.serialize_field("psi", &ComponentsOut(&self.psi))?;
        out.serialize_field("rho", &self.rho)?;
        out.end()
    }
}

/// ψ as written out: an object where every component is named, a list otherwise.
struct ComponentsOut<'a>(&'a [Component]);

impl Serialize for ComponentsOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0.iter().all(|c| c.name.is_some()) {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for c in self.0 {
                map.serialize_entry(c.name.as_deref().unwrap_or_default(), &c.expression)?;
            }
            map.end()
        } else {
            let mut seq = s.serialize_seq(Some(self.0.len()))?;
            for c in self.0 {
                seq.serialize_element(&c.written())?;
            }
            seq.end()
        }
    }
}

impl<'de> Deserialize<'de> for Definition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        File::deserialize(d)?
            .into_definition()
            .map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn component(name: Option<&str>, expression: &str) -> Component {
        Component {
            name: name.map(Into::into),
            expression: expression.into(),
        }
    }

    #[test]
    fn the_text_form_reads_sections_in_any_order() {
        let d: Definition =
            "rho: poor ; features: wealth, income; psi: poor = sigmoid((1 - wealth) / 0.05), max(c, 2)"
                .parse()
                .unwrap();
        assert_eq!(d.name, "formula");
        assert_eq!(d.features, Some(vec!["wealth".into(), "income".into()]));
        assert_eq!(
            d.psi,
            [
                component(Some("poor"), "sigmoid((1 - wealth) / 0.05)"),
                component(None, "max(c, 2)")
            ]
        );
        assert_eq!(d.rho, "poor");
    }

    #[test]
    fn the_file_form_keeps_psi_in_the_order_written_and_round_trips() {
        let json = r#"{"format": "aumann-formula/1", "name": "var", "features": ["a", "b"],
                       "psi": {"second": "c ^ 2", "first": "c"}, "rho": "second - first ^ 2"}"#;
        let d = Definition::from_json(json).unwrap();
        assert_eq!(d.psi[0], component(Some("second"), "c ^ 2"));
        assert_eq!(Definition::from_json(&d.to_json()).unwrap(), d);
        let listed = r#"{"format": "aumann-formula/1", "psi": ["c", "sq = c^2"], "rho": "sq"}"#;
        let d = Definition::from_json(listed).unwrap();
        assert_eq!(d.psi, [component(None, "c"), component(Some("sq"), "c^2")]);
        assert_eq!(Definition::from_json(&d.to_json()).unwrap(), d);
    }

    #[test]
    fn malformed_definitions_are_refused_with_the_reason() {
        let cases = [
            ("psi: c", "no 'rho:' section"),
            ("psi: c; rho: m0; psi: c", "section 'psi' is given twice"),
            ("phi: c; rho: m0", "unknown section 'phi'"),
            ("psi c; rho: m0", "has no 'key:'"),
        ];
        for (text, needle) in cases {
            let e = Definition::parse(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
        let long = format!("psi: {}; rho: m0", "c + ".repeat(20_000));
        let e = Definition::parse(&long).unwrap_err().to_string();
        assert!(e.contains("bytes long; at most"), "{e}");
        let files = [
            (
                r#"{"format": "x", "psi": ["c"], "rho": "m0"}"#,
                "format 'x'",
            ),
            (
                r#"{"format": "aumann-formula/1", "psi": ["c"]}"#,
                "missing field `rho`",
            ),
            (
                r#"{"format": "aumann-formula/1", "psi": ["c"], "rho": "m0", "extra": 1}"#,
                "unknown field `extra`",
            ),
            (
                r#"{"format": "aumann-formula/1", "psi": {"a": "c", "a": "c"}, "rho": "m0"}"#,
                "psi names 'a' twice",
            ),
            ("[1, 2", "not a formula definition"),
        ];
        for (json, needle) in files {
            let e = Definition::from_json(json).unwrap_err().to_string();
            assert!(e.contains(needle), "{json}: {e}");
        }
    }
}

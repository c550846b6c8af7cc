//! Fuzzing the ingest readers on stable Rust: valid inputs (the real sample events, topics
//! files, followers snapshots, capture cursors) are mutated (bits flipped, cut short, bytes
//! inserted or removed, lines duplicated or swapped, numbers made huge, odd Unicode put in)
//! and each reader must give a clear error or a correct result: never a panic, a hang, or a
//! write outside its output.
//!
//! Every target runs from a fixed seed, `AUMANN_PROPTEST_CASES` cases (a few hundred by
//! default; `benches/fuzz.sh` runs many more), each case in a forked process with a time
//! limit, so that an abort or a hang is a failure like a panic. A failure is shrunk and saved
//! to `tests/proptest-regressions/fuzz_ingest.txt`, and replayed first on every later run.

use std::path::Path;

use aumann::ingest::build::{IngestConfig, PanelBuilder, ReadingReport};
use aumann::ingest::event::{Event, Line};
use aumann::ingest::{capture, clock, followers, reader, source, topics};
use aumann::panel::Error;
use proptest::prelude::*;

use crate::common::{sample_lines, samples};
use proptest::test_runner::{FileFailurePersistence, RngAlgorithm, RngSeed};

/// The settings of a target: `default` cases unless `AUMANN_PROPTEST_CASES` says otherwise,
/// from a fixed seed unless `AUMANN_PROPTEST_SEED` gives another.
fn config(default: u32) -> ProptestConfig {
    let cases = (std::env::var("AUMANN_PROPTEST_CASES").ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    let seed: u64 = (std::env::var("AUMANN_PROPTEST_SEED").ok())
        .and_then(|v| v.parse().ok())
        .map_or(0x6175_6d61_6e6e_6675, |s: u64| s ^ 0x6175_6d61_6e6e_6675);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/proptest-regressions/fuzz_ingest.txt",
        ))),
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        // A case that takes seconds is a hang (each takes milliseconds); shrinking such
        // cases is bounded in time.
        timeout: 10_000,
        max_shrink_iters: 500,
        max_shrink_time: 120_000,
        ..ProptestConfig::default()
    }
}

/// The sample lines, and a few more that stress the edges (times far out, error frames,
/// unknown kinds, odd Unicode).
fn base_lines() -> Vec<String> {
    let mut lines = sample_lines();
    let post = |t: &str, text: &str| {
        format!(
            r#"{{"did":"did:plc:edge","time_us":{t},"kind":"commit","commit":{{"rev":"3k","operation":"create","collection":"app.bsky.feed.post","rkey":"3k","record":{{"text":"{text}","facets":[{{"features":[{{"$type":"app.bsky.richtext.facet#tag","tag":"AI"}}]}}]}}}}}}"#
        )
    };
    lines.extend([
        post("9223372036854775807", "ai"),
        post("-9223372036854775808", "ai"),
        post("32503680000000000", "\\u0000 \\ud83d\\ude00 ＡＩ \u{202e}"),
        r#"{"error":"ConsumerTooSlow","message":"slow"}"#.into(),
        r#"{"did":"did:plc:x","time_us":1783175888172335,"kind":"sync","sync":{}}"#.into(),
    ]);
    lines
}

/// One change to a valid input.
#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Cut {
        at: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    /// Bytes put at the start of the next quoted string (a name, a DID, a text).
    InString {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    DuplicateLine {
        line: usize,
    },
    SwapLines {
        a: usize,
        b: usize,
    },
    Huge {
        at: usize,
        number: &'static str,
    },
    Unicode {
        at: usize,
        text: &'static str,
    },
}

const NUMBERS: [&str; 9] = [
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "99999999999999999999999999999",
    "1e400",
    "-0",
    "0.5",
    "1783175888172335.0",
    "-1",
];

const ODD: [&str; 12] = [
    "\u{feff}",
    "\u{202e}",
    "\u{2028}",
    "\u{0}",
    "\u{ffff}",
    "\u{10ffff}",
    "𝕏",
    "e\u{301}",
    "ＡＩ",
    "\\ud800",
    "\\u0000",
    "\r\n",
];

const TOKENS: [&[u8]; 14] = [
    b"\"",
    b"{",
    b"}",
    b"\n",
    b"\\",
    b",",
    b"\"time_us\":",
    b"[",
    b"\xff\xfe",
    b"\n\n\n",
    b"/",
    b"..",
    b"../",
    b"\\\\",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        (at, 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        at.prop_map(|at| Mutation::Cut { at }),
        (
            at,
            prop_oneof![
                prop::sample::select(TOKENS.to_vec()).prop_map(<[u8]>::to_vec),
                prop::collection::vec(any::<u8>(), 1..8),
            ]
        )
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (
            at,
            prop::sample::select(TOKENS.to_vec()).prop_map(<[u8]>::to_vec)
        )
            .prop_map(|(at, bytes)| Mutation::InString { at, bytes }),
        (at, 1usize..64).prop_map(|(at, len)| Mutation::Remove { at, len }),
        at.prop_map(|line| Mutation::DuplicateLine { line }),
        (at, at).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (at, prop::sample::select(NUMBERS.to_vec()))
            .prop_map(|(at, number)| Mutation::Huge { at, number }),
        (at, prop::sample::select(ODD.to_vec()))
            .prop_map(|(at, text)| Mutation::Unicode { at, text }),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    prop::collection::vec(mutation(), 0..6)
}

/// `bytes` split after each newline (the last piece may lack one).
fn lines_of(bytes: &[u8]) -> Vec<Vec<u8>> {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect()
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let pos = |at: usize, len: usize| at % (len + 1);
    match *m {
        Mutation::Flip { at, bit } if !bytes.is_empty() => {
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        Mutation::Flip { .. } => {}
        Mutation::Cut { at } => bytes.truncate(pos(at, bytes.len())),
        Mutation::Insert { at, bytes: ref b } => {
            let i = pos(at, bytes.len());
            bytes.splice(i..i, b.iter().copied());
        }
        Mutation::InString { at, bytes: ref b } => {
            let start = pos(at, bytes.len());
            if let Some(i) = (start..bytes.len()).find(|&i| bytes[i] == b'"' || bytes[i] == b'\'') {
                bytes.splice(i + 1..i + 1, b.iter().copied());
            }
        }
        Mutation::Remove { at, len } => {
            let i = pos(at, bytes.len());
            bytes.drain(i..(i + len).min(bytes.len()));
        }
        Mutation::DuplicateLine { line } | Mutation::SwapLines { a: line, b: _ } => {
            let mut lines = lines_of(bytes);
            if lines.is_empty() {
                return;
            }
            let i = line % lines.len();
            match *m {
                Mutation::SwapLines { b, .. } => {
                    let j = b % lines.len();
                    lines.swap(i, j);
                }
                _ => lines.insert(i, lines[i].clone()),
            }
            *bytes = lines.concat();
        }
        Mutation::Huge { at, number } => {
            let start = pos(at, bytes.len());
            let Some(i) = (start..bytes.len()).find(|&i| bytes[i].is_ascii_digit()) else {
                return;
            };
            let end = (i..bytes.len())
                .find(|&j| !bytes[j].is_ascii_digit())
                .unwrap_or(bytes.len());
            bytes.splice(i..end, number.bytes());
        }
        Mutation::Unicode { at, text } => {
            let i = pos(at, bytes.len());
            bytes.splice(i..i, text.bytes());
        }
    }
}

fn mutated(mut bytes: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        apply(&mut bytes, m);
    }
    bytes
}

/// Whether every mutation only cuts the input short.
fn only_cuts(ms: &[Mutation]) -> bool {
    ms.iter().all(|m| matches!(m, Mutation::Cut { .. }))
}

/// The chosen base lines, one per line.
fn jsonl(base: &[String], picks: &[usize]) -> Vec<u8> {
    picks
        .iter()
        .flat_map(|&i| format!("{}\n", base[i % base.len()]).into_bytes())
        .collect()
}

/// The events of `bytes`, and the statistics, checked against what the bytes hold.
fn read_checked(bytes: &[u8]) -> Result<Vec<Event>, TestCaseError> {
    let mut events = Vec::new();
    let stats = reader::read(bytes, Path::new("f.jsonl"), &mut |e| events.push(e))
        .map_err(|e| TestCaseError::fail(format!("reading memory failed: {e}")))?;
    let lines = lines_of(bytes);
    let blank = lines.iter().filter(|l| l.trim_ascii().is_empty()).count() as u64;
    prop_assert_eq!(stats.lines, lines.len() as u64);
    prop_assert_eq!(stats.events, events.len() as u64);
    prop_assert_eq!(
        stats.events + stats.malformed + stats.error_frames + blank,
        stats.lines
    );
    prop_assert!(stats.first_malformed.len() as u64 <= stats.malformed.min(5));
    Ok(events)
}

const TOPICS: &str = r##"
[[topic]]
name = "politics"
keywords = ["government", "election", "maga"]

[[topic]]
name = "ai"
keywords = ["ai"]
hashtags = ["AI", "#HowToTellAiToShutUp"]
"##;

/// A panel from `events`, on the clock of 2026-12-01: built, or refused for having no agent.
fn build(events: Vec<Event>) -> Result<(), TestCaseError> {
    let topics = topics::Topics::parse(TOPICS, Path::new("t.toml")).unwrap();
    let now = 1_796_083_200_000_000; // 2026-12-01
    let config = IngestConfig {
        plausible: clock::plausible(now, clock::INGEST_AHEAD),
        ..IngestConfig::default()
    };
    let mut builder = PanelBuilder::new(topics, config).unwrap();
    let n = events.len() as u64;
    events.into_iter().for_each(|e| builder.add(e));
    match builder.finish("fuzz", ReadingReport::default()) {
        Ok(built) => {
            let report = built.panel.manifest.ingest.as_ref().unwrap();
            prop_assert_eq!(report.events, n);
            // 2023-01-01 to 2026-12-02: the window can be no longer.
            prop_assert!(built.panel.days() <= 1_432, "{} days", built.panel.days());
            prop_assert_eq!(built.panel.manifest.day_labels.len(), built.panel.days());
            prop_assert_eq!(built.dids.len(), built.panel.agents());
        }
        Err(aumann::ingest::build::BuildError::NoAgents(_)) => {}
        Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(500))]

    /// Plain JSON lines: every line counted once (an event, an error frame, blank or
    /// malformed), and the events build a panel no longer than the plausible days.
    #[test]
    fn jsonl_plain(picks in prop::collection::vec(any::<usize>(), 1..24), ms in mutations()) {
        let base = base_lines();
        let bytes = mutated(jsonl(&base, &picks), &ms);
        let events = read_checked(&bytes)?;
        if ms.is_empty() {
            let lines = picks.iter().map(|&i| Line::parse(&base[i % base.len()]));
            let expected = lines.filter(|l| matches!(l, Ok(Line::Event(_)))).count();
            prop_assert_eq!(events.len(), expected);
        }
        build(events)?;
    }

    /// zstd files: one stream, a frame per line, or a frame per line with Jetstream's
    /// dictionary, read with or without it: their events, or an error naming the file
    /// (events before a cut are a prefix of the file's; an undecodable file gave none).
    #[test]
    fn jsonl_zstd(
        picks in prop::collection::vec(any::<usize>(), 1..16),
        layout in 0u8..3,
        with_dictionary in any::<bool>(),
        ms in mutations(),
    ) {
        let base = base_lines();
        let text = jsonl(&base, &picks);
        let dict = std::fs::read(samples().join("zstd/jetstream_v1_dictionary.zdict")).unwrap();
        let compressed = compress(&text, layout, &dict);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl.zst");
        std::fs::write(&path, mutated(compressed, &ms)).unwrap();
        let dictionary = with_dictionary.then_some(&dict[..]);
        let mut events = Vec::new();
        let original = read_checked(&text)?;
        match source::read_file(&path, dictionary, &mut |e| events.push(e)) {
            Ok(stats) => {
                prop_assert_eq!(stats.events, events.len() as u64);
                if ms.is_empty() {
                    prop_assert_eq!(&events, &original);
                }
            }
            Err(Error::Truncated { path: p, events: n, .. }) => {
                prop_assert_eq!(p, path.clone());
                prop_assert_eq!(n, events.len() as u64);
            }
            Err(Error::Undecodable { path: p, .. }) => {
                prop_assert_eq!(p, path.clone());
                prop_assert!(events.is_empty());
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
        let readable = layout < 2 || with_dictionary;
        if ms.is_empty() && readable {
            prop_assert_eq!(&events, &original);
        }
        if only_cuts(&ms) && readable {
            prop_assert!(original.starts_with(&events), "not a prefix");
        }
    }

    /// Topics files, with one more topic of any name: parsed topics have plain, distinct
    /// names whose files stay in the panel's folder (and a panel built with them writes
    /// nothing outside its output); anything else is refused naming the file (and the line,
    /// where there is one).
    #[test]
    fn topics_toml(
        base in 0usize..3,
        name in prop_oneof![
            "[ -~]{0,70}",
            "[a-z./\\\\]{0,8}",
            prop::sample::select(vec!["..", ".", "/etc/x", "C:\\x", "a\u{0}b", "Ａ", "a.npy"])
                .prop_map(String::from),
        ],
        ms in mutations(),
    ) {
        let extra = format!("[[topic]]\nname = {}\nkeywords = ['x']\n", toml::Value::String(name.clone()));
        let text = [TOPICS, TOPICS_NAMES_EDGE, TOPICS_ONE][base].to_string() + &extra;
        let bytes = mutated(text.into_bytes(), &ms);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topics.toml");
        std::fs::write(&path, &bytes).unwrap();
        match topics::Topics::load(&path) {
            Ok(t) => {
                let names = t.names();
                if ms.is_empty() {
                    prop_assert!(plain(name.trim()), "{:?} accepted", name);
                }
                for (i, name) in names.iter().enumerate() {
                    prop_assert!(plain(name), "{:?} accepted", name);
                    let file = Path::new("out/topics").join(format!("{name}.npy"));
                    prop_assert_eq!(file.parent(), Some(Path::new("out/topics")));
                    let twice = names[..i].iter().any(|o| o.eq_ignore_ascii_case(name));
                    prop_assert!(!twice, "{} twice", name);
                }
                ingest_writes_only_into_its_output(t, dir.path())?;
            }
            Err(Error::Topics { path: p, line, .. }) => {
                prop_assert_eq!(p, path.clone());
                let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                prop_assert!(line.is_none_or(|l| (1..=lines).contains(&l)), "line {:?}", line);
            }
            Err(Error::Engine(aumann::Error::Io { path: p, .. })) => prop_assert_eq!(p, path.clone()),
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
    }

    /// Followers snapshots: counts by DID, each key a DID; or the file and line of the
    /// first bad row.
    #[test]
    fn followers_csv(
        rows in prop::collection::vec(("[a-z2-7]{1,24}", any::<u64>()), 0..12),
        ms in mutations(),
    ) {
        let mut text = String::from("did,followers\n");
        for (did, n) in &rows {
            text += &format!("did:plc:{did},{n}\n");
        }
        let bytes = mutated(text.into_bytes(), &ms);
        let path = Path::new("followers.csv");
        match followers::parse(&bytes[..], path) {
            Ok(counts) => {
                prop_assert!(counts.keys().all(|d| d.starts_with("did:")));
                if ms.is_empty() {
                    let expected: std::collections::HashMap<String, u64> = rows
                        .iter()
                        .map(|(d, n)| (format!("did:plc:{d}"), *n))
                        .collect();
                    prop_assert_eq!(counts, expected);
                }
            }
            Err(Error::Followers { path: p, line, .. }) => {
                prop_assert_eq!(p, path.to_path_buf());
                let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
                prop_assert!((1..=lines).contains(&line), "line {}", line);
            }
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
    }

    /// A capture's cursor file: a plausible time, or an error naming the file.
    #[test]
    fn cursor_file(t in clock::EARLIEST_US..1_796_083_200_000_000i64, ms in mutations()) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cursor"), mutated(format!("{t}\n").into_bytes(), &ms))
            .unwrap();
        match capture::last_cursor(dir.path()) {
            Ok(Some(c)) => {
                let plausible = clock::plausible(clock::now_us(), capture::AHEAD);
                prop_assert!(plausible.contains(&c), "{}", c);
                if ms.is_empty() {
                    prop_assert_eq!(c, t);
                }
            }
            Ok(None) => return Err(TestCaseError::fail("a cursor file read as none")),
            Err(Error::Cursor { path, .. }) => prop_assert_eq!(path, dir.path().join("cursor")),
            Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
        }
    }
}

/// Whether `name` is a plain file name stem (the rule, restated independently of the code
/// under test): 1 to 64 ASCII letters, digits, `-` or `_`.
fn plain(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Names at the edges of what is allowed.
const TOPICS_NAMES_EDGE: &str = r##"
[[topic]]
name = "a-b_C9"
keywords = ["x"]

[[topic]]
name = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
hashtags = ["#y", "ＡＩ"]
"##;

const TOPICS_ONE: &str = "[[topic]]\nname='t'\nkeywords=['🙂', 'e\u{301}']\n";

/// `text` compressed: one stream (layout 0), a frame per line (1), or a frame per line with
/// the dictionary `dict` (2).
fn compress(text: &[u8], layout: u8, dict: &[u8]) -> Vec<u8> {
    match layout {
        0 => zstd::encode_all(text, 3).unwrap(),
        1 => lines_of(text)
            .iter()
            .flat_map(|l| zstd::encode_all(&l[..], 3).unwrap())
            .collect(),
        _ => {
            let mut c = zstd::bulk::Compressor::with_dictionary(3, dict).unwrap();
            lines_of(text)
                .iter()
                .flat_map(|l| c.compress(l).unwrap())
                .collect()
        }
    }
}

/// Ingest a few sample events with `topics` and save the panel to `dir/out`: nothing may
/// appear in `dir` but the topics file and the output.
fn ingest_writes_only_into_its_output(
    topics: topics::Topics,
    dir: &Path,
) -> Result<(), TestCaseError> {
    let events = base_lines()[..40].join("\n");
    let mut builder = PanelBuilder::new(topics, IngestConfig::default()).unwrap();
    reader::read(events.as_bytes(), Path::new("e"), &mut |e| builder.add(e)).unwrap();
    if let Ok(built) = builder.finish("fuzz", ReadingReport::default()) {
        built.panel.save(&dir.join("out")).unwrap();
    }
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name();
        prop_assert!(name == "topics.toml" || name == "out", "{:?} written", name);
    }
    if dir.join("out").exists() {
        for entry in std::fs::read_dir(dir.join("out/topics")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".npy").unwrap_or(&name);
            prop_assert!(plain(stem), "{:?} written", name);
        }
    }
    Ok(())
}

/// Parsing one line never panics, whatever the bytes (a quick smoke target of its own).
#[test]
fn single_lines_of_odd_bytes_parse_or_are_refused() {
    for line in [
        &b""[..],
        b"{}",
        b"[]",
        b"null",
        b"{\"did\":1,\"time_us\":\"x\",\"kind\":\"commit\"}",
        &[b'['; 10_000],
        b"{\"did\":\"d\",\"time_us\":1e400,\"kind\":\"identity\"}",
        b"\xff\xfe\xfd",
    ] {
        let _ = Line::parse_bytes(line);
    }
}

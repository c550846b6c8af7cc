//! Jetstream events: the 162 real sample events parse to what their README and manifest say;
//! unreadable lines are counted, not fatal.

use std::path::{Path, PathBuf};

use aumann::ingest::event::{Body, Event, Operation, Subject, author_of};
use aumann::ingest::reader::{Tally, read};

use crate::common::{sample_lines, samples};

fn events_of(name: &str) -> (Vec<Event>, aumann::ingest::reader::ReadStats) {
    let path = samples().join(name);
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the samples live in data/jetstream-samples)",
            path.display()
        )
    });
    let mut events = Vec::new();
    let stats = read(std::io::BufReader::new(file), &path, &mut |e| {
        events.push(e)
    })
    .unwrap();
    (events, stats)
}

#[test]
fn the_production_capture_counts_as_its_readme_and_manifest_say() {
    let (events, stats) = events_of("corpus_expected_v1.jsonl");
    assert_eq!(
        (stats.events, stats.malformed, stats.error_frames),
        (152, 0, 0)
    );
    assert!(stats.unknown_kinds.is_empty());
    let mut tally = Tally::default();
    events.iter().for_each(|e| tally.add(e));
    use Operation::{Create, Delete, Update};
    for (collection, op, n) in [
        ("app.bsky.feed.like", Create, 105),
        ("app.bsky.feed.post", Create, 17),
        ("app.bsky.feed.post", Delete, 1),
        ("app.bsky.feed.repost", Create, 15),
        ("app.bsky.graph.follow", Create, 6),
        ("app.bsky.graph.follow", Delete, 3),
        ("app.bsky.graph.block", Create, 1),
        ("app.bsky.actor.status", Update, 1),
        ("fm.teal.alpha.actor.status", Update, 1),
    ] {
        assert_eq!(tally.get(collection, op), n, "{collection} {op:?}");
    }
    assert_eq!((tally.identity, tally.account), (1, 1));
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(samples().join("corpus_manifest.json")).unwrap(),
    )
    .unwrap();
    for (key, op) in [
        ("creates", Create),
        ("updates", Update),
        ("deletes", Delete),
    ] {
        assert_eq!(Some(tally.operations(op)), manifest[key].as_u64(), "{key}");
    }
    // Posts: 8 replies, hashtags from `#tag` facets; deletes carry no record.
    let posts: Vec<_> = (events.iter())
        .filter_map(|e| match &e.body {
            Body::Commit(c) if c.collection == "app.bsky.feed.post" => Some(c),
            _ => None,
        })
        .collect();
    let replies = posts
        .iter()
        .filter(|c| c.record.as_ref().is_some_and(|r| r.reply.is_some()))
        .count();
    assert_eq!(replies, 8);
    // Four `#tag` facets, on two posts.
    let tags: Vec<usize> = (posts.iter())
        .filter_map(|c| c.record.as_ref().map(|r| r.hashtags().count()))
        .filter(|&n| n > 0)
        .collect();
    assert_eq!((tags.len(), tags.iter().sum::<usize>()), (2, 4));
    assert!(
        posts
            .iter()
            .all(|c| (c.operation == Delete) == c.record.is_none())
    );
    // Every like and repost names a post; its author is the URI's authority.
    for e in &events {
        if let Body::Commit(c) = &e.body
            && (c.collection == "app.bsky.feed.like" || c.collection == "app.bsky.feed.repost")
        {
            let Some(Subject::Record(r)) = c.record.as_ref().and_then(|r| r.subject.clone()) else {
                panic!("{} without a record subject", c.collection)
            };
            assert!(
                author_of(&r.uri).is_some_and(|d| d.starts_with("did:")),
                "{}",
                r.uri
            );
        }
    }
}

#[test]
fn the_golden_events_parse_to_what_they_are() {
    let (events, stats) = events_of("subscribe_golden_v1.jsonl");
    assert_eq!((stats.events, stats.malformed), (10, 0));
    let commit = |collection: &str| {
        events
            .iter()
            .find_map(|e| match &e.body {
                Body::Commit(c) if c.collection == collection => Some(c.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no {collection}"))
    };
    assert_eq!(commit("app.bsky.feed.like").operation, Operation::Create);
    let post = commit("app.bsky.feed.post");
    let reply = post
        .record
        .as_ref()
        .and_then(|r| r.reply.clone())
        .expect("a reply");
    assert!(author_of(&reply.parent.uri).is_some());
    assert_eq!(commit("app.bsky.feed.repost").operation, Operation::Create);
    let follow = commit("app.bsky.graph.follow");
    match follow.record.and_then(|r| r.subject) {
        Some(Subject::Account(did)) => assert!(did.starts_with("did:")),
        other => panic!("a follow's subject is a DID: {other:?}"),
    }
    assert_eq!(commit("app.bsky.graph.block").operation, Operation::Create);
    assert_eq!(
        commit("app.bsky.actor.profile").operation,
        Operation::Update
    );
    let delete = commit("org.hypercerts.claim.activity");
    assert_eq!((delete.operation, delete.record), (Operation::Delete, None));
    assert_eq!(
        commit("place.stream.broadcast.origin").operation,
        Operation::Update
    );
    assert!(events.iter().any(|e| e.body == Body::Identity));
    assert!(
        events
            .iter()
            .any(|e| matches!(&e.body, Body::Account(a) if a.active))
    );
    assert!(events.iter().all(|e| e.time_us > 1_700_000_000_000_000));
}

#[test]
fn unreadable_lines_are_counted_with_their_numbers_and_unknown_kinds_skipped() {
    let text = [
        r#"{"did":"did:plc:a","time_us":1,"kind":"commit","commit":{"rev":"r","operation":"delete","collection":"app.bsky.feed.post","rkey":"k"}}"#,
        "not json",
        "",
        r#"{"time_us":2,"kind":"identity","identity":{}}"#,
        r#"{"did":"did:plc:b","time_us":3,"kind":"sync","sync":{}}"#,
        r#"{"error":"ConsumerTooSlow","message":"slow down"}"#,
        r#"{"did":"did:plc:c","time_us":4,"kind":"commit","commit":{"rev":"r","operation":"merge","collection":"x","rkey":"k"}}"#,
        r#"{"did":"did:plc:d","time_us":5,"kind":"account","account":{"active":false,"status":"takendown"}}"#,
    ]
    .join("\n");
    let mut events = Vec::new();
    let stats = read(text.as_bytes(), Path::new("t.jsonl"), &mut |e| {
        events.push(e)
    })
    .unwrap();
    assert_eq!(stats.lines, 8);
    assert_eq!(
        stats.events, 3,
        "the delete, the unknown kind and the account"
    );
    assert_eq!(stats.malformed, 3);
    let lines: Vec<u64> = stats.first_malformed.iter().map(|m| m.0).collect();
    assert_eq!(lines, vec![2, 4, 7]);
    assert!(
        stats.first_malformed[1].1.contains("did"),
        "{:?}",
        stats.first_malformed
    );
    assert_eq!(stats.unknown_kinds.get("sync"), Some(&1));
    assert_eq!(stats.error_frames, 1);
    match &events[2].body {
        Body::Account(a) => assert_eq!((a.active, a.status.as_deref()), (false, Some("takendown"))),
        other => panic!("{other:?}"),
    }
}

#[test]
fn authors_come_from_the_uri_authority() {
    assert_eq!(
        author_of("at://did:plc:x/app.bsky.feed.post/3k"),
        Some("did:plc:x")
    );
    assert_eq!(
        author_of("at://did:web:example.com"),
        Some("did:web:example.com")
    );
    assert_eq!(author_of("https://example.com"), None);
    assert_eq!(author_of("at://"), None);
}

/// `.zst` files, one zstd stream or Jetstream's per-event frames with its dictionary, read
/// like the plain lines; a truncated file is reported with its name and offset, the events
/// before the cut kept; dictionary frames without the dictionary are refused by name.
#[test]
fn zstd_files_read_like_their_lines_and_truncation_is_reported() {
    use aumann::ingest::source::read_file;
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(samples().join("corpus_expected_v1.jsonl")).unwrap();
    let dict = std::fs::read(samples().join("zstd/jetstream_v1_dictionary.zdict")).unwrap();
    let (reference, _) = events_of("corpus_expected_v1.jsonl");
    let stream = zstd::encode_all(&text[..], 3).unwrap();
    let mut compressor = zstd::bulk::Compressor::with_dictionary(3, &dict).unwrap();
    let frames: Vec<u8> = (text.split(|&b| b == b'\n'))
        .filter(|line| !line.is_empty())
        .flat_map(|line| compressor.compress(&[line, b"\n"].concat()).unwrap())
        .collect();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let (stream, frames_path) = (write("a.jsonl.zst", &stream), write("b.jsonl.zst", &frames));
    for (path, dictionary) in [(&stream, None), (&frames_path, Some(&dict[..]))] {
        let mut events = Vec::new();
        let stats = read_file(path, dictionary, &mut |e| events.push(e)).unwrap();
        assert_eq!((stats.events, stats.malformed), (152, 0));
        assert_eq!(events, reference, "{}", path.display());
    }
    let cut = write("c.jsonl.zst", &frames[..frames.len() / 2]);
    let mut kept = 0;
    match read_file(&cut, Some(&dict), &mut |_| kept += 1) {
        Err(aumann::panel::Error::Truncated {
            path,
            offset,
            events,
            ..
        }) => {
            assert_eq!(events, kept);
            assert_eq!(path, cut);
            assert!(
                offset > 0 && offset <= (frames.len() / 2) as u64 && (1..152).contains(&kept),
                "offset {offset}, {kept} events"
            );
            let message = aumann::panel::Error::Truncated {
                path,
                offset,
                events: kept,
                source: std::io::Error::other("x"),
            }
            .to_string();
            assert!(message.contains("c.jsonl.zst") && message.contains(&offset.to_string()));
            assert!(
                message.contains(&format!("the {kept} events before it")),
                "{message}"
            );
        }
        other => panic!("a truncated file reads: {other:?}"),
    }
    let err = read_file(&frames_path, None, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("b.jsonl.zst"), "{err}");
}

/// The synthetic panel written as events and ingested again is the same panel, array for
/// array; reading its files twice over (Jetstream's at-least-once delivery), in reverse
/// order and compressed changes nothing.
#[test]
fn a_synthetic_panel_comes_back_from_its_events() {
    use aumann::ingest::build::IngestConfig;
    use aumann::ingest::files::{IngestInput, event_files, ingest};
    use aumann::ingest::panel_events::{EventsOptions, synthetic_did, write_events};
    use aumann::panel::synth::{PanelConfig, generate};
    let panel = generate(&PanelConfig {
        agents: 10_000,
        seed: 3,
        ..PanelConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    for compress in [false, true] {
        let out = dir.path().join(format!("events-{compress}"));
        let options = EventsOptions {
            compress,
            likes_per_post: if compress { 2 } else { 0 },
        };
        let written = write_events(&panel, &out, options, &mut |_, _| {}).unwrap();
        assert_eq!(written.files.len(), panel.days());
        let topics = aumann::ingest::topics::Topics::load(&out.join("topics.toml")).unwrap();
        let followers = aumann::ingest::followers::load(&out.join("followers.csv")).unwrap();
        let mut files = event_files(&[out.join("events")]).unwrap();
        if compress {
            files.reverse();
            files.extend(files.clone()); // every event twice
        }
        let (built, reading) = ingest(
            IngestInput {
                files: &files,
                read: Default::default(),
                topics,
                config: IngestConfig {
                    followers: Some(followers),
                    ..IngestConfig::default()
                },
                source: "test",
            },
            &mut |_, _| {},
        )
        .unwrap();
        assert_eq!(reading.report.malformed, 0);
        let report = built.panel.manifest.ingest.clone().unwrap();
        // Likes are not kept, so their copies are not counted; every other copy is.
        assert_eq!(written.likes > 0, compress);
        let expected_duplicates = if compress {
            written.events - written.likes
        } else {
            0
        };
        assert_eq!(report.duplicates, expected_duplicates);
        assert!(
            report.filters.iter().all(|f| f.removed == 0),
            "{:?}",
            report.filters
        );
        let got = &built.panel;
        assert_eq!(got.manifest.day_labels, panel.manifest.day_labels);
        assert_eq!(got.manifest.topics, panel.manifest.topics);
        assert_eq!(got.followers, panel.followers);
        assert_eq!(got.posts_7d, panel.posts_7d);
        assert_eq!(got.replies_7d, panel.replies_7d);
        for (k, (a, b)) in got.topics.iter().zip(&panel.topics).enumerate() {
            assert_eq!(a.shape(), b.shape(), "topic {k}");
            let [days, n, _] = a.shape();
            for (t, i, f) in
                (0..days).flat_map(|t| (0..n).flat_map(move |i| (0..3).map(move |f| (t, i, f))))
            {
                assert_eq!(
                    a.get(t, i, f),
                    b.get(t, i, f),
                    "topic {k}, day {t}, agent {i}, feature {f}"
                );
            }
        }
        assert_eq!(built.dids[9_999], synthetic_did(9_999));
    }
}

const REAL_TOPICS: &str = r#"
[[topic]]
name = "politics"
keywords = ["government", "election", "maga"]

[[topic]]
name = "ai"
keywords = ["ai"]
hashtags = ["HowToTellAiToShutUp"]
"#;

/// Every file under `dir`, as bytes, by path.
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push((path.clone(), std::fs::read(&path).unwrap()));
        }
    }
    out
}

/// The 162 real events through the command line: a panel the study reads, whose files hold
/// no DID, handle or post text of the input; the id map, only when asked for, holds the DIDs.
#[test]
fn real_events_ingest_to_a_panel_that_names_no_account() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("topics.toml"), REAL_TOPICS).unwrap();
    let inputs = [
        samples().join("corpus_expected_v1.jsonl"),
        samples().join("subscribe_golden_v1.jsonl"),
    ];
    let ingest = |out: &str, extra: &[&str]| {
        let mut args = vec!["panel", "ingest", "--events"];
        args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
        args.extend([
            "--topics",
            "topics.toml",
            "--out",
            out,
            "--keep-unengaged",
            "--quiet",
        ]);
        args.extend(extra);
        let run = crate::common::aumann(dir.path(), &args, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        dir.path().join(out)
    };
    let plain = ingest("panel", &[]);
    let panel = aumann::panel::Panel::load(&plain).unwrap();
    let report = panel.manifest.ingest.clone().unwrap();
    assert_eq!(report.events, 162);
    assert!(report.reach_approximate);
    assert!(panel.agents() > 100, "{} agents", panel.agents());
    // The input's identifiers and texts: every DID anywhere in a line, every post text.
    let mut secrets = std::collections::BTreeSet::new();
    for input in &inputs {
        let text = std::fs::read_to_string(input).unwrap();
        for (at, _) in text.match_indices("did:") {
            let did: String = text[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || ":._-".contains(*c))
                .collect();
            if did.len() > 12 {
                secrets.insert(did);
            }
        }
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(t) = v["commit"]["record"]["text"].as_str()
                && t.len() >= 8
            {
                secrets.insert(t.to_string());
            }
        }
    }
    assert!(secrets.len() > 150, "{} secrets", secrets.len());
    let scan = |dir: &Path, allowed: &str| {
        for (path, bytes) in files_under(dir) {
            if path.file_name().unwrap() == allowed {
                continue;
            }
            for s in &secrets {
                let found = bytes.windows(s.len()).any(|w| w == s.as_bytes());
                assert!(!found, "{} holds {s:?}", path.display());
            }
        }
    };
    scan(&plain, "");
    // A followers snapshot for every DID of the input (counts made up, spread out), so the
    // study below has tiers.
    let mut csv = String::from("did,followers\n");
    for (j, s) in secrets.iter().filter(|s| s.starts_with("did:")).enumerate() {
        csv += &format!("{s},{}\n", (j * 37) % 1000);
    }
    std::fs::write(dir.path().join("followers.csv"), csv).unwrap();
    let mapped = ingest(
        "mapped",
        &["--write-id-map", "--followers", "followers.csv"],
    );
    scan(&mapped, "id_map.csv");
    let map = std::fs::read_to_string(mapped.join("id_map.csv")).unwrap();
    assert_eq!(map.lines().count(), panel.agents() + 1);
    assert!(map.lines().nth(1).unwrap().starts_with("0,did:"));
    // The study reads the ingested panel unchanged.
    let run = crate::common::aumann(
        dir.path(),
        &[
            "study",
            "--panel",
            "mapped",
            "--out",
            "study",
            "--sizes",
            "20",
            "--seeds",
            "2",
            "--indicators",
            "linear",
            "--protocols",
            "random",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    scan(&dir.path().join("study"), "");
}

/// Bad input: malformed lines and unknown kinds are counted and named (file and line) without
/// stopping; a truncated zstd file is named with its byte offset and its complete events
/// kept; a topics file with a syntax error or a bad followers snapshot is refused naming the
/// line, and no output folder is left.
#[test]
fn bad_input_is_reported_by_file_line_and_offset_and_nothing_half_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topics.toml"), REAL_TOPICS).unwrap();
    let events = d.join("events");
    std::fs::create_dir(&events).unwrap();
    let text = std::fs::read_to_string(samples().join("corpus_expected_v1.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut bad = lines[..20].join("\n");
    bad += "\n{\"did\": \"did:plc:x\", \"time_us\": 1\n";
    bad += "not json at all\n";
    bad += "{\"did\":\"did:plc:x\",\"time_us\":1783175888172335,\"kind\":\"sync\",\"sync\":{}}\n";
    std::fs::write(events.join("a.jsonl"), bad).unwrap();
    // One zstd frame per line (as Jetstream sends them), cut two thirds of the way in.
    let compressed: Vec<u8> = (lines[20..].iter())
        .flat_map(|l| zstd::encode_all(format!("{l}\n").as_bytes(), 3).unwrap())
        .collect();
    std::fs::write(
        events.join("b.jsonl.zst"),
        &compressed[..compressed.len() * 2 / 3],
    )
    .unwrap();
    let run = crate::common::aumann(
        d,
        &[
            "panel",
            "ingest",
            "--events",
            "events",
            "--topics",
            "topics.toml",
            "--out",
            "p",
            "--keep-unengaged",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let err = &run.stderr;
    assert!(
        err.contains("a.jsonl: 2 malformed lines")
            && err.contains("line 21")
            && err.contains("line 22"),
        "{err}"
    );
    assert!(
        err.contains("1 events of unknown kinds") && err.contains("sync"),
        "{err}"
    );
    assert!(err.contains("b.jsonl.zst: unreadable from byte"), "{err}");
    let manifest = aumann::panel::Panel::load(&d.join("p")).unwrap().manifest;
    let report = manifest.ingest.unwrap();
    assert_eq!(
        (
            report.reading.malformed,
            report.reading.unknown_kinds,
            report.reading.truncated_files
        ),
        (2, 1, 1)
    );
    // The events before the cut were kept: more than the first file's 20 (+1 unknown).
    assert!(
        report.events > 60 && report.events < 152,
        "{} events",
        report.events
    );

    let refused = |args: &[&str], needles: &[&str]| {
        let run = crate::common::aumann(d, args, &[]);
        assert_ne!(run.code, 0, "{args:?} succeeded");
        for n in needles {
            assert!(
                run.stderr.contains(n),
                "{args:?}: {} lacks {n:?}",
                run.stderr
            );
        }
        assert!(!d.join("q").exists(), "{args:?} left an output");
        let temp = std::fs::read_dir(d)
            .unwrap()
            .any(|e| e.unwrap().file_name().to_string_lossy().contains(".q."));
        assert!(!temp, "{args:?} left a temporary folder");
    };
    std::fs::write(
        d.join("broken.toml"),
        "[[topic]]\nname = \"a\"\nkeywords = [\"x\"\n",
    )
    .unwrap();
    refused(
        &[
            "panel",
            "ingest",
            "--events",
            "events",
            "--topics",
            "broken.toml",
            "--out",
            "q",
        ],
        &["broken.toml:3"],
    );
    std::fs::write(
        d.join("f.csv"),
        "did,followers\ndid:plc:a,12\ndid:plc:b,many\n",
    )
    .unwrap();
    refused(
        &[
            "panel",
            "ingest",
            "--events",
            "events",
            "--topics",
            "topics.toml",
            "--out",
            "q",
            "--followers",
            "f.csv",
        ],
        &["f.csv:3", "many"],
    );
    refused(
        &[
            "panel",
            "ingest",
            "--events",
            "events",
            "--topics",
            "topics.toml",
            "--out",
            "q",
            "--from",
            "2020-01-01",
            "--days",
            "3",
        ],
        &["no event in the window"],
    );
    refused(
        &[
            "panel",
            "ingest",
            "--events",
            "nowhere",
            "--topics",
            "topics.toml",
            "--out",
            "q",
        ],
        &["nowhere"],
    );
}

/// Per connection to the replay server: its cursor and how many events it was sent.
type ConnectionLog = std::sync::Arc<std::sync::Mutex<Vec<(Option<i64>, usize)>>>;

/// A replay server on the loopback interface: serves its events in the order given from each
/// connection's cursor (those with `time_us` at or after it), dropping the first connection
/// after `drop_after` events; later connections get every event and stay open until the
/// client goes. It ignores `maxMessageSizeBytes`, and lets a client that leaves early go.
struct Replay {
    port: u16,
    /// Each connection's cursor, and how many events it was sent.
    log: ConnectionLog,
}

fn time_of(line: &str) -> i64 {
    #[derive(serde::Deserialize)]
    struct Stamp {
        time_us: i64,
    }
    serde_json::from_str::<Stamp>(line).unwrap().time_us
}

impl Replay {
    fn start(events: Vec<String>, drop_after: usize) -> Self {
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&log);
        let events: Vec<(i64, String)> = events.into_iter().map(|e| (time_of(&e), e)).collect();
        std::thread::spawn(move || {
            for (k, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let limit = if k == 0 { drop_after } else { usize::MAX };
                serve(stream, &events, limit, &shared);
            }
        });
        Self { port, log }
    }

    fn connections(&self) -> Vec<(Option<i64>, usize)> {
        self.log.lock().unwrap().clone()
    }

    fn wait_for(&self, connections: usize) {
        let start = std::time::Instant::now();
        while self.connections().len() < connections {
            assert!(start.elapsed().as_secs() < 300, "{:?}", self.connections());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// One connection: the events from its cursor, at most `limit` of them (then dropped, no close
/// frame), else kept open until the client goes.
fn serve(stream: std::net::TcpStream, events: &[(i64, String)], limit: usize, log: &ConnectionLog) {
    let mut cursor = None;
    #[allow(clippy::result_large_err)] // tungstenite's handshake callback type
    let callback = |req: &tungstenite::handshake::server::Request,
                    resp: tungstenite::handshake::server::Response| {
        let query = req.uri().query().unwrap_or("");
        cursor = (query.split('&'))
            .find_map(|kv| kv.strip_prefix("cursor="))
            .and_then(|c| c.parse::<i64>().ok());
        Ok(resp)
    };
    let Ok(mut socket) = tungstenite::accept_hdr(stream, callback) else {
        return;
    };
    let from = (events.iter()).filter(|(t, _)| cursor.is_none_or(|c| *t >= c));
    let mut sent = 0;
    for (_, e) in from.take(limit) {
        if socket.send(tungstenite::Message::text(e.as_str())).is_err() {
            break; // the client left
        }
        sent += 1;
    }
    log.lock().unwrap().push((cursor, sent));
    if sent == limit {
        return; // dropped: no close frame
    }
    while socket.read().is_ok() {}
}

/// The 162 sample events, in `time_us` order.
fn sample_events() -> Vec<String> {
    let mut events = sample_lines();
    events.sort_by_key(|e| time_of(e));
    events
}

/// Capture against a local replay server that drops the connection mid-stream, then a second
/// capture (the command line, stopped with Ctrl-C) resuming from the first one's cursor: every
/// event is on disk, the rewound overlap is written twice and ingest drops it, so the panel is
/// the samples' own.
#[test]
fn capture_survives_a_dropped_connection_and_a_restart_losing_and_duplicating_nothing() {
    use aumann::ingest::capture::{CaptureConfig, Rotation, capture};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    let events = sample_events();
    let server = Replay::start(events.clone(), 60);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("capture");
    let config = CaptureConfig {
        endpoint: format!("ws://127.0.0.1:{}/subscribe", server.port),
        collections: vec!["app.bsky.feed.post".into()],
        out: out.clone(),
        rotation: Rotation::Hour,
        compress: true,
        rewind: Duration::from_secs(5),
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        max_message_bytes: aumann::ingest::capture::MAX_MESSAGE_BYTES,
        ignore_cursor: false,
    };
    let stop = AtomicBool::new(false);
    let written = std::sync::atomic::AtomicU64::new(0);
    let stats = std::thread::scope(|s| {
        let run = s.spawn(|| {
            capture(&config, &stop, &mut |status| {
                if let aumann::ingest::capture::CaptureStatus::Written(n) = status {
                    written.store(n, Ordering::Relaxed);
                }
            })
        });
        server.wait_for(2);
        // Stop once the capture has written everything the second connection sent (a state,
        // not a time: on a loaded machine receiving can lag the server by seconds).
        let sent = 60 + server.connections()[1].1 as u64;
        let start = std::time::Instant::now();
        while written.load(Ordering::Relaxed) < sent {
            assert!(
                start.elapsed().as_secs() < 300,
                "the capture never wrote {sent} events"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        run.join().unwrap().unwrap()
    });
    let log = server.connections();
    let rewind = 5_000_000;
    assert_eq!(log[0], (None, 60));
    assert_eq!(
        log[1].0,
        Some(time_of(&events[59]) - rewind),
        "resumed where the drop left"
    );
    assert_eq!(stats.connections, 2);
    assert_eq!(stats.events as usize, 60 + log[1].1);

    // A restart from the command line, stopped with Ctrl-C.
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_aumann"))
        .args(["capture", "--endpoint", &config.endpoint, "--out"])
        .arg(&out)
        .args(["--compress", "--collections", "app.bsky.feed.post"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_for(3);
    // Ctrl-C once the capture has flushed the last event (its cursor says so): a state, not a
    // time.
    let last = time_of(events.last().unwrap());
    let start = std::time::Instant::now();
    while aumann::ingest::capture::last_cursor(&out).ok().flatten() != Some(last) {
        assert!(
            start.elapsed().as_secs() < 300,
            "the restarted capture never caught up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: sending SIGINT to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("stopped:"), "{stderr}");
    assert_eq!(server.connections()[2].0, Some(last - rewind));

    // Every event is on disk; some twice; ingest gives the samples' own panel.
    let files = aumann::ingest::files::event_files(std::slice::from_ref(&out)).unwrap();
    let mut written = Vec::new();
    for f in &files {
        let bytes = zstd::decode_all(std::fs::File::open(f).unwrap()).unwrap();
        written.extend(String::from_utf8(bytes).unwrap().lines().map(String::from));
    }
    let distinct: std::collections::BTreeSet<&String> = written.iter().collect();
    let expected: std::collections::BTreeSet<&String> = events.iter().collect();
    assert_eq!(distinct, expected, "no event lost");
    assert!(
        written.len() > events.len(),
        "the rewound overlap was written again"
    );
    let topics = aumann::ingest::topics::Topics::parse(REAL_TOPICS, Path::new("t")).unwrap();
    let build = |files: &[PathBuf]| {
        use aumann::ingest::build::IngestConfig;
        let input = aumann::ingest::files::IngestInput {
            files,
            read: Default::default(),
            topics: topics.clone(),
            config: IngestConfig::default(),
            source: "test",
        };
        aumann::ingest::files::ingest(input, &mut |_, _| {})
            .unwrap()
            .0
    };
    let captured = build(&files);
    let direct = build(&[
        samples().join("corpus_expected_v1.jsonl"),
        samples().join("subscribe_golden_v1.jsonl"),
    ]);
    assert!(captured.panel.manifest.ingest.as_ref().unwrap().duplicates > 0);
    assert_eq!(captured.dids, direct.dids);
    assert_eq!(captured.panel.followers, direct.panel.followers);
    assert_eq!(
        captured.panel.topics, direct.panel.topics,
        "nothing duplicated"
    );
    assert_eq!(captured.panel.posts_7d, direct.panel.posts_7d);
}

// ---------------------------------------------------------------------------------------------
// Hostile input: each test below is one way an adversarial user broke ingest or capture.

/// `aumann panel ingest` in `dir` with `args`.
fn ingest_cli(dir: &Path, args: &[&str]) -> crate::common::Run {
    let mut all = vec!["panel", "ingest"];
    all.extend(args);
    crate::common::aumann(dir, &all, &[])
}

/// Every path under `dir`, folders included.
fn tree(dir: &Path) -> std::collections::BTreeSet<PathBuf> {
    let mut out = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            out.extend(tree(&path));
        }
        out.insert(path);
    }
    out
}

/// A topic named like a path would make ingest write outside `--out`: such names are refused
/// naming the file, the line and the name, and nothing is written anywhere.
#[test]
fn topic_names_that_are_not_plain_file_names_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("work/victim")).unwrap();
    let events = samples().join("corpus_expected_v1.jsonl");
    let absolute = d.join("abs/data");
    for name in [
        "../../victim/data",
        absolute.to_str().unwrap(),
        "..",
        ".",
        "sub/dir",
        "a.b",
        "",
    ] {
        let toml = format!("\n[[topic]]\nname = {name:?}\nkeywords = [\"ai\"]\n");
        std::fs::write(d.join("work/topics.toml"), toml).unwrap();
        let before = tree(d);
        let run = ingest_cli(
            &d.join("work"),
            &[
                "--events",
                events.to_str().unwrap(),
                "--topics",
                "topics.toml",
                "--out",
                "out",
                "--keep-unengaged",
                "--quiet",
            ],
        );
        assert_ne!(run.code, 0, "{name:?} was accepted");
        assert!(
            run.stderr.contains("topics.toml:3"),
            "{name:?}: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(&format!("{name:?}")),
            "{name:?}: {}",
            run.stderr
        );
        assert_eq!(tree(d), before, "{name:?} wrote something");
    }
}

/// A post commit by `did` at `time_us`, on the `ai` topic.
fn post_at(did: &str, time_us: i64) -> String {
    format!(
        r#"{{"did":"{did}","time_us":{time_us},"kind":"commit","commit":{{"rev":"3mptbypoove2w","operation":"create","collection":"app.bsky.feed.post","rkey":"3mptbypfywk2v","record":{{"text":"ai news"}},"cid":"bafy"}}}}"#
    )
}

/// One event dated i64::MAX, before 1970, in 2022 or in the year 3000 must not set the
/// window: they are counted and set aside, and the panel has the samples' days; a window of
/// a billion days, or starting in an unwritable year, is refused naming the value and the
/// bound.
#[test]
fn implausible_times_are_set_aside_and_never_widen_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topics.toml"), REAL_TOPICS).unwrap();
    std::fs::create_dir(d.join("events")).unwrap();
    for f in ["corpus_expected_v1.jsonl", "subscribe_golden_v1.jsonl"] {
        std::fs::copy(samples().join(f), d.join("events").join(f)).unwrap();
    }
    let base = &[
        "--events",
        "events",
        "--topics",
        "topics.toml",
        "--keep-unengaged",
        "--quiet",
    ];
    let with = |out: &str, extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend(["--out", out]);
        args.extend(extra);
        ingest_cli(d, &args)
    };
    let run = with("clean", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let clean = aumann::panel::Panel::load(&d.join("clean")).unwrap();
    let odd = [
        i64::MAX,
        i64::MIN,
        -1_000_000,
        1_654_041_600_000_000,
        32_503_680_000_000_000,
    ];
    let lines: Vec<String> = (odd.iter().enumerate())
        .map(|(k, &t)| post_at(&format!("did:plc:odd{k:022}"), t))
        .collect();
    std::fs::write(d.join("events/odd.jsonl"), lines.join("\n") + "\n").unwrap();
    let run = with("odd", &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let panel = aumann::panel::Panel::load(&d.join("odd")).unwrap();
    assert_eq!(panel.manifest.day_labels, clean.manifest.day_labels);
    assert_eq!(panel.agents(), clean.agents());
    let report = panel.manifest.ingest.unwrap();
    assert_eq!(report.events, 162 + odd.len() as u64);
    assert_eq!((report.implausible_time, report.outside_window), (5, 0));
    assert!(
        run.stderr.contains("5 with a time before 2023"),
        "{}",
        run.stderr
    );
    // A window of the user's own counts what it holds, and sets the rest aside as outside it.
    let run = with("window", &["--from", "2026-07-04", "--days", "2"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = aumann::panel::Panel::load(&d.join("window"))
        .unwrap()
        .manifest
        .ingest
        .unwrap();
    assert_eq!(
        (report.implausible_time, report.outside_window),
        (0, 10 + 5)
    );

    for (extra, needles) in [
        (
            &["--from", "2026-07-04", "--days", "1000000000"][..],
            &["1000000000", "36525"][..],
        ),
        (
            &["--from", "99999999999999999-01-01", "--days", "3"][..],
            &["99999999999999999"][..],
        ),
    ] {
        let run = with("q", extra);
        assert_ne!(run.code, 0, "{extra:?}");
        for n in needles {
            assert!(run.stderr.contains(n), "{extra:?}: {}", run.stderr);
        }
        assert!(!d.join("q").exists());
    }
}

/// `.zst` files that cannot be decoded (frames of Jetstream's dictionary read without it,
/// plain JSON named `.zst`) are errors naming the file and the likely cause, unless skipping
/// them is asked for, and then the manifest counts them; a file cut before its first event
/// does not claim that the events before the cut were read.
#[test]
fn undecodable_zst_files_are_errors_naming_the_file_and_the_cause_unless_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("topics.toml"), REAL_TOPICS).unwrap();
    let events = d.join("events");
    std::fs::create_dir(&events).unwrap();
    std::fs::copy(
        samples().join("corpus_expected_v1.jsonl"),
        events.join("good.jsonl"),
    )
    .unwrap();
    let dict = std::fs::read(samples().join("zstd/jetstream_v1_dictionary.zdict")).unwrap();
    let golden = std::fs::read_to_string(samples().join("subscribe_golden_v1.jsonl")).unwrap();
    let mut compressor = zstd::bulk::Compressor::with_dictionary(3, &dict).unwrap();
    let frames: Vec<u8> = (golden.lines())
        .flat_map(|l| compressor.compress(format!("{l}\n").as_bytes()).unwrap())
        .collect();
    let run_on = |paths: &[&str], extra: &[&str]| {
        let mut args = vec!["--events"];
        args.extend(paths);
        args.extend([
            "--topics",
            "topics.toml",
            "--out",
            "p",
            "--keep-unengaged",
            "--quiet",
        ]);
        args.extend(extra);
        let _ = std::fs::remove_dir_all(d.join("p"));
        ingest_cli(d, &args)
    };
    std::fs::write(events.join("frames.jsonl.zst"), &frames).unwrap();
    for paths in [&["events"][..], &["events/frames.jsonl.zst"][..]] {
        let run = run_on(paths, &[]);
        assert_ne!(run.code, 0, "{paths:?}: {}", run.stderr);
        for n in [
            "frames.jsonl.zst",
            "dictionary",
            "--zstd-dictionary",
            "--skip-unreadable",
        ] {
            assert!(run.stderr.contains(n), "{paths:?}: {}", run.stderr);
        }
        assert!(!run.stderr.contains("were read"), "{}", run.stderr);
    }
    std::fs::write(events.join("plain.jsonl.zst"), &golden).unwrap();
    std::fs::remove_file(events.join("frames.jsonl.zst")).unwrap();
    let run = run_on(&["events"], &[]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("plain.jsonl.zst") && run.stderr.contains("not zstd"),
        "{}",
        run.stderr
    );
    std::fs::write(events.join("frames.jsonl.zst"), &frames).unwrap();
    let run = run_on(&["events"], &["--skip-unreadable"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("frames.jsonl.zst") && run.stderr.contains("plain.jsonl.zst"),
        "{}",
        run.stderr
    );
    let report = aumann::panel::Panel::load(&d.join("p"))
        .unwrap()
        .manifest
        .ingest
        .unwrap();
    assert_eq!((report.events, report.reading.unreadable_files), (152, 2));
    // Cut inside its first frame: a warning that says no event of it was read.
    std::fs::remove_file(events.join("frames.jsonl.zst")).unwrap();
    std::fs::remove_file(events.join("plain.jsonl.zst")).unwrap();
    let one = zstd::encode_all(golden.as_bytes(), 3).unwrap();
    std::fs::write(events.join("cut.jsonl.zst"), &one[..one.len() / 2]).unwrap();
    let run = run_on(&["events"], &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("cut.jsonl.zst"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("the events before it were read"),
        "{}",
        run.stderr
    );
}

/// Symlinks that loop (a folder linking to itself and to its parent) neither hang the search
/// nor make a file count twice; a file reached through two names is read once.
#[cfg(unix)]
#[test]
fn symlink_loops_in_an_events_folder_are_followed_once() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events");
    std::fs::create_dir_all(events.join("sub")).unwrap();
    std::fs::write(events.join("a.jsonl"), post_at("did:plc:a", 1) + "\n").unwrap();
    std::fs::write(events.join("sub/b.jsonl"), post_at("did:plc:b", 2) + "\n").unwrap();
    symlink(".", events.join("loop")).unwrap();
    symlink("..", events.join("sub/up")).unwrap();
    symlink("../a.jsonl", events.join("sub/also-a.jsonl")).unwrap();
    let (send, receive) = std::sync::mpsc::channel();
    let root = events.clone();
    std::thread::spawn(move || {
        let _ = send.send(aumann::ingest::files::event_files(&[root]).map_err(|e| e.to_string()));
    });
    let files = receive
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("the folder search did not end")
        .unwrap();
    assert_eq!(files, [events.join("a.jsonl"), events.join("sub/b.jsonl")]);
}

/// The same input gives byte-identical outputs on one thread and on two.
#[test]
fn ingest_outputs_do_not_depend_on_the_number_of_threads() {
    use aumann::ingest::panel_events::{EventsOptions, write_events};
    use aumann::panel::synth::{PanelConfig, generate};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let panel = generate(&PanelConfig {
        agents: 3_000,
        seed: 5,
        ..PanelConfig::default()
    });
    let options = EventsOptions {
        compress: true,
        likes_per_post: 1,
    };
    write_events(&panel, &d.join("synth"), options, &mut |_, _| {}).unwrap();
    let run = |threads: &str| {
        let out = format!("p{threads}");
        let args = [
            "panel",
            "ingest",
            "--events",
            "synth/events",
            "--topics",
            "synth/topics.toml",
            "--followers",
            "synth/followers.csv",
            "--out",
            &out,
            "--write-id-map",
            "--quiet",
        ];
        let run = crate::common::aumann(d, &args, &[("RAYON_NUM_THREADS", threads)]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let mut files = files_under(&d.join(&out));
        for (path, _) in &mut files {
            *path = path.strip_prefix(d.join(&out)).unwrap().to_path_buf();
        }
        files.sort();
        files
    };
    let (one, two) = (run("1"), run("2"));
    assert_eq!(one.len(), two.len());
    for ((p, a), (q, b)) in one.iter().zip(&two) {
        assert_eq!(p, q);
        assert!(a == b, "{} differs between 1 and 2 threads", p.display());
    }
}

/// The lines of every event file under `out`, or why one cannot be read whole (a broken
/// zstd frame, a line that is not JSON).
fn lines_on_disk(out: &Path) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for f in aumann::ingest::files::event_files(&[out.to_path_buf()]).map_err(|e| e.to_string())? {
        let bytes = std::fs::read(&f).unwrap();
        let bytes = if f.extension().is_some_and(|e| e == "zst") {
            zstd::decode_all(&bytes[..]).map_err(|e| format!("{}: {e}", f.display()))?
        } else {
            bytes
        };
        for line in String::from_utf8(bytes).unwrap().lines() {
            serde_json::from_str::<serde_json::Value>(line)
                .map_err(|e| format!("{}: {e}: {line}", f.display()))?;
            lines.push(line.to_string());
        }
    }
    Ok(lines)
}

/// The capture's cursor file, if it holds a number.
fn cursor_file(out: &Path) -> Option<i64> {
    std::fs::read_to_string(out.join("cursor"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn capture_config(port: u16, out: &Path, compress: bool) -> aumann::ingest::capture::CaptureConfig {
    aumann::ingest::capture::CaptureConfig {
        endpoint: format!("ws://127.0.0.1:{port}/subscribe"),
        collections: vec![],
        out: out.to_path_buf(),
        rotation: aumann::ingest::capture::Rotation::Hour,
        compress,
        rewind: std::time::Duration::from_secs(5),
        backoff: std::time::Duration::from_millis(20),
        max_backoff: std::time::Duration::from_millis(200),
        max_message_bytes: aumann::ingest::capture::MAX_MESSAGE_BYTES,
        ignore_cursor: false,
    }
}

/// Capture until the cursor file says `cursor` (or the capture ends, or five minutes pass: a
/// capture that never gets there), then stop it; whether it got there, and its statistics.
fn capture_until(
    config: &aumann::ingest::capture::CaptureConfig,
    cursor: i64,
) -> (bool, aumann::ingest::capture::CaptureStats) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let run = s.spawn(|| aumann::ingest::capture::capture(config, &stop, &mut |_| {}));
        let start = std::time::Instant::now();
        let reached = loop {
            if cursor_file(&config.out) == Some(cursor) {
                break true;
            }
            if run.is_finished() || start.elapsed().as_secs() > 300 {
                break false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        stop.store(true, Ordering::Relaxed);
        (reached, run.join().unwrap().unwrap())
    })
}

/// A capture that crashed while writing leaves a cut zstd frame (or half a line) at the end
/// of its file; resuming cuts it off before appending, so every event reads back.
#[test]
fn capture_resumes_after_a_crash_cut_its_last_frame_or_line() {
    let events = sample_events();
    let last = time_of(events.last().unwrap());
    for compress in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("capture");
        std::fs::create_dir(&out).unwrap();
        // events[10..] fall in the hour 2026-07-04T14; a crash while events[40..70] went out.
        let (ext, head, tail) = if compress {
            let frame = |lines: &[String]| {
                zstd::encode_all((lines.join("\n") + "\n").as_bytes(), 3).unwrap()
            };
            let cut = frame(&events[40..70]);
            (
                "jsonl.zst",
                frame(&events[10..40]),
                cut[..cut.len() / 2].to_vec(),
            )
        } else {
            let text = |lines: &[String]| (lines.join("\n") + "\n").into_bytes();
            let cut = events[40].as_bytes();
            (
                "jsonl",
                text(&events[10..40]),
                cut[..cut.len() / 2].to_vec(),
            )
        };
        std::fs::write(
            out.join(format!("2026-07-04T14.{ext}")),
            [head, tail].concat(),
        )
        .unwrap();
        std::fs::write(out.join("cursor"), format!("{}\n", time_of(&events[39]))).unwrap();
        let server = Replay::start(events.clone(), usize::MAX);
        let (reached, stats) = capture_until(&capture_config(server.port, &out, compress), last);
        assert!(reached, "compress {compress}: the capture never caught up");
        assert_eq!(stats.mended, 1, "compress {compress}");
        let lines = lines_on_disk(&out).unwrap_or_else(|e| panic!("compress {compress}: {e}"));
        let distinct: std::collections::BTreeSet<&String> = lines.iter().collect();
        let expected: std::collections::BTreeSet<&String> = events[10..].iter().collect();
        assert_eq!(distinct, expected, "compress {compress}");
    }
}

/// An event dated 2100 among real ones: written aside, counted, and the cursor does not
/// follow it, so the reconnection after a drop resumes where the real events stopped.
#[test]
fn capture_cursor_does_not_follow_an_event_dated_2100() {
    let mut events = sample_events();
    let last = time_of(events.last().unwrap());
    let future = post_at("did:plc:future000000000000000001", 4_102_444_800_000_000);
    events.insert(30, future.clone());
    let server = Replay::start(events.clone(), 60);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("capture");
    let (reached, stats) = capture_until(&capture_config(server.port, &out, false), last);
    assert!(reached, "cursor {:?}, wanted {last}", cursor_file(&out));
    assert!(stats.implausible >= 1, "{stats:?}");
    let aside = std::fs::read_to_string(out.join("implausible.jsonl")).unwrap();
    assert!(aside.lines().all(|l| l == future), "{aside}");
    let lines = lines_on_disk(&out).unwrap();
    let distinct: std::collections::BTreeSet<&String> = lines.iter().collect();
    let expected: std::collections::BTreeSet<&String> = events.iter().collect();
    assert_eq!(
        distinct, expected,
        "every event on disk, the future one aside"
    );
    let names: Vec<String> = (std::fs::read_dir(&out).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with("2100")), "{names:?}");
}

/// Run `aumann capture` in `dir` until it exits, or kill it after `limit` seconds (a capture
/// that should have refused to start); its exit code (None if killed) and standard error.
fn capture_cli(dir: &Path, args: &[&str], limit: u64) -> (Option<i32>, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aumann"))
        .current_dir(dir)
        .arg("capture")
        .args(args)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed().as_secs() > limit {
            child.kill().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let output = child.wait_with_output().unwrap();
    (code, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// A cursor file holding i64::MIN, a date in 2100 or no number at all, and a rewind of
/// 10^13 µs, are refused naming the file and the value (the last two naming the bound or the
/// flag that replays anyway) instead of wrapping around or replaying silently.
#[test]
fn capture_refuses_cursors_it_cannot_trust_and_rewinds_past_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("capture");
    std::fs::create_dir(&out).unwrap();
    let nowhere = "ws://127.0.0.1:1/subscribe";
    for (cursor, extra, needles) in [
        (
            "-9223372036854775808\n",
            &[][..],
            &["cursor", "-9223372036854775808"][..],
        ),
        ("4102444800000000\n", &[], &["cursor", "4102444800000000"]),
        ("garbage\n", &[], &["cursor", "garbage", "--ignore-cursor"]),
        ("", &["--rewind", "10000000"], &["10000000", "86400"]),
    ] {
        let _ = std::fs::remove_file(out.join("cursor"));
        if !cursor.is_empty() {
            std::fs::write(out.join("cursor"), cursor).unwrap();
        }
        let mut args = vec!["--endpoint", nowhere, "--out", "capture"];
        args.extend(extra);
        let (code, stderr) = capture_cli(d, &args, 120);
        assert!(
            code.is_some_and(|c| c != 0),
            "{cursor:?} {extra:?}: {code:?} {stderr}"
        );
        for n in needles {
            assert!(stderr.contains(n), "{cursor:?} {extra:?}: {stderr}");
        }
    }
    // Asked to, a capture starts over from the live stream.
    std::fs::write(out.join("cursor"), "garbage\n").unwrap();
    let server = Replay::start(sample_events(), usize::MAX);
    let endpoint = format!("ws://127.0.0.1:{}/subscribe", server.port);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_aumann"))
        .current_dir(d)
        .args([
            "capture",
            "--endpoint",
            &endpoint,
            "--out",
            "capture",
            "--ignore-cursor",
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_for(1);
    while cursor_file(&out).is_none() {
        assert!(child.try_wait().unwrap().is_none(), "the capture ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: sending SIGINT to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(server.connections()[0].0, None, "no cursor sent");
}

/// One message over the size limit among normal ones: counted and skipped, every other event
/// captured, and a bounded number of reconnections (not one forever at the same cursor).
#[test]
fn capture_skips_a_message_over_the_size_limit_and_reconnects_past_it() {
    let mut events = sample_events();
    let last = time_of(events.last().unwrap());
    // Between two events far enough apart that the skip has to search for its time.
    let k = (60..events.len())
        .find(|&k| time_of(&events[k]) - time_of(&events[k - 1]) > 1_000)
        .unwrap();
    let t = (time_of(&events[k - 1]) + time_of(&events[k])) / 2;
    let big = format!(
        r#"{{"did":"did:plc:big","time_us":{t},"kind":"commit","commit":{{"rev":"r","operation":"create","collection":"app.bsky.feed.post","rkey":"k","record":{{"text":"{}"}}}}}}"#,
        "x".repeat(17 << 20)
    );
    let normal = events.clone();
    events.insert(k, big);
    let server = Replay::start(events, usize::MAX);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("capture");
    let (reached, stats) = capture_until(&capture_config(server.port, &out, true), last);
    assert!(
        reached,
        "cursor {:?}, wanted {last}; {stats:?}",
        cursor_file(&out)
    );
    let lines = lines_on_disk(&out).unwrap();
    let distinct: std::collections::BTreeSet<&String> = lines.iter().collect();
    let expected: std::collections::BTreeSet<&String> = normal.iter().collect();
    assert_eq!(distinct, expected);
    assert_eq!(stats.oversized, 1, "{stats:?}");
    assert!(stats.connections < 80, "{stats:?}");
    // Skipped exactly: no event lost, and none written twice (no rewind past the skip).
    assert_eq!(lines.len(), normal.len());
}

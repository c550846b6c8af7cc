//! Property-based fuzzing of the readers of numbers and folders: `.npy` arrays, the long
//! table, model folders, scenario folders and panel folders. Each target mutates valid input
//! (bit flips, bytes set, cut, inserted, deleted, duplicated; for `.npy` also headers built
//! from hostile parts) and reads it; the invariant is "a clear error or a correct result":
//! no panic, no hang, and what is read is consistent (a shape and its values agree, values
//! finite where the reader promises it).
//!
//! A few hundred cases per target run in the test suite; `benches/fuzz.sh` runs many more
//! (`AUMANN_PROPTEST_CASES`). Seeds are pinned and failures recorded
//! (`tests/proptest-regressions/`).

use std::path::Path;
use std::sync::OnceLock;

use aumann::array::Values;
use proptest::prelude::*;

use crate::common::prop_runner;

/// One edit of a byte string; positions are taken modulo its length.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        any::<u8>(),
        Just(b'\n'),
        Just(b','),
        Just(b'-'),
        Just(b'9'),
        Just(0u8),
        Just(0xff),
        Just(b'"'),
    ];
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        (any::<usize>(), interesting).prop_map(|(p, b)| Mutation::SetByte(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..12)
        )
            .prop_map(|(p, v)| Mutation::Insert(p, v)),
        (any::<usize>(), 1usize..16).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..5)
}

fn mutate(mut bytes: Vec<u8>, edits: &[Mutation]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len().max(1);
        match edit {
            Mutation::FlipBit(p, b) if !bytes.is_empty() => bytes[p % len] ^= 1 << b,
            Mutation::SetByte(p, v) if !bytes.is_empty() => bytes[p % len] = *v,
            Mutation::Truncate(p) => bytes.truncate(p % len),
            Mutation::Insert(p, v) => {
                let at = p % (bytes.len() + 1);
                bytes.splice(at..at, v.iter().copied());
            }
            Mutation::Delete(p, n) if !bytes.is_empty() => {
                let at = p % len;
                bytes.drain(at..(at + n).min(bytes.len()));
            }
            Mutation::Duplicate(p, n) if !bytes.is_empty() => {
                let at = p % len;
                let piece = bytes[at..(at + n).min(bytes.len())].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => {}
        }
    }
    bytes
}

/// The invariant of a reader's answer: an error that says something, or a result.
fn clear<T, E: std::fmt::Display>(result: &Result<T, E>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let msg = e.to_string();
        prop_assert!(!msg.trim().is_empty(), "an empty error message");
        prop_assert!(!msg.contains("panicked"), "{msg}");
    }
    Ok(())
}

/// What an `.npy` read returned agrees with itself.
fn consistent(a: &aumann::npy::NpyArray) -> Result<(), TestCaseError> {
    let len = match &a.values {
        Values::F32(v) => v.len(),
        Values::F64(v) => v.len(),
    };
    prop_assert_eq!(a.shape.iter().product::<usize>(), len);
    Ok(())
}

fn valid_npy(dir: &Path) -> Vec<u8> {
    let p = dir.join("seed.npy");
    let v: Vec<f64> = (0..24).map(|i| 0.5 + i as f64 / 7.0).collect();
    aumann::npy::write(&p, &[2, 4, 3], &Values::F64(v)).unwrap();
    std::fs::read(&p).unwrap()
}

/// An `.npy` header assembled from hostile parts, and a data section of any length.
fn hostile_npy() -> impl Strategy<Value = Vec<u8>> {
    let descr = prop_oneof![
        Just("<f4"),
        Just("<f8"),
        Just(">f8"),
        Just("<i8"),
        Just("|u1"),
        Just("<f2"),
        Just("<c16"),
        Just("|b1"),
        Just("|O"),
        Just("<U3"),
        Just("f8"),
        Just(""),
    ];
    let dim = prop_oneof![
        0u64..5,
        Just(u64::MAX),
        Just(1 << 62),
        Just((1 << 62) + 1),
        Just(u32::MAX as u64),
        Just(1 << 40),
    ];
    let shape = proptest::collection::vec(dim, 0..5);
    let version = prop_oneof![Just([1u8, 0]), Just([2, 0]), Just([3, 0]), any::<[u8; 2]>()];
    (
        descr,
        any::<bool>(),
        shape,
        version,
        0usize..200,
        any::<bool>(),
    )
        .prop_map(|(descr, fortran, shape, version, data, negative)| {
            let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
            let mut dims = match dims.len() {
                1 => format!("({},)", dims[0]),
                _ => format!("({})", dims.join(", ")),
            };
            if negative {
                dims = dims.replacen('(', "(-", 1);
            }
            let fortran = if fortran { "True" } else { "False" };
            let mut h =
                format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {dims}, }}");
            while (10 + h.len() + 1) % 64 != 0 {
                h.push(' ');
            }
            h.push('\n');
            let mut out = b"\x93NUMPY".to_vec();
            out.extend(version);
            let len = h.len() as u16;
            out.extend(len.to_le_bytes());
            if version[0] >= 2 {
                out.extend([0, 0]);
            }
            out.extend(h.as_bytes());
            out.extend((0..data).map(|i| (i * 31) as u8));
            out
        })
}

/// Read `bytes` as an `.npy` file every way the program does.
fn read_every_way(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let p = dir.join("case.npy");
    std::fs::write(&p, bytes).unwrap();
    let a = aumann::npy::read(&p);
    clear(&a)?;
    if let Ok(a) = &a {
        consistent(a)?;
    }
    let c = aumann::npy::read_counts(&p);
    clear(&c)?;
    if let Ok(c) = &c {
        consistent(c)?;
    }
    let f = aumann::run::read_features(&p);
    clear(&f)?;
    if let Ok((x, _)) = &f {
        prop_assert!(
            x.check_finite("x").is_ok(),
            "features read with a non-finite value"
        );
    }
    clear(&aumann::train::read_populations(&p))?;
    Ok(())
}

#[test]
fn npy_files_mutated_or_built_from_hostile_headers() {
    let dir = tempfile::tempdir().unwrap();
    let seed = valid_npy(dir.path());
    let mut runner = prop_runner("tests/proptest-regressions/fuzz_npy.txt", 768);
    runner
        .run(&mutations(), |edits| {
            read_every_way(dir.path(), &mutate(seed.clone(), &edits))
        })
        .unwrap();
    let mut runner = prop_runner("tests/proptest-regressions/fuzz_npy_headers.txt", 512);
    runner
        .run(&hostile_npy(), |bytes| read_every_way(dir.path(), &bytes))
        .unwrap();
}

const TABLE: &str = "step,agent,wealth,income\n0,1,5,1.5\n0,2,3,0.5\n1,1,6,2\n1,2,2.5,0\n2,1,7,1\n";

#[test]
fn long_tables_mutated() {
    let path = Path::new("table.csv");
    let features = ["wealth".to_string(), "income".to_string()];
    let mut runner = prop_runner("tests/proptest-regressions/fuzz_table.txt", 1024);
    let fills = prop_oneof![
        Just(aumann::longtable::Fill::Refuse),
        Just(aumann::longtable::Fill::Value(0.0)),
        Just(aumann::longtable::Fill::Value(1e39)),
    ];
    runner
        .run(&(mutations(), fills), |(edits, fill)| {
            let bytes = mutate(TABLE.as_bytes().to_vec(), &edits);
            let text = String::from_utf8_lossy(&bytes);
            let got = aumann::longtable::pivot_csv(&text, path, "step", "agent", &features, fill);
            clear(&got)?;
            if let Ok(p) = got {
                let [t, n, d] = p.features.shape();
                prop_assert_eq!((t, n, d), (p.steps.len(), p.agents.len(), 2));
                prop_assert!(t > 0 && n > 0);
                prop_assert!(p.features.check_finite("table").is_ok());
            }
            Ok(())
        })
        .unwrap();
}

/// A model folder written once by the library, for the model targets to mutate.
fn model_folder() -> &'static (Vec<u8>, Vec<u8>) {
    static MODEL: OnceLock<(Vec<u8>, Vec<u8>)> = OnceLock::new();
    MODEL.get_or_init(|| {
        use aumann::indicators::deepset::DeepSetConfig;
        let dir = tempfile::tempdir().unwrap();
        let device = aumann::backend::Backend::Flex.device().unwrap();
        let config = DeepSetConfig::new(3).with_hidden(4).with_depth(2);
        let model = config.init(&device);
        aumann::model::save(dir.path(), &model, &config, "fuzz seed").unwrap();
        let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
        (read("config.json"), read("model.bpk"))
    })
}

#[test]
fn model_folders_mutated() {
    let (config, weights) = model_folder().clone();
    let dir = tempfile::tempdir().unwrap();
    let device = aumann::backend::Backend::Flex.device().unwrap();
    let mut runner = prop_runner("tests/proptest-regressions/fuzz_model.txt", 384);
    runner
        .run(&(mutations(), any::<bool>()), |(edits, in_config)| {
            let (c, w) = if in_config {
                (mutate(config.clone(), &edits), weights.clone())
            } else {
                (config.clone(), mutate(weights.clone(), &edits))
            };
            std::fs::write(dir.path().join("config.json"), c).unwrap();
            std::fs::write(dir.path().join("model.bpk"), w).unwrap();
            let loaded = aumann::model::load(dir.path(), &device, Some(3));
            clear(&loaded)?;
            if let Ok((model, _)) = loaded {
                prop_assert!(model.first_non_finite().unwrap().is_none());
            }
            Ok(())
        })
        .unwrap();
}

/// A scenario folder written once by the library: its files, for the targets to mutate.
fn scenario_folder() -> &'static Vec<(String, Vec<u8>)> {
    static FOLDER: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FOLDER.get_or_init(|| {
        use aumann::choice::Choice;
        use aumann::scenario::{Overrides, ScenarioKind};
        let dir = tempfile::tempdir().unwrap();
        let overrides = Overrides {
            agents: Some(12),
            steps: Some(3),
            ..Overrides::default()
        };
        let kind = ScenarioKind::from_label("social").unwrap();
        let scenario = (kind.entry().with)(&overrides).unwrap();
        let simulation = scenario.simulate().unwrap();
        aumann::scenario::save(dir.path(), scenario.as_ref(), &simulation).unwrap();
        files_of(dir.path())
    })
}

/// Every file under `dir`, by path relative to it.
fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// Write `files` into `dir` with the file `which` (an index, modulo their number) mutated.
fn write_mutated(dir: &Path, files: &[(String, Vec<u8>)], which: usize, edits: &[Mutation]) {
    let _ = std::fs::remove_dir_all(dir);
    for (i, (name, bytes)) in files.iter().enumerate() {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes = match i == which % files.len() {
            true => mutate(bytes.clone(), edits),
            false => bytes.clone(),
        };
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn scenario_folders_mutated() {
    let files = scenario_folder();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    let mut runner = prop_runner("tests/proptest-regressions/fuzz_scenario.txt", 384);
    runner
        .run(&(mutations(), any::<usize>()), |(edits, which)| {
            write_mutated(&dir, files, which, &edits);
            let loaded = aumann::scenario::load(&dir);
            clear(&loaded)?;
            if let Ok(l) = loaded {
                prop_assert!(l.simulation.features.check_finite("features").is_ok());
                prop_assert!(l.simulation.baseline.check_finite("baseline").is_ok());
            }
            Ok(())
        })
        .unwrap();
}

/// A small panel folder written once by the library.
fn panel_folder() -> &'static Vec<(String, Vec<u8>)> {
    static FOLDER: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    FOLDER.get_or_init(|| {
        use aumann::panel::synth::{PanelConfig, generate};
        let dir = tempfile::tempdir().unwrap();
        let panel = generate(&PanelConfig {
            agents: 20,
            days: 2,
            ..PanelConfig::default()
        });
        panel.save(dir.path()).unwrap();
        files_of(dir.path())
    })
}

#[test]
fn panel_folders_mutated() {
    let files = panel_folder();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("p");
    let mut runner = prop_runner("tests/proptest-regressions/fuzz_panel.txt", 384);
    runner
        .run(&(mutations(), any::<usize>()), |(edits, which)| {
            write_mutated(&dir, files, which, &edits);
            let loaded = aumann::panel::Panel::load(&dir);
            clear(&loaded)?;
            if let Ok(p) = loaded {
                prop_assert!(p.followers.iter().all(|f| f.is_finite() && *f >= 0.0));
                for x in &p.topics {
                    prop_assert!(x.check_finite("topic").is_ok());
                }
            }
            Ok(())
        })
        .unwrap();
}

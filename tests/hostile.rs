//! Hostile input, crashes and signals, through the command line: every run ends with a result
//! or a one-line error (exit 2), never a panic, an abort or a hang; nothing is written outside
//! the output or left half-written; no NaN or infinity is written.
//!
//! Each test drives the binary as a user would. `AUMANN_BIN` runs them against another build
//! of the binary (an older one, to see the defects they guard against).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aumann::array::Values;

use crate::common::raw_npy;

/// The binary under test.
fn binary() -> PathBuf {
    std::env::var_os("AUMANN_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_aumann")))
}

/// A finished run.
struct Run {
    code: Option<i32>,
    stderr: String,
}

/// Run `args` in `dir`, killing the run after `limit` (a guard against hangs and runaway
/// allocations: a correct binary answers every case here in well under a second).
fn run(dir: &Path, args: &[&str], limit: Duration) -> Run {
    let child = Command::new(binary())
        .current_dir(dir)
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let guard = std::thread::spawn(move || child.wait_with_output().unwrap());
    let start = Instant::now();
    while !guard.is_finished() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(20));
    }
    if !guard.is_finished() {
        // SAFETY: killing our own child process.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let out = guard.join().unwrap();
    Run {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `args` must fail cleanly: exit 2, one line naming every `needle`, no panic.
fn refused(dir: &Path, args: &[&str], needles: &[&str]) {
    let r = run(dir, args, Duration::from_secs(120));
    let msg = r.stderr.trim();
    assert_eq!(r.code, Some(2), "{args:?}: exit {:?}\n{msg}", r.code);
    assert!(!msg.contains("panicked"), "{args:?} panicked:\n{msg}");
    assert_eq!(msg.lines().count(), 1, "{args:?}: not one line:\n{msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{args:?}: {msg:?} lacks {needle:?}");
    }
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Digest)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let digest = if meta.is_dir() {
                stack.push(p.clone());
                Digest::Folder
            } else if meta.is_file() {
                let mut hasher = std::hash::DefaultHasher::new();
                std::hash::Hash::hash(&std::fs::read(&p).unwrap(), &mut hasher);
                Digest::File(meta.len(), std::hash::Hasher::finish(&hasher))
            } else {
                Digest::Other
            };
            out.push((p, digest));
        }
    }
    out.sort();
    out
}

/// What [`snapshot`] keeps of each entry: a file's length and hash of its bytes.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Digest {
    Folder,
    File(u64, u64),
    Other,
}

fn write_npy(dir: &Path, name: &str, shape: &[usize], values: Vec<f64>) {
    aumann::npy::write(&dir.join(name), shape, &Values::F64(values)).unwrap();
}

/// Positive features, `[n, 3]`.
fn features(dir: &Path, name: &str, n: usize) {
    let v = (0..n * 3)
        .map(|i| 0.5 + (i * 37 % 11) as f64 / 3.0)
        .collect();
    write_npy(dir, name, &[n, 3], v);
}

#[test]
fn an_output_that_is_a_fifo_a_link_or_an_input_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    features(d, "x.npy", 20);
    std::fs::write(d.join("victim"), b"victim").unwrap();
    std::os::unix::fs::symlink(d.join("victim"), d.join("link.npy")).unwrap();
    assert!(
        Command::new("mkfifo")
            .arg(d.join("fifo"))
            .status()
            .unwrap()
            .success()
    );
    let before = snapshot(d);
    let attribute = [
        "attribute",
        "--features",
        "x.npy",
        "--indicator",
        "variance",
        "--quiet",
    ];
    let with_out = |out: &'static str| [&attribute[..], &["--out", out]].concat();
    refused(d, &with_out("fifo"), &["fifo", "FIFO"]);
    refused(d, &with_out("link.npy"), &["link.npy", "symbolic link"]);
    refused(d, &with_out("x.npy"), &["x.npy", "overwrite the input"]);
    refused(d, &with_out("./x.npy"), &["overwrite the input"]);
    let summary = [&with_out("phi.npy")[..], &["--summary", "phi.npy"]].concat();
    refused(d, &summary, &["phi.npy", "two outputs"]);
    assert_eq!(snapshot(d), before, "an input or a bystander changed");
    // A folder output that holds an input (and looks like an earlier output of its kind).
    std::fs::create_dir(d.join("m")).unwrap();
    write_npy(d, "m/x.npy", &[4, 10, 3], vec![1.0; 120]);
    std::fs::write(d.join("m/config.json"), b"{}").unwrap();
    let before = snapshot(d);
    let train = [
        "train",
        "--features",
        "m/x.npy",
        "--target-indicator",
        "variance",
    ];
    refused(
        d,
        &[&train[..], &["--out", "m"]].concat(),
        &["overwrite the input"],
    );
    assert_eq!(snapshot(d), before, "the model folder's input changed");
}

#[test]
fn a_study_never_replaces_the_panel_it_reads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let panel = [
        "panel", "synth", "--agents", "300", "--days", "2", "--out", "p",
    ];
    assert_eq!(run(d, &panel, Duration::from_secs(120)).code, Some(0));
    // A panel folder holds no run.json, so without the input check only the marker rule
    // stands between the study and the panel; give the folder one to take that away.
    std::fs::write(d.join("p/run.json"), b"{}").unwrap();
    let before = snapshot(d);
    refused(
        d,
        &["study", "--panel", "p", "--out", "p", "--quiet"],
        &["overwrite the input"],
    );
    assert_eq!(snapshot(d), before);
}

/// Spawn `args` in `dir` and wait until a temporary output (`.*.tmp`) exists in `dir`.
fn spawn_until_staged(dir: &Path, args: &[&str]) -> Child {
    spawn_until_staged_with(dir, args, None)
}

/// [`spawn_until_staged`], the child started with `ignoring` set to be ignored.
fn spawn_until_staged_with(dir: &Path, args: &[&str], ignoring: Option<libc::c_int>) -> Child {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(binary());
    command.current_dir(dir).args(args).stderr(Stdio::piped());
    if let Some(signal) = ignoring {
        // SAFETY: `signal` is async-signal-safe and only changes the child's disposition.
        unsafe {
            command.pre_exec(move || {
                libc::signal(signal, libc::SIG_IGN);
                Ok(())
            });
        }
    }
    let mut child = command.spawn().unwrap();
    let staged = || {
        std::fs::read_dir(dir).unwrap().any(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.starts_with('.') && name.ends_with(".tmp")
        })
    };
    let start = Instant::now();
    while !staged() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{args:?} ended ({status}) before a temporary output appeared");
        }
        if start.elapsed() > Duration::from_secs(600) {
            let _ = child.kill();
            panic!("{args:?}: no temporary output appeared");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child
}

/// A Gini attribution of `x.npy` long enough to be signalled while it writes `phi.npy`.
const LONG_ATTRIBUTION: [&str; 10] = [
    "attribute",
    "--features",
    "x.npy",
    "--indicator",
    "gini",
    "--steps",
    "256",
    "--out",
    "phi.npy",
    "--quiet",
];

/// Write the `x.npy` of [`LONG_ATTRIBUTION`] into `dir`.
fn long_attribution_input(dir: &Path) {
    let synth = [
        "synth",
        "--agents",
        "200000",
        "--time-steps",
        "8",
        "--out",
        "x.npy",
    ];
    assert_eq!(run(dir, &synth, Duration::from_secs(300)).code, Some(0));
}

#[test]
fn a_signal_while_outputs_are_staged_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    long_attribution_input(d);
    let before = snapshot(d);
    let attribute = [&LONG_ATTRIBUTION[..], &["--summary", "s.json"]].concat();
    let simulate = ["simulate", "cascade", "--agents", "100000", "--out", "sim"];
    for (args, signal) in [
        (&attribute[..], libc::SIGINT),
        (&attribute[..], libc::SIGTERM),
        (&simulate[..], libc::SIGINT),
    ] {
        let child = spawn_until_staged(d, args);
        // SAFETY: signalling our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, signal) }, 0);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(128 + signal), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(snapshot(d), before, "{args:?} left something behind");
    }
}

#[test]
fn a_signal_the_run_was_started_ignoring_stays_ignored() {
    // `nohup` starts a command with SIGHUP ignored; a hang-up must not end the run.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    long_attribution_input(d);
    let child = spawn_until_staged_with(d, &LONG_ATTRIBUTION, Some(libc::SIGHUP));
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGHUP) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(d.join("phi.npy").is_file());
}

#[test]
fn an_npy_header_that_lies_about_its_size_is_refused_before_allocation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let huge = (1u64 << 62) + 1;
    raw_npy(
        d,
        "overflow.npy",
        "<f4",
        &format!("({huge}, 300, 3)"),
        &[0; 64],
    );
    raw_npy(d, "lying.npy", "<f8", "(100000000000, 3)", &[0; 64]);
    for file in ["overflow.npy", "lying.npy"] {
        for command in ["attribute", "eval"] {
            let args = [
                command,
                "--features",
                file,
                "--indicator",
                "variance",
                "--out",
                "o.npy",
            ];
            refused(d, &args, &[file]);
        }
    }
    assert!(!d.join("o.npy").exists());
}

#[test]
fn counts_beyond_what_a_run_can_use_are_refused_naming_value_and_bound() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    features(d, "x.npy", 20);
    let attribute = [
        "attribute",
        "--features",
        "x.npy",
        "--indicator",
        "variance",
    ];
    let steps = [&attribute[..], &["--steps", "4000000000", "--out", "o.npy"]].concat();
    refused(d, &steps, &["4000000000", "1048576"]);
    let gauss = [
        &attribute[..],
        &["--rule", "gauss", "--steps", "100000", "--out", "o.npy"],
    ];
    refused(d, &gauss.concat(), &["100000", "16384"]);
    let days = [
        "panel",
        "synth",
        "--agents",
        "10",
        "--days",
        "1000000000",
        "--out",
        "p",
    ];
    refused(d, &days, &["1000000000", "36525"]);
    let study = [
        "study",
        "--agents",
        "100",
        "--days",
        "1000000000",
        "--out",
        "s",
        "--quiet",
    ];
    refused(d, &study, &["1000000000"]);
    let horizon = [
        "simulate",
        "social",
        "--horizon",
        "1000000000",
        "--out",
        "s",
    ];
    refused(d, &horizon, &["1000000000", "10000"]);
    let agents = ["synth", "--agents", "4000000000000000", "--out", "big.npy"];
    refused(d, &agents, &["available"]);
    let v = (0..8 * 20 * 3)
        .map(|i| 0.5 + (i * 37 % 11) as f64 / 3.0)
        .collect();
    write_npy(d, "pop.npy", &[8, 20, 3], v);
    let train = [
        "train",
        "--features",
        "pop.npy",
        "--target-indicator",
        "linear",
        "--depth",
    ];
    refused(
        d,
        &[&train[..], &["1000000000", "--out", "m"]].concat(),
        &["64"],
    );

    // The same bounds hold for what a folder says of itself.
    let small = [
        "simulate", "social", "--agents", "30", "--steps", "3", "--out",
    ];
    assert_eq!(
        run(d, &[&small[..], &["s"]].concat(), Duration::from_secs(120)).code,
        Some(0)
    );
    let manifest = std::fs::read_to_string(d.join("s/scenario.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    json["parameters"]["horizon"] = serde_json::json!(1_000_000_000u64);
    std::fs::write(d.join("s/scenario.json"), json.to_string()).unwrap();
    let rollout = [
        "attribute",
        "--scenario",
        "s",
        "--indicator",
        "rollout",
        "--out",
        "o.npy",
    ];
    refused(d, &rollout, &["1000000000"]);
    let model = [
        "train",
        "--features",
        "pop.npy",
        "--target-indicator",
        "linear",
        "--epochs",
        "1",
    ];
    let made = run(
        d,
        &[&model[..], &["--out", "m", "--quiet"]].concat(),
        Duration::from_secs(300),
    );
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    let config = std::fs::read_to_string(d.join("m/config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&config).unwrap();
    json["depth"] = serde_json::json!(1_000_000_000u64);
    std::fs::write(d.join("m/config.json"), json.to_string()).unwrap();
    let deepset = [
        &attribute[..2],
        &["x.npy", "--indicator", "deepset", "--model", "m"],
    ];
    refused(
        d,
        &[&deepset.concat()[..], &["--out", "o.npy"]].concat(),
        &["m/config.json"],
    );
    assert!(!d.join("o.npy").exists() && !d.join("p").exists() && !d.join("big.npy").exists());
}

/// `[n, 3]` features with a few agents at `big` in every coordinate.
fn features_with(dir: &Path, name: &str, n: usize, big: f64) {
    let v = (0..n * 3)
        .map(|i| {
            if i / 3 % 7 == 0 {
                big
            } else {
                1.0 + (i % 5) as f64
            }
        })
        .collect::<Vec<_>>();
    aumann::npy::write(
        &dir.join(name),
        &[n, 3],
        &Values::F32(v.iter().map(|&x| x as f32).collect()),
    )
    .unwrap();
}

#[test]
fn results_that_overflow_f32_are_reported_with_the_fix_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    features_with(d, "near_max.npy", 50, 3e38);
    features_with(d, "big.npy", 50, 1e20);
    let attribute = |file: &'static str, indicator: &'static str, method: &'static str| {
        vec![
            "attribute",
            "--features",
            file,
            "--indicator",
            indicator,
            "--method",
            method,
            "--out",
            "phi.npy",
            "--summary",
            "s.json",
            "--quiet",
        ]
    };
    for (file, indicator) in [("near_max.npy", "variance"), ("big.npy", "variance")] {
        for method in ["path", "exact"] {
            refused(
                d,
                &attribute(file, indicator, method),
                &["overflow", "--precision f64"],
            );
        }
    }
    assert!(!d.join("phi.npy").exists() && !d.join("s.json").exists());
    // mult's means and their product are taken in f64 on the host: near f32's largest value
    // the f32 run is fine (V = ln(1 + Π x̄_k) ≈ 265), every number written finite.
    let r = run(
        d,
        &attribute("near_max.npy", "mult", "path"),
        Duration::from_secs(120),
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let Values::F32(phi) = aumann::npy::read(&d.join("phi.npy")).unwrap().values else {
        panic!("f32 output")
    };
    assert!(phi.iter().all(|v| v.is_finite()));
    std::fs::remove_file(d.join("phi.npy")).unwrap();
    // In f64 the same input is fine, and every number written is finite.
    let mut f64_run = attribute("big.npy", "variance", "path");
    f64_run.extend(["--precision", "f64"]);
    let r = run(d, &f64_run, Duration::from_secs(120));
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let phi = aumann::npy::read(&d.join("phi.npy")).unwrap();
    let Values::F64(phi) = phi.values else {
        panic!("f64 output")
    };
    assert!(phi.iter().all(|v| v.is_finite()));
    let summary = std::fs::read_to_string(d.join("s.json")).unwrap();
    assert!(
        !summary.contains("null") && !summary.contains("NaN"),
        "{summary}"
    );
    // Comparison methods rank composites: an overflow is an error, not a panic.
    for indicator in ["gini", "variance", "mult", "linear"] {
        let args = [
            "compare",
            "--features",
            "near_max.npy",
            "--indicator",
            indicator,
        ];
        let r = run(
            d,
            &[&args[..], &["--out", "cmp"]].concat(),
            Duration::from_secs(120),
        );
        assert!(
            matches!(r.code, Some(0 | 2)),
            "{indicator}: {:?} {}",
            r.code,
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "{indicator}: {}", r.stderr);
        if r.code == Some(0) {
            for e in std::fs::read_dir(d.join("cmp")).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "npy") {
                    let a = aumann::npy::read(&p).unwrap();
                    let Values::F64(v) = a.values else { continue };
                    assert!(v.iter().all(|x| x.is_finite()), "{}", p.display());
                }
            }
            std::fs::remove_dir_all(d.join("cmp")).unwrap();
        }
    }
}

#[test]
fn eval_holds_to_the_domain_attribute_enforces() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v: Vec<f64> = (0..30).map(|i| -1.0 - i as f64).collect();
    write_npy(d, "negative.npy", &[10, 3], v);
    let attribute = [
        "attribute",
        "--features",
        "negative.npy",
        "--indicator",
        "mult",
    ];
    refused(
        d,
        &[&attribute[..], &["--out", "o.npy"]].concat(),
        &["mult", "positive"],
    );
    let eval = [
        "eval",
        "--features",
        "negative.npy",
        "--indicator",
        "mult",
        "--out",
        "v.npy",
    ];
    refused(d, &eval, &["mult", "positive"]);
    assert!(!d.join("v.npy").exists());
}

#[test]
fn a_model_with_a_non_finite_weight_is_refused_on_load() {
    use aumann::indicators::deepset::DeepSetConfig;
    use burn::module::Param;
    use burn::tensor::{Tensor, TensorData};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    features(d, "x.npy", 20);
    let device = aumann::backend::Backend::Flex.device().unwrap();
    let config = DeepSetConfig::new(3).with_hidden(4).with_depth(2);
    let mut model = config.init(&device);
    let mut w = vec![0.1f32; 4 * 4];
    w[5] = f32::NAN;
    model.rho[0].weight =
        Param::from_tensor(Tensor::from_data(TensorData::new(w, [4, 4]), &device));
    aumann::model::save(&d.join("m"), &model, &config, "a model with a NaN weight").unwrap();
    for command in ["attribute", "eval"] {
        let args = [
            command,
            "--features",
            "x.npy",
            "--indicator",
            "deepset",
            "--model",
            "m",
        ];
        refused(
            d,
            &[&args[..], &["--out", "o.npy"]].concat(),
            &["rho.0.weight", "NaN"],
        );
    }
    assert!(!d.join("o.npy").exists());
}

#[test]
fn import_refuses_a_table_without_rows_and_values_beyond_f32() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("header.csv"), "step,agent,wealth\n").unwrap();
    std::fs::write(d.join("huge.csv"), "step,agent,wealth\n0,1,5\n0,2,1e39\n").unwrap();
    std::fs::write(d.join("gap.csv"), "step,agent,wealth\n0,1,5\n1,2,3\n").unwrap();
    let import = |csv: &'static str| {
        vec![
            "import",
            "--csv",
            csv,
            "--step",
            "step",
            "--agent",
            "agent",
            "--features",
            "wealth",
        ]
    };
    let with =
        |csv, extra: &[&'static str]| [&import(csv)[..], extra, &["--out", "x.npy"]].concat();
    refused(d, &with("header.csv", &[]), &["header.csv", "no rows"]);
    refused(d, &with("huge.csv", &[]), &["huge.csv", "line 3", "1e39"]);
    refused(d, &with("gap.csv", &["--fill", "1e39"]), &["fill", "1e39"]);
    assert!(!d.join("x.npy").exists());
    let fine = run(
        d,
        &with("gap.csv", &["--fill", "0"]),
        Duration::from_secs(60),
    );
    assert_eq!(fine.code, Some(0), "{}", fine.stderr);
}

/// Every entry under `dir` but `skip`, by relative path, with the digest of its bytes.
fn outputs(dir: &Path, skip: &[&str]) -> Vec<(PathBuf, Digest)> {
    (snapshot(dir).into_iter())
        .map(|(p, b)| (p.strip_prefix(dir).unwrap().to_path_buf(), b))
        .filter(|(p, _)| !skip.iter().any(|s| p.ends_with(s)))
        .collect()
}

#[test]
fn the_path_engine_in_f64_and_the_study_give_the_same_bytes_on_one_and_two_threads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let synth = [
        "synth",
        "--agents",
        "30000",
        "--time-steps",
        "3",
        "--out",
        "x.npy",
    ];
    assert_eq!(run(d, &synth, Duration::from_secs(120)).code, Some(0));
    for threads in ["1", "2"] {
        for indicator in ["linear", "mult", "variance", "gini"] {
            let out = format!("t{threads}/{indicator}.npy");
            std::fs::create_dir_all(d.join(format!("t{threads}"))).unwrap();
            let args = [
                "attribute",
                "--features",
                "x.npy",
                "--indicator",
                indicator,
                "--precision",
                "f64",
                "--threads",
                threads,
                "--quiet",
                "--out",
                &out,
            ];
            let r = run(d, &args, Duration::from_secs(300));
            assert_eq!(r.code, Some(0), "{}", r.stderr);
        }
        let study = [
            "study",
            "--agents",
            "3000",
            "--days",
            "3",
            "--sizes",
            "100,1000",
            "--seeds",
            "3",
            "--threads",
            threads,
            "--quiet",
            "--out",
        ];
        let out = format!("study{threads}");
        let r = run(d, &[&study[..], &[&out]].concat(), Duration::from_secs(600));
        assert_eq!(r.code, Some(0), "{}", r.stderr);
    }
    let (one, two) = (outputs(&d.join("t1"), &[]), outputs(&d.join("t2"), &[]));
    assert_eq!(one.len(), 4);
    assert!(one == two, "φ differs between 1 and 2 threads");
    // run.json records timings and the thread count; everything else must match byte for byte.
    let (one, two) = (
        outputs(&d.join("study1"), &["run.json"]),
        outputs(&d.join("study2"), &["run.json"]),
    );
    assert!(one.len() > 10, "{} study outputs", one.len());
    // The report ends with the command that made it, which names the thread count.
    let made_by = |study: &str, file: &Path| {
        let text = std::fs::read_to_string(d.join(study).join(file)).unwrap();
        text.split("Made by").next().unwrap().to_string()
    };
    for ((p, a), (q, b)) in one.iter().zip(&two) {
        assert_eq!(p, q);
        let same = match p.ends_with("report.md") {
            true => made_by("study1", p) == made_by("study2", q),
            false => a == b,
        };
        assert!(same, "{} differs between 1 and 2 threads", p.display());
    }
    assert_eq!(one.len(), two.len());
}

#[test]
fn inputs_that_are_not_regular_files_are_refused_not_waited_on() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let synth = [
        "panel", "synth", "--agents", "60", "--days", "2", "--events", "ev",
    ];
    let made = run(d, &synth, Duration::from_secs(120));
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    for name in ["fifo.npy", "fifo.toml", "ev/events/fifo.jsonl"] {
        assert!(
            Command::new("mkfifo")
                .arg(d.join(name))
                .status()
                .unwrap()
                .success()
        );
    }
    let attribute = [
        "attribute",
        "--features",
        "fifo.npy",
        "--indicator",
        "linear",
    ];
    refused(
        d,
        &[&attribute[..], &["--out", "o.npy"]].concat(),
        &["fifo.npy", "FIFO"],
    );
    let ingest = |topics: &'static str| {
        [
            "panel",
            "ingest",
            "--events",
            "ev/events",
            "--topics",
            topics,
            "--out",
            "p",
            "--quiet",
        ]
    };
    refused(d, &ingest("ev/topics.toml"), &["fifo.jsonl", "FIFO"]);
    std::fs::remove_file(d.join("ev/events/fifo.jsonl")).unwrap();
    refused(d, &ingest("fifo.toml"), &["fifo.toml", "FIFO"]);
    // Neither a missing row for every agent nor a file name that is not UTF-8 is silent.
    std::fs::write(d.join("empty.csv"), "did,followers\n").unwrap();
    let empty = [&ingest("ev/topics.toml")[..], &["--followers", "empty.csv"]].concat();
    refused(d, &empty, &["empty.csv", "no account"]);
    let events_read = |out: &str| {
        let args = [&ingest("ev/topics.toml")[..6], &["--out", out, "--quiet"]].concat();
        let r = run(d, &args, Duration::from_secs(120));
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        let manifest = std::fs::read_to_string(d.join(out).join("manifest.json")).unwrap();
        let json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        json["ingest"]["events"].as_u64().unwrap()
    };
    let all = events_read("p1");
    let first = std::fs::read_dir(d.join("ev/events"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let ext = if first.to_string_lossy().ends_with(".zst") {
        ".jsonl.zst"
    } else {
        ".jsonl"
    };
    use std::os::unix::ffi::OsStrExt;
    let odd = [&b"\xff\xfe"[..], ext.as_bytes()].concat();
    std::fs::rename(
        &first,
        d.join("ev/events").join(std::ffi::OsStr::from_bytes(&odd)),
    )
    .unwrap();
    assert_eq!(
        events_read("p2"),
        all,
        "a file whose name is not UTF-8 was skipped"
    );
}

/// Features no file would pass (the reader refuses infinities) but a library caller can
/// hand over: an agent whose composite is `inf − inf` has no rank, so the Gini's routes
/// answer with an error naming the step and agent, not a panic or a NaN.
#[test]
fn a_composite_without_an_order_is_an_error_naming_its_agent() {
    use aumann::prelude::*;
    let device = crate::common::device(Backend::Flex);
    let mut values: Vec<f64> = (0..2 * 5 * 2).map(|v| v as f64).collect();
    values[(5 + 3) * 2] = f64::INFINITY; // step 1, agent 3
    values[(5 + 3) * 2 + 1] = f64::NEG_INFINITY;
    let x = Array3::from_f64([2, 5, 2], values);
    let b = Baseline::resolve(&BaselineSpec::Zero, &x).unwrap();
    let indicator = aumann::indicators::analytic(Analytic::Gini);
    let options = PathOptions::default();
    let e = path::attribute(indicator.as_ref(), &x, &b, &options, &device, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("step 1, agent 3") && e.contains("gini"), "{e}");
    // The tensor program (what a device runs), through the general route.
    struct TensorGini;
    impl Indicator for TensorGini {
        fn name(&self) -> &str {
            "gini"
        }
        fn forward(&self, z: burn::tensor::Tensor<3>) -> aumann::Result<burn::tensor::Tensor<1>> {
            aumann::indicators::gini::Gini.forward(z)
        }
    }
    let e = path::attribute(&TensorGini, &x, &b, &options, &device, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("agent 3") && e.contains("gini"), "{e}");
}

//! The `aumann attribute` contract: outputs on success; on bad input a non-zero exit, a
//! one-line message naming the problem and where, and no output file left behind.

use std::path::{Path, PathBuf};

use std::process::Command;

use aumann::array::Values;

use crate::common::{aumann, oracle_dir, raw_npy};

fn write_npy(dir: &Path, name: &str, shape: &[usize], values: Vec<f64>) -> PathBuf {
    let p = dir.join(name);
    crate::common::write_raw_npy(&p, shape, &Values::F64(values));
    p
}

/// Positive heavy-ish features, `[n, d]`.
fn good(n: usize, d: usize) -> Vec<f64> {
    (0..n * d)
        .map(|i| 0.5 + ((i * 37) % 11) as f64 / 3.0)
        .collect()
}

/// Run `args` (with `--out phi.npy --summary s.json --quiet` added) expecting failure; check
/// the message contains every `needle`, is one line, and that no output exists.
fn refuses(dir: &Path, args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--out", "phi.npy", "--summary", "s.json", "--quiet"]);
    let run = aumann(dir, &all, env);
    assert_ne!(run.code, 0, "{args:?} succeeded");
    let msg = run.stderr.trim_end();
    assert_eq!(msg.lines().count(), 1, "{args:?}: not one line:\n{msg}");
    for needle in needles {
        assert!(msg.contains(needle), "{args:?}: {msg:?} lacks {needle:?}");
    }
    for leftover in std::fs::read_dir(dir).unwrap() {
        let name = leftover.unwrap().file_name().into_string().unwrap();
        assert!(
            !name.contains("phi") && !name.contains("s.json"),
            "{args:?}: left {name} behind"
        );
    }
}

#[test]
fn writes_phi_shares_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "x.npy", &[3, 50, 3], good(150, 3));
    for (method, precision) in [("path", "f32"), ("exact", "f64")] {
        let run = aumann(
            d,
            &[
                "attribute",
                "--features",
                "x.npy",
                "--indicator",
                "variance",
                "--method",
                method,
                "--precision",
                precision,
                "--out",
                "phi.npy",
                "--summary",
                "s.json",
                "--quiet",
            ],
            &[],
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let phi = aumann::npy::read(&d.join("phi.npy")).unwrap();
        assert_eq!(phi.shape, vec![3, 50]);
        assert_eq!(matches!(phi.values, Values::F64(_)), precision == "f64");
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
        for key in [
            "n",
            "d",
            "T",
            "indicator",
            "method",
            "rule",
            "points",
            "backend",
            "precision",
            "v_x",
            "v_b",
            "efficiency_gap",
            "seconds_attribution",
            "seconds_total",
        ] {
            assert!(s.get(key).is_some(), "summary lacks {key}");
        }
        assert_eq!(s["n"], 50);
        assert_eq!(s["T"], 3);
        assert_eq!(s["points"], 32);
        assert_eq!(s["efficiency_gap"].as_array().unwrap().len(), 3);
    }
    // Shares of a [n, d] input: shape [n], summing to one.
    write_npy(d, "x2.npy", &[40, 2], good(40, 2));
    let run = aumann(
        d,
        &[
            "attribute",
            "--features",
            "x2.npy",
            "--indicator",
            "gini",
            "--normalize",
            "--out",
            "share.npy",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let share = aumann::npy::read(&d.join("share.npy")).unwrap();
    assert_eq!(share.shape, vec![40]);
    let Values::F32(v) = share.values else {
        panic!("f32 expected")
    };
    assert!((v.iter().map(|&x| x as f64).sum::<f64>() - 1.0).abs() < 1e-5);
}

#[test]
fn refuses_non_finite_values_naming_step_agent_and_coordinate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut v = good(2 * 5 * 3, 1);
    v[(5 + 2) * 3 + 1] = f64::NAN; // step 1, agent 2, coordinate 1
    write_npy(d, "x.npy", &[2, 5, 3], v);
    refuses(
        d,
        &["attribute", "--features", "x.npy", "--indicator", "linear"],
        &[],
        &["x.npy", "NaN", "step 1, agent 2, coordinate 1"],
    );

    write_npy(d, "ok.npy", &[5, 3], good(5, 3));
    let mut b = good(5, 3);
    b[4 * 3 + 2] = f64::INFINITY;
    write_npy(d, "b.npy", &[5, 3], b);
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "ok.npy",
            "--indicator",
            "linear",
            "--baseline",
            "b.npy",
        ],
        &[],
        &["baseline b.npy", "inf", "step 0, agent 4, coordinate 2"],
    );
}

#[test]
fn refuses_bad_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "flat.npy", &[6], good(6, 1));
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "flat.npy",
            "--indicator",
            "linear",
        ],
        &[],
        &["flat.npy", "[n, d] or [T, n, d]", "[6]"],
    );
    write_npy(d, "x.npy", &[5, 3], good(5, 3));
    write_npy(d, "b.npy", &[4, 3], good(4, 3));
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "x.npy",
            "--indicator",
            "linear",
            "--baseline",
            "b.npy",
        ],
        &[],
        &["baseline b.npy", "[3], [5, 3] or [1, 5, 3]", "[4, 3]"],
    );
    write_npy(d, "empty.npy", &[0, 3], vec![]);
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "empty.npy",
            "--indicator",
            "linear",
        ],
        &[],
        &["empty.npy", "at least one"],
    );
}

#[test]
fn refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    raw_npy(d, "int.npy", "<i8", "(2, 3)", &[0u8; 48]);
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "int.npy",
            "--indicator",
            "linear",
        ],
        &[],
        &["int.npy", "unsupported dtype '<i8'", "float32", "float64"],
    );
    raw_npy(d, "short.npy", "<f8", "(4, 3)", &[0u8; 40]);
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "short.npy",
            "--indicator",
            "linear",
        ],
        &[],
        &["short.npy", "truncated", "96 bytes"],
    );
    std::fs::write(d.join("text.npy"), "agent,reach\n1,2\n").unwrap();
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "text.npy",
            "--indicator",
            "linear",
        ],
        &[],
        &["text.npy", "not a valid .npy"],
    );
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "missing.npy",
            "--indicator",
            "linear",
        ],
        &[],
        &["missing.npy", "No such file"],
    );
}

#[test]
fn refuses_inputs_outside_an_indicators_domain() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "one.npy", &[1, 3], vec![1.0, 2.0, 3.0]);
    for ind in ["variance", "gini"] {
        for method in ["path", "exact"] {
            refuses(
                d,
                &[
                    "attribute",
                    "--features",
                    "one.npy",
                    "--indicator",
                    ind,
                    "--method",
                    method,
                ],
                &[],
                &[ind, "at least 2 agents, got 1"],
            );
        }
    }
    // Coordinate 1 has a negative mean.
    write_npy(d, "neg.npy", &[3, 2], vec![1.0, -1.0, 2.0, -2.0, 1.0, 0.5]);
    for method in ["path", "exact"] {
        refuses(
            d,
            &[
                "attribute",
                "--features",
                "neg.npy",
                "--indicator",
                "mult",
                "--method",
                method,
            ],
            &[],
            &["mult", "step 0", "coordinate 1 has mean"],
        );
    }
    // V(x) = V(b): linear with the population-mean baseline has no change to share out.
    let x = oracle_dir().join("normal7_meanbase/x.npy");
    let x = x.to_str().unwrap();
    for method in ["path", "exact"] {
        refuses(
            d,
            &[
                "attribute",
                "--features",
                x,
                "--indicator",
                "linear",
                "--baseline",
                "mean",
                "--normalize",
                "--method",
                method,
            ],
            &[],
            &["shares are undefined at step 0"],
        );
    }
    // The Gini coefficient is undefined where the mean composite is zero.
    write_npy(d, "x.npy", &[2, 4, 2], good(16, 1));
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "x.npy",
            "--indicator",
            "gini_coefficient",
        ],
        &[],
        &["gini_coefficient", "step 0", "positive mean", "baseline"],
    );
}

#[test]
fn refuses_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "x.npy", &[5, 3], good(5, 3));
    let base = ["attribute", "--features", "x.npy", "--indicator", "linear"];
    let with =
        |extra: &[&'static str]| -> Vec<&str> { base.iter().chain(extra).copied().collect() };
    refuses(
        d,
        &with(&["--points", "0"]),
        &[],
        &["--points", "at least 1 quadrature point,", "got 0"],
    );
    refuses(
        d,
        // The former name of --points is still accepted.
        &with(&["--rule", "trapezoid", "--steps", "1"]),
        &[],
        &["--points", "at least 2 quadrature points,", "trapezoid"],
    );
    refuses(
        d,
        &with(&["--backend", "cuda"]),
        &[],
        &["unknown backend 'cuda'", "flex, ndarray, wgpu"],
    );
    refuses(
        d,
        &with(&["--precision", "f16"]),
        &[],
        &["unknown precision 'f16'"],
    );
    refuses(
        d,
        &["attribute", "--features", "x.npy", "--indicator", "entropy"],
        &[],
        &["unknown indicator 'entropy'"],
    );
    refuses(
        d,
        &with(&["--rule", "simpson"]),
        &[],
        &["simpson", "--rule"],
    );
    let run = aumann(d, &with(&["--out", "no/such/dir/phi.npy"]), &[]);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
}

#[test]
fn refuses_wgpu_without_an_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "x.npy", &[5, 3], good(5, 3));
    refuses(
        d,
        &[
            "attribute",
            "--features",
            "x.npy",
            "--indicator",
            "linear",
            "--backend",
            "wgpu",
        ],
        &[("CUBECL_WGPU_DEFAULT_DEVICE", "DiscreteGpu(99)")],
        &[
            "backend 'wgpu' is unavailable",
            "no usable GPU adapter",
            "mesa-vulkan-drivers",
            "--backend flex",
        ],
    );
}

/// Without a Vulkan driver, wgpu may fall back to OpenGL, which has no f64: asking for f64
/// there must be refused, not computed wrongly.
#[test]
fn refuses_f64_where_the_device_lacks_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "x.npy", &[5, 3], good(5, 3));
    let mut args = vec![
        "attribute",
        "--features",
        "x.npy",
        "--indicator",
        "linear",
        "--backend",
        "wgpu",
        "--precision",
        "f64",
    ];
    args.extend(["--out", "phi.npy", "--quiet"]);
    let run = aumann(
        d,
        &args,
        &[
            ("VK_ICD_FILENAMES", "/nonexistent.json"),
            ("VK_DRIVER_FILES", "/nonexistent.json"),
        ],
    );
    assert_ne!(run.code, 0);
    let msg = run.stderr.trim_end();
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(
        msg.contains("does not support f64") || msg.contains("no usable GPU adapter"),
        "{msg}"
    );
    assert!(!d.join("phi.npy").exists());
}

#[test]
fn synth_and_demo_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = aumann(
        d,
        &[
            "synth",
            "--agents",
            "2000",
            "--time-steps",
            "3",
            "--out",
            "pop.npy",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let pop = aumann::npy::read(&d.join("pop.npy")).unwrap();
    assert_eq!(pop.shape, vec![3, 2000, 3]);
    let run = aumann(
        d,
        &[
            "attribute",
            "--features",
            "pop.npy",
            "--indicator",
            "mult",
            "--baseline",
            "first",
            "--rule",
            "gauss",
            "--steps",
            "16",
            "--threads",
            "1",
            "--out",
            "phi.npy",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = Command::new(env!("CARGO_BIN_EXE_aumann"))
        .args(["demo", "--agents", "20000", "--quiet"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("all four indicators: the path engine agrees"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("| ok |").count(), 4, "{stdout}");
}

#[test]
fn refuses_bad_models_and_training_data() {
    use aumann::indicators::deepset::DeepSetConfig;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "x.npy", &[20, 3], good(20, 3));
    let attr = |model: &'static str| -> Vec<&'static str> {
        vec![
            "attribute",
            "--features",
            "x.npy",
            "--indicator",
            "deepset",
            "--model",
            model,
        ]
    };
    refuses(
        d,
        &attr("nowhere"),
        &[],
        &[
            "model nowhere",
            "no such model folder",
            "config.json",
            "model.bpk",
        ],
    );
    // A model for d = 5 features.
    let device = burn::tensor::Device::flex();
    let config5 = DeepSetConfig::new(5).with_hidden(4);
    aumann::model::save(&d.join("five"), &config5.init(&device), &config5, "").unwrap();
    refuses(
        d,
        &attr("five"),
        &[],
        &["five/config.json", "takes d = 5", "input has d = 3"],
    );
    // Corrupt weights, corrupt config, missing weights.
    let config3 = DeepSetConfig::new(3).with_hidden(4);
    for name in ["badweights", "badconfig", "noweights"] {
        aumann::model::save(&d.join(name), &config3.init(&device), &config3, "").unwrap();
    }
    std::fs::write(d.join("badweights/model.bpk"), b"not a record").unwrap();
    refuses(
        d,
        &attr("badweights"),
        &[],
        &[
            "badweights/model.bpk",
            "do not load into a DeepSet of d = 3",
        ],
    );
    std::fs::write(d.join("badconfig/config.json"), "{ \"hidden\": ").unwrap();
    refuses(
        d,
        &attr("badconfig"),
        &[],
        &["badconfig/config.json", "not a DeepSet config"],
    );
    std::fs::remove_file(d.join("noweights/model.bpk")).unwrap();
    refuses(
        d,
        &attr("noweights"),
        &[],
        &["noweights/model.bpk", "missing"],
    );
    refuses(
        d,
        &["attribute", "--features", "x.npy", "--indicator", "deepset"],
        &[],
        &["needs --model"],
    );

    // Training data: NaN targets, a target length that does not match, before any training.
    write_npy(d, "pops.npy", &[6, 4, 3], good(72, 1));
    let mut y = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    y[4] = f64::NAN;
    write_npy(d, "ynan.npy", &[6], y);
    write_npy(d, "y5.npy", &[5], vec![1.0; 5]);
    let train = |target: &'static str| -> Vec<&'static str> {
        vec![
            "train",
            "--features",
            "pops.npy",
            "--target",
            target,
            "--out",
            "models_out",
        ]
    };
    for (target, needles) in [
        ("ynan.npy", vec!["ynan.npy", "NaN at population 4"]),
        ("y5.npy", vec!["targets y5.npy", "[6]", "[5]"]),
    ] {
        let run = aumann(d, &train(target), &[]);
        assert_ne!(run.code, 0);
        for needle in needles {
            assert!(
                run.stderr.contains(needle),
                "{target}: {:?} lacks {needle:?}",
                run.stderr
            );
        }
        assert!(!d.join("models_out").exists());
    }
}

#[test]
fn train_then_attribute_a_deepset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = aumann(
        d,
        &[
            "synth",
            "--independent",
            "--agents",
            "32",
            "--time-steps",
            "40",
            "--out",
            "pops.npy",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = aumann(
        d,
        &[
            "train",
            "--features",
            "pops.npy",
            "--target-indicator",
            "variance",
            "--path-copies",
            "1",
            "--hidden",
            "4",
            "--epochs",
            "3",
            "--out",
            "m",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for file in ["config.json", "model.bpk", "card.md", "training.json"] {
        assert!(d.join("m").join(file).is_file(), "{file} missing");
    }
    let card = std::fs::read_to_string(d.join("m/card.md")).unwrap();
    assert!(
        card.contains("R², held-out path points")
            && card.contains("aumann train --features pops.npy"),
        "{card}"
    );
    write_npy(d, "x.npy", &[200, 3], good(200, 3));
    let run = aumann(
        d,
        &[
            "attribute",
            "--features",
            "x.npy",
            "--indicator",
            "deepset",
            "--model",
            "m",
            "--precision",
            "f64",
            "--out",
            "phi.npy",
            "--summary",
            "s.json",
            "--quiet",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        aumann::npy::read(&d.join("phi.npy")).unwrap().shape,
        vec![200]
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["indicator"], "deepset");
    assert_eq!(s["model"], "m");
    let run = aumann(
        d,
        &[
            "attribute",
            "--features",
            "x.npy",
            "--indicator",
            "deepset",
            "--model",
            "m",
            "--method",
            "exact",
            "--out",
            "phi2.npy",
        ],
        &[],
    );
    assert!(
        run.stderr
            .contains("no exact attribution for indicator 'deepset'"),
        "{}",
        run.stderr
    );
}

/// An indicator's parameters follow its name; the summary records them; unknown ones and
/// paths outside the index's domain are refused.
#[test]
fn indicator_parameters_follow_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_npy(d, "x.npy", &[2, 30, 2], good(60, 2));
    let args = [
        "attribute",
        "--features",
        "x.npy",
        "--indicator",
        "atkinson(epsilon=2)",
        "--baseline",
        "mean",
        "--precision",
        "f64",
        "--rule",
        "gauss",
        "--points",
        "64",
        "--out",
        "phi.npy",
        "--summary",
        "s.json",
        "--quiet",
    ];
    let run = aumann(d, &args, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["indicator"], "atkinson");
    assert_eq!(s["parameters"]["epsilon"], 2.0);
    let Values::F64(phi) = aumann::npy::read(&d.join("phi.npy")).unwrap().values else {
        panic!("f64 expected")
    };
    for t in 0..2 {
        let total: f64 = phi[t * 30..(t + 1) * 30].iter().sum();
        let v = s["v_x"][t].as_f64().unwrap();
        assert!(
            v > 0.0 && (total - v).abs() <= 1e-10 * v,
            "step {t}: {total} vs {v}"
        );
    }
    std::fs::remove_file(d.join("phi.npy")).unwrap();
    std::fs::remove_file(d.join("s.json")).unwrap();
    let attribute = |indicator| ["attribute", "--features", "x.npy", "--indicator", indicator];
    refuses(
        d,
        &attribute("atkinson(eps=2)"),
        &[],
        &["unknown parameter 'eps'", "'atkinson' takes epsilon"],
    );
    refuses(
        d,
        &attribute("share_below"),
        &[],
        &["threshold is not given"],
    );
    refuses(
        d,
        &attribute("theil"),
        &[],
        &[
            "theil",
            "step 0",
            "composite every agent shares is 0 in the baseline",
            "e.g. mean",
        ],
    );
}

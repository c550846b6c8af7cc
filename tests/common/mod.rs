//! Shared helpers: the backend-generic test macro, fixtures, small attribution runs.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use aumann::prelude::*;
use burn::tensor::Device;

/// Emit one `#[test]` per backend for `fn $suite(backend: Backend)`.
macro_rules! backend_test {
    ($suite:ident) => {
        mod $suite {
            use aumann::backend::Backend;

            #[test]
            fn flex() {
                super::$suite(Backend::Flex)
            }

            #[test]
            fn ndarray() {
                super::$suite(Backend::NdArray)
            }

            #[test]
            fn wgpu() {
                super::$suite(Backend::Wgpu)
            }
        }
    };
}

/// The backend's device; wgpu tests need a Vulkan driver (lavapipe on machines without a GPU).
pub fn device(backend: Backend) -> Device {
    backend
        .device()
        .unwrap_or_else(|e| panic!("{e} (the wgpu tests need Vulkan: see README, Testing)"))
}

/// `data/fixtures/oracle`.
pub fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/fixtures/oracle")
}

/// An `[n, d]` array from an `.npy` file, as a one-step `Array3`.
pub fn read_population(path: &Path) -> Array3 {
    let a = aumann::npy::read(path).unwrap();
    let shape = match a.shape.as_slice() {
        &[n, d] => [1, n, d],
        other => panic!("{}: unexpected shape {other:?}", path.display()),
    };
    Array3::new(shape, a.values)
}

/// A 1-D `f64` array from an `.npy` file.
pub fn read_vector(path: &Path) -> Vec<f64> {
    match aumann::npy::read(path).unwrap().values {
        aumann::array::Values::F64(v) => v,
        aumann::array::Values::F32(v) => v.into_iter().map(f64::from).collect(),
    }
}

/// Path attribution with `m` points of `rule` in `precision`.
pub fn path_run(
    indicator: &dyn Indicator,
    x: &Array3,
    baseline: &Baseline,
    rule: Rule,
    m: usize,
    precision: Precision,
    device: &Device,
) -> Attribution {
    let options = PathOptions {
        rule,
        points: m,
        precision,
        ..PathOptions::default()
    };
    path::attribute(indicator, x, baseline, &options, device, &mut |_| {}).unwrap()
}

/// `max_i |a_i − b_i| / max_i |b_i|`.
pub fn max_rel_err(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    if scale > 0.0 { err / scale } else { err }
}

/// `x` stored in f32.
pub fn stored_f32(x: &Array3) -> Array3 {
    let [t, n, d] = x.shape();
    let values = (0..t * n * d)
        .map(|i| x.get(i / (n * d), i / d % n, i % d) as f32)
        .collect();
    Array3::from_f32([t, n, d], values)
}

/// What a run of the `aumann` binary returned.
pub struct Run {
    /// Exit status (−1 if killed by a signal).
    pub code: i32,
    /// Standard error.
    pub stderr: String,
}

/// Run the `aumann` binary in `dir` with `args` and extra environment `env`.
pub fn aumann(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_aumann"));
    cmd.current_dir(dir).args(args);
    // Mesa's drivers print a warning on every probe when this is unset.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        cmd.env("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A property-test runner with a pinned seed (the same cases on every run and machine) and
/// failures recorded in `tests/proptest-regressions/<file>` (replayed first on later runs).
/// `AUMANN_PROPTEST_CASES` raises the case count (a long run); `AUMANN_PROPTEST_SEED` (a
/// number) draws another fixed sequence.
pub fn prop_runner(file: &'static str, cases: u32) -> proptest::test_runner::TestRunner {
    use proptest::test_runner::{
        Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner,
    };
    let cases = std::env::var("AUMANN_PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(cases);
    let seed: u64 = std::env::var("AUMANN_PROPTEST_SEED")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0x5eed);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    for (i, b) in file.bytes().enumerate() {
        bytes[8 + i % 24] ^= b;
    }
    let config = Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(file))),
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// Write any values, NaN and infinities included, as an `.npy` file (through npyz, not the
/// library's writer, which refuses non-finite values): the hostile inputs of the tests.
pub fn write_raw_npy(path: &Path, shape: &[usize], values: &aumann::array::Values) {
    use npyz::WriterBuilder;
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let shape: Vec<u64> = shape.iter().map(|&s| s as u64).collect();
    match values {
        aumann::array::Values::F32(v) => {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&shape)
                .writer(file)
                .begin_nd()
                .unwrap();
            w.extend(v.iter().copied()).unwrap();
            w.finish().unwrap();
        }
        aumann::array::Values::F64(v) => {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(&shape)
                .writer(file)
                .begin_nd()
                .unwrap();
            w.extend(v.iter().copied()).unwrap();
            w.finish().unwrap();
        }
    }
}

/// A `.npy` file with any type string, written byte by byte.
pub fn raw_npy(dir: &Path, name: &str, descr: &str, shape: &str, data: &[u8]) -> PathBuf {
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    bytes.extend(data);
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The real Jetstream samples (`data/jetstream-samples`).
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/jetstream-samples")
}

/// The 162 sample events, one JSON line each, in file order.
pub fn sample_lines() -> Vec<String> {
    ["corpus_expected_v1.jsonl", "subscribe_golden_v1.jsonl"]
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(samples().join(f)).unwrap();
            text.lines().map(String::from).collect::<Vec<_>>()
        })
        .collect()
}

/// An indicator through the general route: its `forward` (and its domain check)
/// differentiated by burn's autodiff at the rule's points, whatever route of its own it has
/// (the route every non-CPU backend takes).
pub struct Autodiff(pub Box<dyn aumann::indicators::Indicator>);

impl aumann::indicators::Indicator for Autodiff {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn min_agents(&self) -> usize {
        self.0.min_agents()
    }
    fn forward(&self, z: burn::tensor::Tensor<3>) -> aumann::Result<burn::tensor::Tensor<1>> {
        self.0.forward(z)
    }
    fn check_domain(
        &self,
        x: &burn::tensor::Tensor<3>,
        b: &burn::tensor::Tensor<3>,
    ) -> aumann::Result<Option<aumann::indicators::DomainError>> {
        self.0.check_domain(x, b)
    }
}

//! The `aumann` command line: parse, convert to the library's types, run, report.

mod args;
mod progress;
mod staged;

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use aumann::array::{Array3, Values};
use aumann::backend::{Backend, Precision, describe};
use aumann::baseline::{Baseline, BaselineSpec};
use aumann::indicators::{self, Analytic};
use aumann::path::{self, PathOptions, Rule};
use aumann::synth::SynthConfig;
use clap::Parser;
use serde::Serialize;

use args::{AttributeArgs, Cli, Command, DemoArgs, Method, RuleArg, SynthArgs};
use progress::Bar;
use staged::Staged;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line: clap's first line names the flag and the problem.
            let text = e.to_string();
            eprintln!(
                "{}",
                text.lines().next().unwrap_or("error: invalid arguments")
            );
            return ExitCode::from(2);
        }
    };
    let outcome = match cli.command {
        Command::Attribute(a) => attribute(a),
        Command::Demo(a) => demo(a),
        Command::Synth(a) => synth(a),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        if n == 0 {
            bail!("--threads must be at least 1");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .context("configuring the thread pool")?;
    }
    Ok(())
}

/// What `--summary` writes.
#[derive(Serialize)]
struct Summary<'a> {
    aumann_version: &'a str,
    features: String,
    n: usize,
    d: usize,
    /// Time steps `T`.
    #[serde(rename = "T")]
    time_steps: usize,
    indicator: &'a str,
    method: &'a str,
    rule: &'a str,
    /// Quadrature points `m`.
    steps: usize,
    backend: &'a str,
    device: String,
    precision: &'a str,
    baseline: String,
    normalize: bool,
    threads: usize,
    v_x: &'a [f64],
    v_b: &'a [f64],
    efficiency_gap: Vec<f64>,
    relative_efficiency_gap: Vec<Option<f64>>,
    seconds_attribution: f64,
    seconds_phases: std::collections::BTreeMap<&'a str, f64>,
    seconds_total: f64,
}

fn attribute(args: AttributeArgs) -> Result<ExitCode> {
    let start = Instant::now();
    set_threads(args.threads)?;
    let kind = indicators::parse_analytic(&args.indicator)?;
    let backend: Backend = args.backend.parse()?;
    let precision: Precision = args.precision.parse()?;
    let rule = match args.rule {
        RuleArg::Midpoint => Rule::Midpoint,
        RuleArg::Trapezoid => Rule::Trapezoid,
        RuleArg::Gauss => Rule::GaussLegendre,
    };
    if args.steps < rule.min_points() {
        bail!(
            "--steps must be at least {} for the {} rule, got {}",
            rule.min_points(),
            rule.name(),
            args.steps
        );
    }
    let out = Staged::new(&args.out)?;
    let summary_file = args.summary.as_deref().map(Staged::new).transpose()?;

    let (features, rank) = read_features(&args.features)?;
    let spec: BaselineSpec = args.baseline.parse().expect("infallible");
    let baseline = Baseline::resolve(&spec, &features)?;

    let (result, device_name) = match args.method {
        Method::Exact => (
            aumann::exact::attribute(kind, &features, &baseline)?,
            "host (closed form, f64)".to_string(),
        ),
        Method::Path => {
            let device = backend.device()?;
            backend.check_precision(&device, precision)?;
            let options = PathOptions {
                rule,
                points: args.steps,
                precision,
                ..PathOptions::default()
            };
            let mut bar = Bar::new(kind.name(), !args.quiet);
            let indicator = indicators::analytic(kind);
            let result = path::attribute(
                indicator.as_ref(),
                &features,
                &baseline,
                &options,
                &device,
                &mut |p| bar.update(p.done, p.total),
            )?;
            bar.finish();
            (result, describe(&device))
        }
    };

    let values = if args.normalize {
        result.shares()?
    } else {
        result.phi.clone()
    };
    let shape: Vec<usize> = if rank == 2 {
        vec![result.agents]
    } else {
        vec![result.steps, result.agents]
    };
    let values = match precision {
        Precision::F32 => Values::F32(values.iter().map(|&v| v as f32).collect()),
        Precision::F64 => Values::F64(values),
    };
    aumann::npy::write(out.path(), &shape, &values)
        .with_context(|| format!("writing {}", args.out.display()))?;
    if let Some(file) = &summary_file {
        let summary = Summary {
            aumann_version: env!("CARGO_PKG_VERSION"),
            features: args.features.display().to_string(),
            n: result.agents,
            d: features.dims(),
            time_steps: result.steps,
            indicator: kind.name(),
            method: match args.method {
                Method::Path => "path",
                Method::Exact => "exact",
            },
            rule: rule.name(),
            steps: args.steps,
            backend: backend.name(),
            device: device_name,
            precision: precision.name(),
            baseline: spec.to_string(),
            normalize: args.normalize,
            threads: rayon::current_num_threads(),
            v_x: &result.v_x,
            v_b: &result.v_b,
            efficiency_gap: result.efficiency_gap(),
            relative_efficiency_gap: result.relative_efficiency_gap(),
            seconds_attribution: result.seconds,
            seconds_phases: result.phases.iter().copied().collect(),
            seconds_total: start.elapsed().as_secs_f64(),
        };
        let json = serde_json::to_string_pretty(&summary).expect("summary serialises");
        std::fs::write(file.path(), json + "\n")
            .with_context(|| format!("writing {}", args.summary.as_ref().unwrap().display()))?;
    }
    out.commit()?;
    if let Some(file) = summary_file {
        file.commit()?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Read `[n, d]` or `[T, n, d]` features; also returns the file's rank.
fn read_features(path: &Path) -> Result<(Array3, usize)> {
    let arr = aumann::npy::read(path)?;
    let what = path.display().to_string();
    let shape = match *arr.shape.as_slice() {
        [n, d] => [1, n, d],
        [t, n, d] => [t, n, d],
        _ => {
            return Err(aumann::Error::Shape {
                what,
                expected: "[n, d] or [T, n, d] (agents × features, optionally per step)".into(),
                got: arr.shape,
            }
            .into());
        }
    };
    if shape.contains(&0) {
        return Err(aumann::Error::Shape {
            what,
            expected: "at least one step, one agent and one feature".into(),
            got: arr.shape,
        }
        .into());
    }
    let features = Array3::new(shape, arr.values);
    features.check_finite(&what)?;
    Ok((features, arr.shape.len()))
}

fn demo(args: DemoArgs) -> Result<ExitCode> {
    set_threads(args.threads)?;
    let backend: Backend = args.backend.parse()?;
    let precision: Precision = args.precision.parse()?;
    if args.steps == 0 {
        bail!("--steps must be at least 1 for the midpoint rule, got 0");
    }
    let device = backend.device()?;
    backend.check_precision(&device, precision)?;
    let config = SynthConfig {
        agents: args.agents,
        seed: args.seed,
        ..SynthConfig::default()
    };
    let options = PathOptions {
        points: args.steps,
        precision,
        ..PathOptions::default()
    };
    println!(
        "aumann demo: {} synthetic heavy-tailed agents, d = 3, zero baseline; path = midpoint m = {}, {} on {} ({}); exact = closed form in f64",
        args.agents,
        args.steps,
        precision.name(),
        backend.name(),
        describe(&device)
    );
    let mut bar = Bar::new("", !args.quiet);
    let rows = aumann::demo::run(&config, &options, &device, &mut |kind: Analytic, p| {
        bar.set_message(kind.name());
        bar.update(p.done, p.total);
    })?;
    bar.finish();
    println!();
    println!(
        "| indicator | V(x) | exact | path | max err / max φ (tol) | Spearman | rel. efficiency gap (tol) | |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let mut all = true;
    for r in &rows {
        all &= r.passed();
        println!(
            "| {} | {:.6} | {:.1} ms | {:.0} ms | {:.2e} ({:.0e}) | {:.6} | {:.2e} ({:.0e}) | {} |",
            r.indicator.name(),
            r.value,
            r.exact_seconds * 1e3,
            r.path_seconds * 1e3,
            r.agreement.max_rel_error,
            r.tolerance.max_rel_error,
            r.agreement.spearman,
            r.agreement.rel_gap,
            r.tolerance.rel_gap,
            if r.passed() { "ok" } else { "FAIL" }
        );
    }
    println!();
    if all {
        println!("all four indicators: the path engine agrees with the closed forms");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("some indicator missed its tolerance");
        Ok(ExitCode::from(1))
    }
}

fn synth(args: SynthArgs) -> Result<ExitCode> {
    if args.agents == 0 || args.time_steps == 0 {
        bail!("--agents and --time-steps must be at least 1");
    }
    let out = Staged::new(&args.out)?;
    let x = aumann::synth::population(&SynthConfig {
        agents: args.agents,
        steps: args.time_steps,
        seed: args.seed,
        ..SynthConfig::default()
    });
    let shape: Vec<usize> = if args.time_steps == 1 {
        vec![args.agents, 3]
    } else {
        x.shape().to_vec()
    };
    aumann::npy::write(out.path(), &shape, x.values())
        .with_context(|| format!("writing {}", args.out.display()))?;
    out.commit()?;
    Ok(ExitCode::SUCCESS)
}

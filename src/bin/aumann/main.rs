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
use aumann::indicators::deepset::DeepSet;
use aumann::indicators::{self, Analytic, Indicator};
use aumann::panel::Panel;
use aumann::panel::synth::PanelConfig;
use aumann::path::{self, PathOptions, Rule};
use aumann::study::report::RunInfo;
use aumann::study::{Protocol, StudyConfig};
use aumann::synth::SynthConfig;
use burn::tensor::Device;
use clap::Parser;
use serde::Serialize;

use args::{
    AttributeArgs, BenchCommand, BenchScalingArgs, BenchSyntheticArgs, Cli, Command, CompareArgs,
    DemoArgs, Method, PanelCommand, PanelSynthArgs, RuleArg, StudyArgs, SynthArgs, TrainArgs,
};
use progress::Bar;
use staged::{Staged, StagedDir};

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
        Command::Train(a) => train(a),
        Command::Compare(a) => compare(a),
        Command::Bench(BenchCommand::Synthetic(a)) => bench_synthetic(a),
        Command::Bench(BenchCommand::Scaling(a)) => bench_scaling(a),
        Command::Panel(PanelCommand::Synth(a)) => panel_synth(a),
        Command::Study(a) => study(a),
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
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<String>,
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
    let deepset = args.indicator == "deepset";
    let kind = if deepset {
        None
    } else {
        Some(indicators::parse_analytic(&args.indicator).map_err(|_| {
            anyhow::anyhow!(
                "unknown indicator '{}'; choose one of linear, mult, variance, gini, deepset",
                args.indicator
            )
        })?)
    };
    if deepset && args.model.is_none() {
        bail!("--indicator deepset needs --model DIR, a folder written by `aumann train`");
    }
    if deepset && args.method == Method::Exact {
        bail!(
            "no exact attribution for indicator 'deepset': a learned network has no closed form; use --method path"
        );
    }
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

    let (result, device_name) = match (args.method, kind) {
        (Method::Exact, Some(kind)) => (
            aumann::exact::attribute(kind, &features, &baseline)?,
            "host (closed form, f64)".to_string(),
        ),
        _ => {
            let device = backend.device()?;
            backend.check_precision(&device, precision)?;
            let indicator: Box<dyn Indicator> = match kind {
                Some(kind) => indicators::analytic(kind),
                None => Box::new(load_deepset(
                    args.model.as_deref().expect("checked above"),
                    &device,
                    features.dims(),
                    precision,
                )?),
            };
            let options = PathOptions {
                rule,
                points: args.steps,
                precision,
                ..PathOptions::default()
            };
            let mut bar = Bar::new(indicator.name(), !args.quiet);
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
            indicator: &args.indicator,
            model: args.model.as_ref().map(|m| m.display().to_string()),
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

/// A trained DeepSet from `dir`, on `device`, in `precision`, for `d` features.
fn load_deepset(dir: &Path, device: &Device, d: usize, precision: Precision) -> Result<DeepSet> {
    let (model, config) = aumann::model::load(dir, device, Some(d))?;
    if precision == Precision::F64
        && config.activation.is_transcendental()
        && !aumann::ops::f64_transcendentals_work(device)
    {
        bail!(
            "model {}: its {} activation needs f64 exp/log, which this device computes wrongly \
             (Vulkan defines them for 32-bit floats only); use --precision f32 or a CPU backend",
            dir.display(),
            config.activation.name()
        );
    }
    Ok(model.with_dtype(precision.dtype()))
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
    let x = if args.independent {
        aumann::synth::independent_populations(args.time_steps, args.agents, args.seed)
    } else {
        aumann::synth::population(&SynthConfig {
            agents: args.agents,
            steps: args.time_steps,
            seed: args.seed,
            ..SynthConfig::default()
        })
    };
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

fn train(args: TrainArgs) -> Result<ExitCode> {
    use aumann::train::{Target, TrainConfig};
    set_threads(args.threads)?;
    let backend: Backend = args.backend.parse()?;
    let activation: aumann::indicators::deepset::Activation = args.activation.parse()?;
    let arr = aumann::npy::read(&args.features)?;
    let x = match *arr.shape.as_slice() {
        [r, n, d] if r > 0 && n > 0 && d > 0 => Array3::new([r, n, d], arr.values),
        _ => {
            return Err(aumann::Error::Shape {
                what: args.features.display().to_string(),
                expected: "[R, n, d]: R populations of n agents with d features".into(),
                got: arr.shape,
            }
            .into());
        }
    };
    x.check_finite(&args.features.display().to_string())?;
    let target = match (&args.target, &args.target_indicator) {
        (Some(path), _) => {
            let y = aumann::npy::read(path)?;
            let values: Vec<f64> = match y.values {
                Values::F32(v) => v.into_iter().map(f64::from).collect(),
                Values::F64(v) => v,
            };
            if y.shape.len() != 1 || values.len() != x.steps() {
                return Err(aumann::Error::Shape {
                    what: format!("targets {}", path.display()),
                    expected: format!(
                        "[{}], one value per population of {}",
                        x.steps(),
                        args.features.display()
                    ),
                    got: y.shape,
                }
                .into());
            }
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                bail!(
                    "targets {}: {} at population {i}; targets must be finite",
                    path.display(),
                    values[i]
                );
            }
            Target::Values(values)
        }
        (None, Some(name)) => Target::Indicator(indicators::parse_analytic(name)?),
        (None, None) => bail!("give --target Y.npy or --target-indicator NAME"),
    };
    let config = TrainConfig::new()
        .with_hidden(args.hidden)
        .with_depth(args.depth)
        .with_activation(activation)
        .with_epochs(args.epochs)
        .with_lr(args.lr)
        .with_batch(args.batch)
        .with_seed(args.seed)
        .with_val_fraction(args.val_fraction)
        .with_patience(args.patience)
        .with_path_copies(args.path_copies);
    if args.hidden == 0 || args.depth == 0 {
        bail!("--hidden and --depth must be at least 1");
    }
    let staged = StagedDir::new(&args.out, "config.json")?;
    let device = backend.device()?;
    let mut bar = Bar::new("train", !args.quiet);
    let (model, net_config, report) =
        aumann::train::train(&x, &target, &config, &device, &mut |e| {
            bar.set_message(&format!("loss {:.3e} val {:.3e}", e.train_loss, e.val_loss));
            bar.update(e.epoch, e.of);
        })?;
    bar.finish();
    let command: Vec<String> = std::iter::once("aumann".to_string())
        .chain(std::env::args().skip(1))
        .collect();
    let card = aumann::model::card(
        &report,
        &target_label(&target, &args),
        &config,
        &command.join(" "),
    );
    aumann::model::save(staged.path(), &model, &net_config, &card)?;
    std::fs::write(
        staged.path().join("training.json"),
        serde_json::to_string_pretty(&config).expect("config serialises") + "\n",
    )
    .with_context(|| format!("writing {}", args.out.display()))?;
    staged.commit()?;
    println!(
        "{}: validation R² {:.4} on held-out populations{}, {} epochs (best {}), {:.1} s",
        args.out.display(),
        report.val_r2,
        report
            .val_r2_path
            .map(|r| format!(", {r:.4} on held-out path points"))
            .unwrap_or_default(),
        report.epochs_run,
        report.best_epoch,
        report.seconds
    );
    Ok(ExitCode::SUCCESS)
}

fn target_label(target: &aumann::train::Target, args: &TrainArgs) -> String {
    match target {
        aumann::train::Target::Values(_) => {
            format!("values from {}", args.target.as_ref().unwrap().display())
        }
        aumann::train::Target::Indicator(kind) => {
            format!("the `{}` indicator, evaluated exactly", kind.name())
        }
    }
}

fn panel_synth(args: PanelSynthArgs) -> Result<ExitCode> {
    set_threads(args.threads)?;
    if args.agents < 2 || args.days == 0 {
        bail!("--agents must be at least 2 and --days at least 1");
    }
    let staged = StagedDir::new(&args.out, "manifest.json")?;
    let start = Instant::now();
    let panel = aumann::panel::synth::generate(&PanelConfig {
        agents: args.agents,
        days: args.days,
        seed: args.seed,
        ..PanelConfig::default()
    });
    panel.save(staged.path())?;
    staged.commit()?;
    eprintln!(
        "wrote {}: {} agents, {} days, topics {} ({:.1} s)",
        args.out.display(),
        args.agents,
        args.days,
        panel.manifest.topics.join(", "),
        start.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}

fn study(args: StudyArgs) -> Result<ExitCode> {
    set_threads(args.threads)?;
    let parse_indicator = |name: &str| {
        Analytic::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .with_context(|| {
                format!("unknown indicator '{name}': the study runs linear, mult, variance, gini")
            })
    };
    let indicators = args
        .indicators
        .iter()
        .map(|s| parse_indicator(s))
        .collect::<Result<Vec<_>>>()?;
    let protocols = args
        .protocols
        .iter()
        .filter(|s| s.as_str() != "full")
        .map(|s| {
            Protocol::parse(s).with_context(|| {
                format!(
                    "unknown protocol '{s}': choose from bias-visibility, bias-topic-x-follow, \
                     bias-topic-top, random"
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let [top, mid] = args.tiers[..] else {
        bail!("--tiers takes two fractions, top and middle, e.g. 0.01,0.09");
    };
    let config = StudyConfig {
        tiers: (top, mid),
        visibility_pool: args.visibility_pool,
        sizes: args.sizes.clone(),
        seeds: args.seeds,
        seed: args.seed,
        indicators,
        protocols,
        heatmap_indicator: parse_indicator(&args.heatmap_indicator)?,
        top_k: args.top_k.clone(),
        per_agent: args.per_agent,
        ..StudyConfig::default()
    };
    let staged = StagedDir::new(&args.out, "run.json")?;
    let start = Instant::now();
    let (panel, origin) = match &args.panel {
        Some(dir) => (Panel::load(dir)?, format!("panel folder {}", dir.display())),
        None => {
            if args.agents < 2 || args.days == 0 {
                bail!("--agents must be at least 2 and --days at least 1");
            }
            if !args.quiet {
                eprintln!(
                    "generating the synthetic panel: {} agents, {} days, seed {}",
                    args.agents, args.days, args.seed
                );
            }
            let panel = aumann::panel::synth::generate(&PanelConfig {
                agents: args.agents,
                days: args.days,
                seed: args.seed,
                ..PanelConfig::default()
            });
            (
                panel,
                format!(
                    "generated: aumann panel synth --agents {} --days {} --seed {}",
                    args.agents, args.days, args.seed
                ),
            )
        }
    };
    let panel_seconds = start.elapsed().as_secs_f64();
    let mut bar = Bar::new("study", !args.quiet);
    let results = aumann::study::run(&panel, &config, |p| bar.update(p.done, p.total))?;
    bar.finish();
    let info = RunInfo {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        panel_seconds,
        panel_origin: origin,
    };
    let write_start = Instant::now();
    aumann::study::report::write(staged.path(), &panel, &results, &info)?;
    staged.commit()?;
    if !args.quiet {
        eprintln!(
            "wrote {} ({} cells; panel {:.1} s, study {:.1} s, files {:.1} s)",
            args.out.display(),
            results.cells.len(),
            panel_seconds,
            results.timings.iter().map(|t| t.1).sum::<f64>(),
            write_start.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(args: CompareArgs) -> Result<ExitCode> {
    use aumann::coalition::Game;
    use aumann::compare::{self, CompareOptions, Method};
    set_threads(args.threads)?;
    let indicator = indicators::parse_analytic(&args.indicator).map_err(|_| {
        anyhow::anyhow!(
            "unknown indicator '{}': the comparison covers linear, mult, variance, gini",
            args.indicator
        )
    })?;
    let methods = args
        .methods
        .iter()
        .map(|m| Method::parse(m))
        .collect::<aumann::Result<Vec<_>>>()?;
    let precision: Precision = args.precision.parse()?;
    let options = CompareOptions {
        samples: args.samples,
        seed: args.seed,
        antithetic: args.antithetic,
        path: PathOptions {
            points: args.steps,
            precision,
            ..PathOptions::default()
        },
        backend: args.backend.parse()?,
    };
    let (all, _) = read_features(&args.features)?;
    let spec: BaselineSpec = args.baseline.parse().expect("infallible");
    let baseline = Baseline::resolve(&spec, &all)?;
    let t = match (args.step, all.steps()) {
        (Some(t), steps) if t >= steps => {
            bail!(
                "--step {t} is out of range: {} has {steps} steps",
                args.features.display()
            )
        }
        (Some(t), _) => t,
        (None, 1) => 0,
        (None, steps) => bail!(
            "{} has {steps} steps; coalition methods attribute one: choose it with --step",
            args.features.display()
        ),
    };
    let features = all.select_steps(&[t]);
    let [_, n, d] = features.shape();
    let b = baseline.step(t);
    let baseline = Baseline::from_array(if b.len() == d {
        Array3::from_f64([1, 1, d], b.to_vec())
    } else {
        Array3::from_f64([1, n, d], b.to_vec())
    });
    let staged = StagedDir::new(&args.out, "table.csv")?;
    std::fs::create_dir_all(staged.path())
        .with_context(|| format!("creating {}", staged.path().display()))?;
    let game = compare::game(indicator, &features, &baseline)?;
    let change = game.value(&game.full()) - game.value(&game.empty());
    let reference = compare::run(
        Method::AsExact,
        indicator,
        &features,
        &baseline,
        &options,
        &mut |_, _| {},
    )?;
    let scale = reference.phi.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let mut table = String::from(
        "method,seconds,efficiency_gap,relative_efficiency_gap,max_error_vs_as_exact,\
         spearman_vs_as_exact,samples\n",
    );
    for method in methods {
        let mut bar = Bar::new(method.name(), !args.quiet);
        let run = compare::run(
            method,
            indicator,
            &features,
            &baseline,
            &options,
            &mut |d, t| bar.update(d, t),
        )?;
        bar.finish();
        let write = |name: String, v: &[f64]| {
            aumann::npy::write(&staged.path().join(&name), &[n], &Values::F64(v.to_vec()))
                .with_context(|| format!("writing {name}"))
        };
        write(format!("{}.npy", method.name()), &run.phi)?;
        if let Some(se) = &run.std_error {
            write(format!("{}_se.npy", method.name()), se)?;
        }
        let gap = run.phi.iter().sum::<f64>() - change;
        let err = run
            .phi
            .iter()
            .zip(&reference.phi)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
            / scale.max(f64::MIN_POSITIVE);
        let rho = aumann::kernels::rank::spearman(&run.phi, &reference.phi);
        let sampled = matches!(
            method,
            Method::ShapleySampled | Method::ShapleySampledPlain | Method::BanzhafSampled
        );
        table.push_str(&format!(
            "{},{:.6e},{:.6e},{},{:.6e},{},{}\n",
            method.name(),
            run.seconds,
            gap,
            if change != 0.0 {
                format!("{:.6e}", gap.abs() / change.abs())
            } else {
                String::new()
            },
            err,
            if rho.is_finite() {
                format!("{rho:.6}")
            } else {
                String::new()
            },
            if sampled {
                options.samples.to_string()
            } else {
                String::new()
            },
        ));
        if !args.quiet {
            eprintln!(
                "{:>22}: {:>10.4} s, efficiency gap {:+.2e}, max error vs as-exact {:.2e}",
                method.name(),
                run.seconds,
                gap,
                err
            );
        }
    }
    std::fs::write(staged.path().join("table.csv"), table).context("writing table.csv")?;
    staged.commit()?;
    Ok(ExitCode::SUCCESS)
}

/// Write `files` (name, contents) into the folder `out`, all or nothing.
fn write_folder(out: &Path, marker: &str, files: &[(&str, String)]) -> Result<()> {
    let staged = StagedDir::new(out, marker)?;
    std::fs::create_dir_all(staged.path())
        .with_context(|| format!("creating {}", staged.path().display()))?;
    for (name, text) in files {
        std::fs::write(staged.path().join(name), text)
            .with_context(|| format!("writing {name}"))?;
    }
    staged.commit()
}

fn bench_synthetic(args: BenchSyntheticArgs) -> Result<ExitCode> {
    use aumann::benchmark::{self, SyntheticOptions};
    set_threads(args.threads)?;
    let options = SyntheticOptions {
        sizes: args.sizes.clone(),
        seeds: args.seeds,
        samples: args.samples,
        points: args.points,
        ..SyntheticOptions::default()
    };
    if options.sizes.iter().any(|&n| n < 2) || options.seeds == 0 {
        bail!("--sizes must be at least 2 and --seeds at least 1");
    }
    let mut bar = Bar::new("synthetic", !args.quiet);
    let rows = benchmark::synthetic_table(&options, &mut |d, t| bar.update(d, t))?;
    bar.finish();
    let md = benchmark::synthetic_markdown(&rows);
    write_folder(
        &args.out,
        "synthetic.csv",
        &[
            ("synthetic.csv", benchmark::synthetic_csv(&rows)),
            ("synthetic.md", md.clone()),
        ],
    )?;
    if !args.quiet {
        println!("{md}");
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_scaling(args: BenchScalingArgs) -> Result<ExitCode> {
    use aumann::benchmark::{self, ScalingOptions};
    use aumann::compare::{CompareOptions, Method};
    set_threads(args.threads)?;
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    sizes.dedup();
    if sizes.first().is_some_and(|&n| n < 2) {
        bail!("--sizes must be at least 2");
    }
    let options = ScalingOptions {
        sizes,
        methods: args
            .methods
            .iter()
            .map(|m| Method::parse(m))
            .collect::<aumann::Result<Vec<_>>>()?,
        indicator: indicators::parse_analytic(&args.indicator)?,
        budget: args.budget,
        compare: CompareOptions {
            samples: args.samples,
            ..CompareOptions::default()
        },
        ..ScalingOptions::default()
    };
    let mut bar = Bar::new("scaling", !args.quiet);
    let rows = benchmark::scaling_table(&options, &mut |d, t| bar.update(d, t))?;
    bar.finish();
    let md = benchmark::scaling_markdown(&rows);
    if !args.quiet {
        eprintln!("robustness sweeps: integration rules, baselines, path choice");
    }
    let ablations = benchmark::ablations::markdown(
        &benchmark::ablations::rule_convergence(100_000, 7)?,
        &benchmark::ablations::baseline_robustness(100_000, 14, 7)?,
        &benchmark::ablations::path_choice(10_000, 5, 7)?,
    );
    write_folder(
        &args.out,
        "scaling.csv",
        &[
            ("scaling.csv", benchmark::scaling_csv(&rows)),
            ("scaling.md", md.clone()),
            ("ablations.md", ablations.clone()),
        ],
    )?;
    if !args.quiet {
        println!("{ablations}");
    }
    if !args.quiet {
        println!("{md}");
    }
    Ok(ExitCode::SUCCESS)
}

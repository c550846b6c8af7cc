//! The `aumann` command line: one module per subcommand, each parsing its flags, converting
//! them to the library's types, calling the library and writing the outputs. This file only
//! dispatches.

mod attribute;
mod bench;
mod capture;
mod common;
mod compare;
mod demo;
mod eval;
mod faithfulness;
mod import;
mod ingest;
mod panel;
mod progress;
mod signals;
mod simulate;
mod study;
mod synth;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// burn allocates a buffer per tensor operation; mimalloc reuses freed ones where glibc returns
/// them to the kernel and faults them back in.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Aumann–Shapley attribution of macro indicators to agents.
#[derive(Debug, Parser)]
#[command(name = "aumann", version, about, long_about = None)]
struct Cli {
    /// What to run.
    #[command(subcommand)]
    command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Attribute a macro indicator to every agent and step of a feature array.
    Attribute(attribute::AttributeArgs),
    /// Attribute a synthetic heavy-tailed population with all four indicators and check the
    /// path engine against the closed forms.
    Demo(demo::DemoArgs),
    /// Write a synthetic heavy-tailed population (reach, activity, resonance) as [T, n, 3].
    Synth(synth::SynthArgs),
    /// Train a DeepSet value network to regress a macro series from populations.
    Train(train::TrainArgs),
    /// Run attribution methods side by side on one step: Aumann–Shapley (closed form, path)
    /// against leave-one-out, sampled and exact Shapley and Banzhaf.
    Compare(compare::CompareArgs),
    /// Benchmarks against the other attribution methods: ground truth and runtime scaling.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Panels: one population over days and topics (the study's input).
    #[command(subcommand)]
    Panel(panel::PanelCommand),
    /// The cross-scale study: full panel vs biased and random small panels, the scaling-bias
    /// test, heatmaps and a report. With only --out it runs on the default synthetic panel.
    Study(study::StudyArgs),
    /// Simulate a society (a scenario) and write its folder: features, baseline action,
    /// context, the static and rollout risk per step.
    Simulate(simulate::SimulateArgs),
    /// The value of an indicator on every population row of a feature array.
    Eval(eval::EvalArgs),
    /// Pivot a long per-agent CSV (one row per step and agent, as agent-based models record)
    /// to a [T, n, d] feature array.
    Import(import::ImportArgs),
    /// Record Jetstream's live event stream into hourly files until Ctrl-C, resuming where
    /// an earlier capture into the same folder stopped.
    Capture(capture::CaptureArgs),
    /// Faithfulness on simulated societies: deletion curves of each method's ranking and its
    /// agreement with sampled Shapley. With only --out it simulates econ, social and cascade.
    Faithfulness(faithfulness::FaithfulnessArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // Capture stops on a signal by itself, saving what it received; every other command
    // removes its unfinished outputs and exits.
    if !matches!(cli.command, Command::Capture(_))
        && let Err(err) = signals::discard_outputs_on_signal()
    {
        eprintln!("error: {err:#}");
        return ExitCode::from(2);
    }
    let outcome = match cli.command {
        Command::Attribute(a) => attribute::run(a),
        Command::Demo(a) => demo::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Train(a) => train::run(a),
        Command::Compare(a) => compare::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Panel(c) => panel::run(c),
        Command::Study(a) => study::run(a),
        Command::Simulate(a) => simulate::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Faithfulness(a) => faithfulness::run(a),
        Command::Capture(a) => capture::run(a),
        Command::Import(a) => import::run(a),
    };
    match outcome {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            signals::wait_if_stopping();
            eprintln!("error: {}", printable(&message(&err)));
            ExitCode::from(2)
        }
    }
}

/// Help and version go to stdout with success; anything else is one line (clap's first line
/// names the flag and the problem) and exit status 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return ExitCode::SUCCESS;
    }
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        // `aumann` or `aumann panel` alone: what there is to run.
        let _ = e.print();
        return ExitCode::from(2);
    }
    eprintln!("{}", one_line(&e.to_string()));
    ExitCode::from(2)
}

/// clap's message on one line: its lines up to the usage, joined (so "the following required
/// arguments were not provided:" is followed by the arguments it means).
fn one_line(text: &str) -> String {
    let parts: Vec<&str> = (text.lines())
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match parts.is_empty() {
        true => "error: invalid arguments".into(),
        false => parts.join(" "),
    }
}

/// A message as one printable line of bounded length: line breaks (`\n`, `\r`) and other
/// control characters become spaces, and a message longer than 1 000 characters (a value
/// quoted from a hostile file) is cut with an ellipsis.
fn printable(message: &str) -> String {
    const MAX: usize = 1000;
    let mut out: String = (message.chars())
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    if let Some((cut, _)) = out.char_indices().nth(MAX) {
        out.truncate(cut);
        out.push_str(" …");
    }
    out
}

/// The error and its causes on one line, each cause once (a library error that already
/// quotes its source is not followed by the source again).
fn message(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

/// Output piped into a program that stopped reading (`aumann … | head`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

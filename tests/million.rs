//! A heavy-tailed million-agent population: the path engine (midpoint, m = 32, f32) agrees
//! with the closed forms within the tolerances of `aumann::verify` for all four indicators.

use aumann::prelude::*;
use aumann::synth::SynthConfig;

use crate::common::*;

#[test]
fn million_agents_path_agrees_with_exact_in_f32() {
    let device = device(Backend::Flex);
    let config = SynthConfig {
        agents: 1_000_000,
        ..SynthConfig::default()
    };
    let rows =
        aumann::demo::run(&config, &PathOptions::default(), &device, &mut |_, _| {}).unwrap();
    for r in &rows {
        eprintln!(
            "{:?}: {:?} (path {:.2} s)",
            r.indicator, r.agreement, r.path_seconds
        );
    }
    for r in &rows {
        assert!(
            r.passed(),
            "{:?}: {:?} vs {:?}",
            r.indicator,
            r.agreement,
            r.tolerance
        );
    }
}

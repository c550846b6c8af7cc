//! Integration tests: one binary, one module per concern.

#[macro_use]
mod common;

mod axioms;
mod backends;
mod benchmark;
mod chunking;
mod cli;
mod coalition;
mod convergence;
mod deepset;
mod faithfulness;
mod fixtures;
mod formula;
mod fuzz;
mod fuzz_ingest;
mod hostile;
mod inequality;
mod ingest;
mod million;
mod pooled;
mod scenario;
mod split;
mod study;

//! The binary's cross-process tests, one test binary (as lighthouse builds its suites): a
//! change to `support` or to one test recompiles and links one binary, not seven.
//! docs/benchmarks.md ("One test binary") has the figures. `architecture.rs` stays its own
//! target, `cargo test --workspace --test architecture`, as docs/architecture.md says.
//!
//! Run one file's tests by module: `cargo test --workspace --test main -- devnet::`.

mod support;

mod api;
mod ceremony;
mod committee;
mod compose;
mod devnet;
mod exits;
mod genesis;
mod keys;
mod long_run;
mod lost_data_dir;
mod report;
mod resilience;
mod restart;
mod secrets;
mod truth;
mod web;
mod wrong_balance;

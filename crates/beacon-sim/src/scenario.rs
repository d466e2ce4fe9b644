//! The scenario file: one TOML document that fixes a simulated chain completely.
//!
//! Every field is described in `crates/beacon-sim/README.md` with an example.
//! Parsing checks shapes (serde, unknown keys refused); [`Scenario::validate`]
//! checks meaning (indices exist, ranges are ordered, rates are shares of 10000)
//! and turns validator lists into [`ValidatorSet`]s. Errors are one line each and
//! say which key holds which wrong value and what to write instead.

use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Largest validator count the simulator accepts (positions are kept as `u32`).
pub const MAX_VALIDATORS: u64 = 4_000_000;
/// Largest `head_epoch` accepted: keeps every slot number far from overflow.
pub const MAX_HEAD_EPOCH: u64 = 10_000_000;

/// What is wrong with a scenario, in one line.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The file cannot be read. The cause is printed in the message, not kept as a
    /// source, so `anyhow`'s `{:#}` prints it once.
    #[error("cannot read scenario file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    /// The file is not TOML of a scenario's shape.
    #[error(
        "scenario line {line}: {message}; fix the TOML (keys and defaults are listed in crates/beacon-sim/README.md)"
    )]
    Parse { line: usize, message: String },
    /// A key has a value the simulator refuses.
    #[error("scenario key `{key}`: {problem}; {fix}")]
    Invalid { key: String, problem: String, fix: String },
}

fn invalid(key: impl Into<String>, problem: impl Into<String>, fix: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { key: key.into(), problem: problem.into(), fix: fix.into() }
}

/// A validator list entry as written: `5`, `"5"` or `"3-9"` (inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ValidatorSpec {
    Index(u64),
    Text(String),
}

/// A validated set of validator indices: sorted, merged inclusive ranges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidatorSet {
    ranges: Vec<(u64, u64)>,
}

impl ValidatorSet {
    /// Parses and checks `specs` against `validators`; `key` names the list in errors.
    pub fn parse(key: &str, specs: &[ValidatorSpec], validators: u64) -> Result<Self, ScenarioError> {
        let mut ranges = Vec::with_capacity(specs.len());
        for (i, spec) in specs.iter().enumerate() {
            let at = format!("{key}[{i}]");
            let (lo, hi) = match spec {
                ValidatorSpec::Index(v) => (*v, *v),
                ValidatorSpec::Text(t) => parse_range(&at, t)?,
            };
            if hi >= validators {
                return Err(invalid(
                    at,
                    format!("validator {hi} does not exist (validators = {validators})"),
                    format!("use indices below {validators} or raise `validators`"),
                ));
            }
            ranges.push((lo, hi));
        }
        ranges.sort_unstable();
        let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
        for (lo, hi) in ranges {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        Ok(ValidatorSet { ranges: merged })
    }

    pub fn contains(&self, v: u64) -> bool {
        let i = self.ranges.partition_point(|r| r.1 < v);
        i < self.ranges.len() && self.ranges[i].0 <= v
    }

    /// Number of validators in the set.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(lo, hi)| hi - lo + 1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }
}

fn parse_range(at: &str, text: &str) -> Result<(u64, u64), ScenarioError> {
    let bad = || {
        invalid(
            at,
            format!("\"{text}\" is not a validator index or range"),
            "write a single index like \"7\" or an inclusive range like \"0-63\"",
        )
    };
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    match text.split_once('-') {
        None => num(text).map(|v| (v, v)),
        Some((lo, hi)) => {
            let (lo, hi) = (num(lo)?, num(hi)?);
            if lo > hi {
                return Err(invalid(at, format!("range \"{text}\" starts above its end"), "write \"a-b\" with a <= b"));
            }
            Ok((lo, hi))
        }
    }
}

/// A deterministic simulated chain, fixed entirely by this file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Everything random (permutations, misses, roots, keys) derives from this.
    pub seed: u64,
    /// `"minimal"` (8 slots an epoch, committees of 4, at most 4 a slot) or `"mainnet"` (32, 128, 64).
    #[serde(default = "default_preset")]
    pub preset: String,
    /// Total number of validators, `1..=4_000_000`.
    pub validators: u64,
    /// The validators whose truth is written: indices or inclusive `"a-b"` ranges. [none]
    #[serde(default)]
    pub tracked: Vec<ValidatorSpec>,
    /// Blocks of epochs at or after this are Electra blocks, earlier ones Deneb. [0]
    #[serde(default)]
    pub electra_fork_epoch: u64,
    /// Unix time of slot 0. [1700000000]
    #[serde(default = "default_genesis_time")]
    pub genesis_time: u64,
    /// At start the head is the last slot of this epoch.
    pub head_epoch: u64,
    /// The spec's `SHARD_COMMITTEE_PERIOD`: epochs a validator must be active before it may
    /// exit (a local chain may shorten it). [256 mainnet, 64 minimal]
    #[serde(default)]
    pub shard_committee_period: Option<u64>,
    /// The finalized checkpoint trails the head's epoch by this many epochs (never below 0). [2]
    #[serde(default = "default_finality_lag")]
    pub finality_lag: u64,
    /// If above 0, the head advances one slot every `slot_ms` milliseconds once serving starts. [0]
    #[serde(default)]
    pub slot_ms: u64,
    /// Share, in basis points of 10000, of untracked validators' duties that are missed. [0]
    #[serde(default)]
    pub untracked_miss_rate_bps: u64,
    /// Slots without a block. [none]
    #[serde(default)]
    pub missed_slots: Vec<u64>,
    /// If N > 0, every Nth block (by execution block number) also repeats the previous
    /// block's first attestation, a duplicate an oracle must count once. [0]
    #[serde(default)]
    pub duplicate_every: u64,
    /// Validators that do not attest during an epoch window. [none]
    #[serde(default)]
    pub offline: Vec<OfflineRule>,
    /// Validators that miss a deterministic share of their duties. [none]
    #[serde(default)]
    pub miss: Vec<MissRule>,
    /// Validators whose attestations are included late during an epoch window. [none]
    #[serde(default)]
    pub late: Vec<LateRule>,
    /// Slashings: the validator stops attesting at `epoch` and exits at `epoch + 5`. [none]
    #[serde(default)]
    pub slashing: Vec<ValidatorEpoch>,
    /// Voluntary exits requested at `epoch`: duties continue until `epoch + 5`. [none]
    #[serde(default)]
    pub exit: Vec<ValidatorEpoch>,
    /// Activation epochs other than 0: no duties before them. [none]
    #[serde(default)]
    pub activation: Vec<ValidatorEpoch>,
    /// Deposits to existing validators (top-ups). [none]
    #[serde(default)]
    pub deposit: Vec<DepositRule>,
    /// Inactivity-leak windows: attesters earn nothing, missers pay more the longer they miss. [none]
    #[serde(default)]
    pub leak: Vec<LeakWindow>,
    /// Per-epoch attestation rewards and penalties, in gwei. [mainnet-like]
    #[serde(default)]
    pub rewards: Rewards,
    /// Faults injected into HTTP answers. [none]
    #[serde(default)]
    pub faults: Faults,
}

/// Validators that do not attest in `[from_epoch, to_epoch]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfflineRule {
    pub validators: Vec<ValidatorSpec>,
    pub from_epoch: u64,
    pub to_epoch: u64,
}

/// Validators that miss `rate_bps` / 10000 of their duties, decided by a hash of
/// (seed, validator, epoch).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissRule {
    pub validators: Vec<ValidatorSpec>,
    pub rate_bps: u64,
}

/// Validators whose attestations become includable `delay` slots after their slot
/// (1 is normal) during `[from_epoch, to_epoch]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LateRule {
    pub validators: Vec<ValidatorSpec>,
    pub delay: u64,
    #[serde(default)]
    pub from_epoch: u64,
    #[serde(default = "far_epoch")]
    pub to_epoch: u64,
}

/// One validator and one epoch (slashing, exit request or activation).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidatorEpoch {
    pub validator: u64,
    pub epoch: u64,
}

/// A deposit of `gwei` to existing validator `validator`, carried by the first block at or
/// after the first slot of `epoch` (never the genesis block).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositRule {
    pub validator: u64,
    pub epoch: u64,
    pub gwei: u64,
}

/// Epochs `[from_epoch, to_epoch]` of an inactivity leak.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakWindow {
    pub from_epoch: u64,
    pub to_epoch: u64,
}

/// What an active validator's attestation of one epoch earns or costs, in gwei
/// (magnitudes of a 32 ETH validator on mainnet; see `docs/simulator.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rewards {
    /// Included within the timely limit (`timely_delay` slots). [14000]
    pub timely_gwei: u64,
    /// Included, but later than the timely limit. [3000]
    pub late_gwei: u64,
    /// Not included (missed, or too late for any block). [10000]
    pub miss_penalty_gwei: u64,
    /// In a leak, a miss costs this much more for every epoch of the leak the validator
    /// has missed so far, this one included. [1907, about 32 ETH / 2^24]
    pub leak_penalty_gwei: u64,
}

impl Default for Rewards {
    fn default() -> Self {
        Rewards { timely_gwei: 14_000, late_gwei: 3_000, miss_penalty_gwei: 10_000, leak_penalty_gwei: 1_907 }
    }
}

/// Largest per-epoch reward or penalty accepted (1 ETH), so sums stay far from overflow.
pub const MAX_EPOCH_DELTA_GWEI: u64 = 1_000_000_000;
/// Smallest deposit (the deposit contract's minimum, 1 ETH).
pub const MIN_DEPOSIT_GWEI: u64 = 1_000_000_000;
/// Largest single deposit accepted (1,000,000 ETH).
pub const MAX_DEPOSIT_GWEI: u64 = 1_000_000_000_000_000;

/// Faults injected into HTTP answers, decided by a hash of `seed` and the
/// server's request counter. The node endpoints (version, syncing, health) and
/// genesis never get faults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Seed of the fault decisions. [0]
    #[serde(default)]
    pub seed: u64,
    /// Delay added to a slowed answer, in milliseconds. [0]
    #[serde(default)]
    pub slow_ms: u64,
    /// Share (bps) of answers delayed by `slow_ms`. [0]
    #[serde(default)]
    pub slow_rate_bps: u64,
    /// Share (bps) of answers replaced by HTTP 500 or 503. [0]
    #[serde(default)]
    pub error_rate_bps: u64,
    /// Share (bps) of answers sent as 200 with a broken body. [0]
    #[serde(default)]
    pub malformed_rate_bps: u64,
    /// Share (bps) of block requests for an existing block answered 404. [0]
    #[serde(default)]
    pub hide_block_rate_bps: u64,
    /// A lying node: one validator's balance answered too high from a slot on. [none]
    #[serde(default)]
    pub wrong_balance: Option<WrongBalance>,
}

/// `[faults.wrong_balance]`: the validators and validator_balances endpoints answer
/// `validator`'s balance `gwei` higher at every state from `from_slot` on. The ground truth
/// (`sim truth`) keeps the true balance: it is what an honest node computes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrongBalance {
    pub validator: u64,
    pub from_slot: u64,
    pub gwei: u64,
}

fn default_preset() -> String {
    "minimal".into()
}
fn default_genesis_time() -> u64 {
    1_700_000_000
}
fn default_finality_lag() -> u64 {
    2
}
fn far_epoch() -> u64 {
    u64::MAX
}

/// Preset names the simulator knows.
pub const PRESETS: [&str; 2] = ["minimal", "mainnet"];

impl Scenario {
    /// Parses and validates a scenario.
    pub fn from_toml(s: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(s).map_err(|e| {
            let line = e.span().map(|r| s[..r.start.min(s.len())].lines().count().max(1)).unwrap_or(0);
            let line =
                if e.span().is_some_and(|r| s[..r.start.min(s.len())].ends_with('\n')) { line + 1 } else { line };
            ScenarioError::Parse { line, message: e.message().replace('\n', " ").trim().to_string() }
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text =
            std::fs::read_to_string(path).map_err(|error| ScenarioError::Read { path: path.to_path_buf(), error })?;
        Self::from_toml(&text)
    }

    /// The validator lists, checked against `validators`.
    pub fn tracked_set(&self) -> Result<ValidatorSet, ScenarioError> {
        ValidatorSet::parse("tracked", &self.tracked, self.validators)
    }

    /// Checks every value that serde cannot.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if !PRESETS.contains(&self.preset.as_str()) {
            return Err(invalid(
                "preset",
                format!("\"{}\" is not a known preset", self.preset),
                "use \"minimal\" or \"mainnet\"",
            ));
        }
        if self.validators == 0 || self.validators > MAX_VALIDATORS {
            return Err(invalid(
                "validators",
                format!("{} is out of range", self.validators),
                format!("use a count from 1 to {MAX_VALIDATORS}"),
            ));
        }
        if self.head_epoch > MAX_HEAD_EPOCH {
            return Err(invalid(
                "head_epoch",
                format!("{} is too far out", self.head_epoch),
                format!("use an epoch up to {MAX_HEAD_EPOCH}"),
            ));
        }
        self.tracked_set()?;
        let rate = |key: &str, v: u64| {
            if v > 10_000 {
                Err(invalid(
                    key,
                    format!("{v} is above 10000 basis points"),
                    "use a share from 0 to 10000 (10000 = always)",
                ))
            } else {
                Ok(())
            }
        };
        rate("untracked_miss_rate_bps", self.untracked_miss_rate_bps)?;
        for (i, &slot) in self.missed_slots.iter().enumerate() {
            if slot == 0 {
                return Err(invalid(
                    format!("missed_slots[{i}]"),
                    "slot 0 is genesis and always has a block",
                    "remove 0 from the list",
                ));
            }
        }
        let window = |key: String, from: u64, to: u64| {
            if from > to {
                Err(invalid(key, format!("from_epoch {from} is after to_epoch {to}"), "make from_epoch <= to_epoch"))
            } else {
                Ok(())
            }
        };
        for (i, r) in self.offline.iter().enumerate() {
            ValidatorSet::parse(&format!("offline[{i}].validators"), &r.validators, self.validators)?;
            window(format!("offline[{i}]"), r.from_epoch, r.to_epoch)?;
        }
        for (i, r) in self.miss.iter().enumerate() {
            ValidatorSet::parse(&format!("miss[{i}].validators"), &r.validators, self.validators)?;
            rate(&format!("miss[{i}].rate_bps"), r.rate_bps)?;
        }
        for (i, r) in self.late.iter().enumerate() {
            ValidatorSet::parse(&format!("late[{i}].validators"), &r.validators, self.validators)?;
            window(format!("late[{i}]"), r.from_epoch, r.to_epoch)?;
            if r.delay == 0 {
                return Err(invalid(
                    format!("late[{i}].delay"),
                    "0 is not an inclusion delay",
                    "use 1 for normal inclusion or more for late",
                ));
            }
        }
        let mut seen = std::collections::HashMap::new();
        for (list, entries) in [("slashing", &self.slashing), ("exit", &self.exit), ("activation", &self.activation)] {
            for (i, e) in entries.iter().enumerate() {
                let key = format!("{list}[{i}].validator");
                if e.validator >= self.validators {
                    return Err(invalid(
                        key,
                        format!("validator {} does not exist (validators = {})", e.validator, self.validators),
                        format!("use an index below {}", self.validators),
                    ));
                }
                if e.epoch > MAX_HEAD_EPOCH {
                    return Err(invalid(
                        format!("{list}[{i}].epoch"),
                        format!("{} is too far out", e.epoch),
                        format!("use an epoch up to {MAX_HEAD_EPOCH}"),
                    ));
                }
                let group = if list == "activation" { "activation" } else { "slashing/exit" };
                if let Some(prev) = seen.insert((group, e.validator), key.clone()) {
                    return Err(invalid(
                        key,
                        format!("validator {} already appears in {prev}", e.validator),
                        "give each validator at most one activation and at most one slashing or exit",
                    ));
                }
            }
        }
        for (i, e) in self.slashing.iter().chain(&self.exit).enumerate() {
            if let Some(a) = self.activation.iter().find(|a| a.validator == e.validator) {
                if e.epoch < a.epoch {
                    let list = if i < self.slashing.len() { "slashing" } else { "exit" };
                    return Err(invalid(
                        format!("{list}[{}].epoch", if i < self.slashing.len() { i } else { i - self.slashing.len() }),
                        format!(
                            "validator {} leaves at epoch {} before its activation at {}",
                            e.validator, e.epoch, a.epoch
                        ),
                        "move the slashing or exit to an epoch at or after the activation",
                    ));
                }
            }
        }
        for (i, d) in self.deposit.iter().enumerate() {
            if d.validator >= self.validators {
                return Err(invalid(
                    format!("deposit[{i}].validator"),
                    format!("validator {} does not exist (validators = {})", d.validator, self.validators),
                    format!("use an index below {}; deposits top up existing validators", self.validators),
                ));
            }
            if d.epoch > MAX_HEAD_EPOCH {
                return Err(invalid(
                    format!("deposit[{i}].epoch"),
                    format!("{} is too far out", d.epoch),
                    format!("use an epoch up to {MAX_HEAD_EPOCH}"),
                ));
            }
            if !(MIN_DEPOSIT_GWEI..=MAX_DEPOSIT_GWEI).contains(&d.gwei) {
                return Err(invalid(
                    format!("deposit[{i}].gwei"),
                    format!("{} gwei is not a deposit amount", d.gwei),
                    format!("use from {MIN_DEPOSIT_GWEI} (1 ETH) to {MAX_DEPOSIT_GWEI} gwei"),
                ));
            }
        }
        for (i, l) in self.leak.iter().enumerate() {
            window(format!("leak[{i}]"), l.from_epoch, l.to_epoch)?;
            if l.to_epoch > MAX_HEAD_EPOCH {
                return Err(invalid(
                    format!("leak[{i}].to_epoch"),
                    format!("{} is too far out", l.to_epoch),
                    format!("use an epoch up to {MAX_HEAD_EPOCH}"),
                ));
            }
        }
        let r = &self.rewards;
        for (key, v) in [
            ("rewards.timely_gwei", r.timely_gwei),
            ("rewards.late_gwei", r.late_gwei),
            ("rewards.miss_penalty_gwei", r.miss_penalty_gwei),
            ("rewards.leak_penalty_gwei", r.leak_penalty_gwei),
        ] {
            if v > MAX_EPOCH_DELTA_GWEI {
                return Err(invalid(
                    key,
                    format!("{v} gwei an epoch is more than a validator can earn or lose"),
                    format!("use at most {MAX_EPOCH_DELTA_GWEI} gwei (1 ETH)"),
                ));
            }
        }
        for (key, v) in [
            ("faults.slow_rate_bps", self.faults.slow_rate_bps),
            ("faults.error_rate_bps", self.faults.error_rate_bps),
            ("faults.malformed_rate_bps", self.faults.malformed_rate_bps),
            ("faults.hide_block_rate_bps", self.faults.hide_block_rate_bps),
        ] {
            rate(key, v)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
seed = 42
preset = "minimal"
validators = 256
tracked = ["0-63", "100", 101]
electra_fork_epoch = 0
genesis_time = 1700000000
head_epoch = 10
finality_lag = 2
slot_ms = 0
untracked_miss_rate_bps = 0
missed_slots = [17, 33]
duplicate_every = 0
[[offline]]
validators = ["3-5"]
from_epoch = 2
to_epoch = 4
[[miss]]
validators = ["7"]
rate_bps = 5000
[[late]]
validators = ["8"]
delay = 4
from_epoch = 0
to_epoch = 100
[[slashing]]
validator = 9
epoch = 3
[[exit]]
validator = 10
epoch = 4
[[activation]]
validator = 11
epoch = 2
[faults]
seed = 7
slow_ms = 0
slow_rate_bps = 0
error_rate_bps = 0
malformed_rate_bps = 0
hide_block_rate_bps = 0
"#;

    fn err(text: &str) -> String {
        let e = Scenario::from_toml(text).unwrap_err().to_string();
        assert!(!e.contains('\n'), "error is not one line: {e}");
        e
    }

    #[test]
    fn good_file_parses() {
        let s = Scenario::from_toml(GOOD).unwrap();
        assert_eq!(s.validators, 256);
        let t = s.tracked_set().unwrap();
        assert_eq!(t.len(), 66);
        assert!(t.contains(0) && t.contains(63) && t.contains(100) && t.contains(101));
        assert!(!t.contains(64) && !t.contains(99) && !t.contains(102));
        assert_eq!(s.late[0].delay, 4);
        assert_eq!(s.faults.seed, 7);
    }

    #[test]
    fn defaults_apply() {
        let s = Scenario::from_toml("seed = 1\nvalidators = 8\nhead_epoch = 3\n").unwrap();
        assert_eq!(s.preset, "minimal");
        assert_eq!((s.finality_lag, s.genesis_time, s.electra_fork_epoch), (2, 1_700_000_000, 0));
        assert!(s.tracked.is_empty() && s.missed_slots.is_empty());
        assert_eq!(s.rewards, Rewards::default());
        let s = Scenario::from_toml("seed = 1\nvalidators = 8\nhead_epoch = 3\n[rewards]\nlate_gwei = 5\n").unwrap();
        assert_eq!((s.rewards.late_gwei, s.rewards.timely_gwei), (5, Rewards::default().timely_gwei));
    }

    #[test]
    fn each_bad_input_names_key_and_fix() {
        let base = "seed = 1\nvalidators = 256\nhead_epoch = 3\n";
        let cases: &[(&str, &[&str])] = &[
            ("preset = \"testnet\"\n", &["`preset`", "\"testnet\"", "\"minimal\" or \"mainnet\""]),
            ("tracked = [\"5-3\"]\n", &["`tracked[0]`", "\"5-3\"", "a <= b"]),
            ("tracked = [\"x\"]\n", &["`tracked[0]`", "\"x\"", "inclusive range"]),
            ("tracked = [\"1\", 300]\n", &["`tracked[1]`", "validator 300", "below 256"]),
            ("untracked_miss_rate_bps = 10001\n", &["`untracked_miss_rate_bps`", "10001", "0 to 10000"]),
            ("missed_slots = [0]\n", &["`missed_slots[0]`", "genesis", "remove 0"]),
            ("[[late]]\nvalidators = [1]\ndelay = 0\n", &["`late[0].delay`", "0 is not", "use 1"]),
            (
                "[[offline]]\nvalidators = [1]\nfrom_epoch = 5\nto_epoch = 2\n",
                &["`offline[0]`", "from_epoch 5", "from_epoch <= to_epoch"],
            ),
            ("[[miss]]\nvalidators = [1]\nrate_bps = 20000\n", &["`miss[0].rate_bps`", "20000"]),
            ("[[slashing]]\nvalidator = 999\nepoch = 1\n", &["`slashing[0].validator`", "999", "below 256"]),
            (
                "[[slashing]]\nvalidator = 9\nepoch = 1\n[[exit]]\nvalidator = 9\nepoch = 2\n",
                &["`exit[0].validator`", "already appears in slashing[0].validator"],
            ),
            (
                "[[exit]]\nvalidator = 9\nepoch = 1\n[[activation]]\nvalidator = 9\nepoch = 2\n",
                &["`exit[0].epoch`", "before its activation"],
            ),
            ("[faults]\nerror_rate_bps = 10001\n", &["`faults.error_rate_bps`", "10001"]),
            (
                "[[deposit]]\nvalidator = 256\nepoch = 1\ngwei = 1000000000\n",
                &["`deposit[0].validator`", "256", "below 256"],
            ),
            ("[[deposit]]\nvalidator = 2\nepoch = 1\ngwei = 5\n", &["`deposit[0].gwei`", "5 gwei", "1 ETH"]),
            ("[[leak]]\nfrom_epoch = 9\nto_epoch = 3\n", &["`leak[0]`", "from_epoch 9", "from_epoch <= to_epoch"]),
            ("[rewards]\nlate_gwei = 2000000000\n", &["`rewards.late_gwei`", "2000000000", "at most"]),
            ("[rewards]\nbonus = 1\n", &["unknown field `bonus`"]),
            ("colour = 3\n", &["line 4", "unknown field `colour`"]),
            ("[faults]\nslowness = 3\n", &["line 5", "unknown field `slowness`"]),
        ];
        for (extra, wants) in cases {
            let e = err(&format!("{base}{extra}"));
            for w in *wants {
                assert!(e.contains(w), "error for {extra:?} lacks {w:?}: {e}");
            }
        }
        let e = err("seed = 1\nhead_epoch = 3\n");
        assert!(e.contains("missing field `validators`"), "{e}");
        let e = err("seed = 1\nvalidators = 0\nhead_epoch = 3\n");
        assert!(e.contains("`validators`") && e.contains("from 1 to"), "{e}");
        let e = err("seed = \"x\"\nvalidators = 1\nhead_epoch = 3\n");
        assert!(e.contains("line 1"), "{e}");
    }
}

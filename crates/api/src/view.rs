//! The snapshot the API serves: computed from the store whenever accounting or the reports
//! move on, and swapped in whole, so every request reads one consistent view and none of
//! them touches the pure computations.

use axum::body::Bytes;
use claystack_accounting::Tally;
use claystack_genesis::Genesis;
use claystack_notify::running::RunningSpan;
use claystack_notify::{
    notifications, running_frame, tally_window, Closed, ExitsClosed, Inputs, Notification, Params, RunningFrame,
};
use claystack_primitives::{Epoch, ReportKind};
use claystack_report::{frame_of, leaf_values, tree_of, BondHeld};
use claystack_rewards::{Address, OperatorReport};
use claystack_store::Store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One stored report in the list.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    pub number: u64,
    pub first_epoch: Epoch,
    pub last_epoch: Epoch,
    pub merkle_root: String,
    pub report_hash: String,
}

/// One operator's line of one report.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryLine {
    pub report: u64,
    pub rewards_wei: String,
    pub epoch_amount_wei: String,
    pub bond_penalty_wei: String,
    pub cumulative_wei: String,
    pub score_bps: u32,
    pub bond_requirement_wei: String,
}

/// What an operator can claim with the latest report's tree.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub report: u64,
    pub merkle_root: String,
    /// The leaf, in `NodeManager.claim`'s order.
    pub cumulative_wei: String,
    pub cumulative_bond_penalty_wei: String,
    pub bond_requirement_wei: String,
    pub proof: Vec<String>,
}

/// Everything `/v1/operators/{address}` shows.
#[derive(Debug, Clone, Serialize)]
pub struct OperatorView {
    pub address: Address,
    /// Its entry in the latest report: nodes and their rates, score, bond requirement.
    pub latest: Option<OperatorReport>,
    /// Its entry in the running frame's projection.
    pub running: Option<OperatorReport>,
    /// What its bond was worth in ETH wei at the latest report's reference block (csETH at
    /// its rate then, as the contract compares it with the requirement); `null` when the
    /// latest report's bonds were not read (inputs from a file).
    pub bond_wei: Option<String>,
    pub claim: Option<Claim>,
    /// Its lines in the latest reports, ascending.
    pub history: Vec<HistoryLine>,
}

/// The view at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The next epoch accounting will account; `None` before it accounted one.
    pub next_epoch: Option<Epoch>,
    /// The latest stored report (0: none).
    pub latest_report: u64,
    pub reports: Vec<ReportSummary>,
    /// The highest report the NodeManager accepted, as last read (0: none or unknown).
    pub accepted: u64,
    pub notifications: Vec<Notification>,
    pub running: Option<RunningFrame>,
    /// Why there is no running frame, when there is none.
    pub running_note: Option<String>,
    pub operators: BTreeMap<Address, OperatorView>,
    /// Each operator's answer, serialized once per view rather than once per request: the
    /// operator endpoint is the one loaded by operators' dashboards (docs/benchmarks.md).
    pub operator_json: BTreeMap<Address, Bytes>,
    /// Peer signatures stored for the latest report, own signature, certificate, submission.
    pub committee: CommitteeState,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct CommitteeState {
    pub peer_signatures: u64,
    pub own_signature: bool,
    pub certificate: bool,
    pub submission: bool,
}

/// What decides whether a snapshot is out of date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Marks {
    pub next_epoch: Option<Epoch>,
    pub latest_report: u64,
    pub accepted: u64,
    /// The highest exits report the NodeManager accepted, as last read (0: none or unknown).
    pub accepted_exits: u64,
}

/// Builds snapshots, keeping the parsed reports it already read.
pub struct Builder {
    store: Arc<Store>,
    genesis: Option<Genesis>,
    params: Params,
    closed: BTreeMap<u64, Closed>,
    summaries: Vec<ReportSummary>,
}

impl Builder {
    pub fn new(store: Arc<Store>, genesis: Option<Genesis>, params: Params) -> Builder {
        Builder { store, genesis, params, closed: BTreeMap::new(), summaries: Vec::new() }
    }

    /// The store's current marks (the accepted numbers, rewards and exits, are the caller's).
    pub fn marks(&self, accepted: u64, accepted_exits: u64) -> Result<Marks, String> {
        let next_epoch = self.store.accounting_cursor().map_err(|e| e.to_string())?.map(|c| c.next_epoch);
        let latest_report =
            self.store.latest_report(ReportKind::Rewards).map_err(|e| e.to_string())?.map_or(0, |(n, _)| n);
        Ok(Marks { next_epoch, latest_report, accepted, accepted_exits })
    }

    /// A snapshot at `marks`.
    pub fn build(&mut self, marks: Marks) -> Result<Snapshot, String> {
        let mut snap = Snapshot {
            next_epoch: marks.next_epoch,
            latest_report: marks.latest_report,
            accepted: marks.accepted,
            ..Snapshot::default()
        };
        let Some(genesis) = self.genesis.clone() else {
            snap.running_note = Some("this node closes no reports (it has no genesis)".into());
            return Ok(snap);
        };
        let economics = &genesis.economics;
        self.read_reports(&genesis, marks.latest_report)?;
        snap.reports = self.summaries.clone();
        snap.committee = self.committee(marks.latest_report)?;
        let keep = self.params.history_reports.max(1);
        let recent: Vec<Closed> =
            self.closed.range(marks.latest_report.saturating_sub(keep - 1).max(1)..).map(|(_, c)| c.clone()).collect();
        let next_epoch = marks.next_epoch.unwrap_or(0);
        let window = tally_window(economics, genesis.first_epoch, recent.last().map(Closed::number), next_epoch);
        let tallies = match window {
            Some((from, to)) => self.store.epoch_tallies(from, to).map_err(|e| e.to_string())?,
            None => Vec::new(),
        };
        snap.running = match recent.last() {
            None => {
                snap.running_note = Some("the running frame is projected once report 1 has closed".into());
                None
            }
            Some(latest) => {
                let span = RunningSpan::of(economics, genesis.first_epoch, latest.number(), next_epoch);
                let sums: Vec<Tally> = match span.accounted {
                    Some((from, to)) => self.store.sum_tallies(from, to).map_err(|e| e.to_string())?,
                    None => Vec::new(),
                };
                match running_frame(economics, span, latest, sums) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        snap.running_note = Some(e.to_string());
                        None
                    }
                }
            }
        };
        let bonds = self.bonds(marks.latest_report)?;
        let held: Vec<(Address, u128)> = bonds.iter().map(|b| (b.operator, b.wei)).collect();
        snap.notifications = notifications(
            &self.params,
            &Inputs {
                reports: &recent,
                tallies: &tallies,
                running: snap.running.as_ref(),
                accepted: marks.accepted,
                bonds: &held,
                exits_reports: &self.exits_reports(marks.accepted_exits)?,
                accepted_exits: marks.accepted_exits,
            },
        );
        snap.operators = operators(&recent, snap.running.as_ref(), &held);
        snap.operator_json = snap
            .operators
            .iter()
            .map(|(a, v)| (*a, Bytes::from(serde_json::to_vec(v).expect("an operator view always serializes"))))
            .collect();
        Ok(snap)
    }

    /// Parses the stored reports not read yet, up to `latest`.
    fn read_reports(&mut self, genesis: &Genesis, latest: u64) -> Result<(), String> {
        let from = self.summaries.len() as u64 + 1;
        for number in from..=latest {
            let stored = self
                .store
                .report(ReportKind::Rewards, number)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("stored report {number} is missing"))?;
            let frame = frame_of(&genesis.economics, genesis.first_epoch, number).map_err(|e| e.to_string())?;
            self.summaries.push(ReportSummary {
                number,
                first_epoch: frame.0,
                last_epoch: frame.1,
                merkle_root: claystack_primitives::hex::encode(&stored.merkle_root),
                report_hash: claystack_primitives::hex::encode(&stored.report_hash),
            });
            // Only the reports the rules look at are kept parsed.
            if number + self.params.history_reports.max(1) > latest {
                let closed = Closed::parse(number, &stored.report, &stored.log).map_err(|e| e.to_string())?;
                self.closed.insert(number, closed);
            }
        }
        let keep_from = latest.saturating_sub(self.params.history_reports.max(1) - 1);
        self.closed.retain(|&n, _| n >= keep_from);
        Ok(())
    }

    /// The bonds held at report `latest`'s reference block (none before report 1, or when
    /// they were not read).
    fn bonds(&self, latest: u64) -> Result<Vec<BondHeld>, String> {
        if latest == 0 {
            return Ok(Vec::new());
        }
        match self.store.report_bonds(ReportKind::Rewards, latest).map_err(|e| e.to_string())? {
            None => Ok(Vec::new()),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("stored bonds of report {latest} do not parse: {e}"))
            }
        }
    }

    /// The latest `history_reports` exits reports the NodeManager accepted, as stored (one this
    /// node did not store is left out: it has not closed it yet).
    fn exits_reports(&self, accepted: u64) -> Result<Vec<ExitsClosed>, String> {
        let from = accepted.saturating_sub(self.params.history_reports.max(1) - 1).max(1);
        let mut out = Vec::new();
        for number in from..=accepted {
            if let Some(stored) = self.store.report(ReportKind::Exits, number).map_err(|e| e.to_string())? {
                out.push(ExitsClosed::parse(number, &stored.report).map_err(|e| e.to_string())?);
            }
        }
        Ok(out)
    }

    fn committee(&self, latest: u64) -> Result<CommitteeState, String> {
        if latest == 0 {
            return Ok(CommitteeState::default());
        }
        let k = ReportKind::Rewards;
        let e = |e: claystack_store::StoreError| e.to_string();
        Ok(CommitteeState {
            peer_signatures: self.store.peer_signatures(k, latest).map_err(e)?.len() as u64,
            own_signature: self.store.own_signature(k, latest).map_err(e)?.is_some(),
            certificate: self.store.aggregate(k, latest).map_err(e)?.is_some(),
            submission: self.store.submission(k, latest).map_err(e)?.is_some(),
        })
    }
}

/// The view of `address`, made empty on first use.
fn view_of(out: &mut BTreeMap<Address, OperatorView>, address: Address) -> &mut OperatorView {
    out.entry(address).or_insert_with(|| OperatorView {
        address,
        latest: None,
        running: None,
        bond_wei: None,
        claim: None,
        history: Vec::new(),
    })
}

/// Every operator of the latest reports and the running frame, with its bond when `bonds`
/// (ETH wei, at the latest report's reference block) has it.
fn operators(
    recent: &[Closed],
    running: Option<&RunningFrame>,
    bonds: &[(Address, u128)],
) -> BTreeMap<Address, OperatorView> {
    let mut out: BTreeMap<Address, OperatorView> = BTreeMap::new();
    for closed in recent {
        for o in &closed.report.operators {
            view_of(&mut out, o.address).history.push(HistoryLine {
                report: closed.number(),
                rewards_wei: o.rewards_wei.to_string(),
                epoch_amount_wei: o.epoch_amount_wei.to_string(),
                bond_penalty_wei: o.bond_penalty_wei.to_string(),
                cumulative_wei: o.cumulative_wei.to_string(),
                score_bps: o.score.score_bps,
                bond_requirement_wei: o.bond_requirement_wei.to_string(),
            });
        }
    }
    if let Some(latest) = recent.last() {
        let tree = tree_of(&latest.report).ok();
        let leaves = latest.report.operator_leaves();
        for o in &latest.report.operators {
            let view = view_of(&mut out, o.address);
            view.latest = Some(o.clone());
            let leaf = leaves.iter().find(|l| l.operator == o.address.0);
            if let (Some(tree), Some(leaf)) = (&tree, leaf) {
                if let Some(proof) = tree.find(&leaf_values(leaf)).and_then(|i| tree.proof(i).ok()) {
                    view.claim = Some(Claim {
                        report: latest.number(),
                        merkle_root: claystack_primitives::hex::encode(&tree.root()),
                        cumulative_wei: leaf.cumulative_wei.to_string(),
                        cumulative_bond_penalty_wei: leaf.cumulative_bond_penalty_wei.to_string(),
                        bond_requirement_wei: leaf.bond_requirement_wei.to_string(),
                        proof: proof.iter().map(|h| claystack_primitives::hex::encode(h)).collect(),
                    });
                }
            }
        }
    }
    if let Some(running) = running {
        for o in &running.projection.operators {
            view_of(&mut out, o.address).running = Some(o.clone());
        }
    }
    for (address, wei) in bonds {
        if let Some(view) = out.get_mut(address) {
            view.bond_wei = Some(wei.to_string());
        }
    }
    out
}

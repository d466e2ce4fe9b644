//! `report compute|verify|verify-exits` and `proof`: offline and reproducible.

use crate::cli::{ExplainArgs, ProofArgs, ReportArgs, VerifyArgs, VerifyExitsArgs};
use anyhow::{bail, Context};
use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_execution::alloy::primitives::Address;
use claystack_execution::{ReportReader, Rpc};
use claystack_frame_close::{frame_flows, ExitsCloser, ExitsWaiting, ReferenceReader};
use claystack_genesis::Genesis;
use claystack_merkle::{StandardMerkleTree, Value};
use claystack_primitives::{hex, ReportKind};
use claystack_report::{build, frame_of, report_bytes, Built, ExternalInputs, FrameLog, REWARDS_LEAF_ENCODING};
use claystack_rewards::RewardsReport;
use claystack_store::Store;
use std::path::Path;
use std::sync::Arc;

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| anyhow::anyhow!("{what} {} is invalid: {e}", path.display()))
}

/// Computes the report and its tree from the files, the store and (with --rpc-url) the
/// registry on chain; returns the RPC connection too, for `verify`.
async fn compute_from(args: &ReportArgs) -> anyhow::Result<(Built, Option<(Rpc, Genesis)>)> {
    let genesis = super::genesis::load_verified(&args.genesis)?;
    let economics = genesis.economics.clone();
    let frame = frame_of(&economics, genesis.first_epoch, args.number)?;
    if !args.data_dir.exists() {
        bail!("data directory {} does not exist — run `claystack-oracle run` first", args.data_dir.display());
    }
    let store = Store::open(&args.data_dir)?;
    let accounted = store.accounting_cursor()?.map_or(0, |c| c.next_epoch);
    let first_stored = store.epoch_tallies(0, frame.1)?.first().map(|e| e.epoch);
    if accounted <= frame.1 || first_stored.is_none_or(|e| e > frame.0) {
        bail!(
            "report {} covers beacon epochs {}..={}, but {} holds accounted epochs {}..{}: wait for the node to account them",
            args.number,
            frame.0,
            frame.1,
            args.data_dir.display(),
            first_stored.map_or("-".into(), |e| e.to_string()),
            accounted
        );
    }
    let (mut file, chain) = match (&args.rpc_url, &args.inputs) {
        (Some(url), None) => {
            if args.beacon_urls.is_empty() {
                bail!("--rpc-url needs --beacon-url too: the beacon node gives the frame's reference block and validator records");
            }
            let flows = frame_flows(&store, args.number, frame)?;
            let rpc = Rpc::connect(url, genesis.chain_id).await.context("--rpc-url")?;
            let beacon = BeaconClient::new(&args.beacon_urls, ClientConfig::default()).context("--beacon-url")?;
            let measured = ReferenceReader::new(beacon, rpc.clone(), &genesis)
                .read(args.number, frame, &flows)
                .await
                .context("measuring the frame at its reference points (--rpc-url, --beacon-url)")?
                .map_err(|waiting| anyhow::anyhow!("{waiting}"))?;
            (measured.into_inputs(), Some((rpc, genesis)))
        }
        (None, Some(path)) => (read_json::<ExternalInputs>(path, "frame inputs file")?, None),
        (Some(_), Some(_)) => {
            bail!("give --inputs or --rpc-url, not both: with --rpc-url every frame input is measured from the chains")
        }
        (None, None) => {
            bail!("give --rpc-url and --beacon-url to measure the frame, or --inputs with a frame inputs file")
        }
    };
    if file.previous.is_none() && args.number > 1 {
        // Report K chains to report K-1; a node's data dir holds it.
        let Some(stored) = store.report(ReportKind::Rewards, args.number - 1)? else {
            bail!(
                "report {} chains to report {}: put its carry in the inputs file's \"previous\", or use the data dir of a node that closed it",
                args.number,
                args.number - 1
            );
        };
        let previous: RewardsReport = serde_json::from_slice(&stored.report)
            .with_context(|| format!("stored report {} in {}", args.number - 1, args.data_dir.display()))?;
        file.previous = Some(previous.carry());
    }
    let tallies = store.sum_tallies(frame.0, frame.1)?;
    Ok((build(&economics, file, args.number, frame, tallies)?, chain))
}

pub async fn compute(args: ReportArgs) -> anyhow::Result<()> {
    let (Built { report, tree, log }, _) = compute_from(&args).await?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let report_path = args.out.join("report.json");
    let tree_path = args.out.join("tree.json");
    claystack_fs_util::write_atomic(&report_path, &report_bytes(&report))?;
    let mut dump = serde_json::to_vec_pretty(&tree.dump())?;
    dump.push(b'\n');
    claystack_fs_util::write_atomic(&tree_path, &dump)?;
    claystack_fs_util::write_atomic(&args.out.join("frame-log.json"), &log)?;
    println!(
        "report {} (beacon epochs {}..={}): root {} — {} operators, T {} wei; wrote {}, {} and frame-log.json",
        report.number,
        report.frame.0,
        report.frame.1,
        hex::encode(&tree.root()),
        report.operators.len(),
        report.totals.t_wei,
        report_path.display(),
        tree_path.display()
    );
    Ok(())
}

pub async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let given = match &args.root {
        Some(root) => Some(hex::decode_fixed::<32>(root).map_err(|e| anyhow::anyhow!("--root {root}: {e}"))?),
        None if args.report.rpc_url.is_none() => {
            bail!("give --root, or --rpc-url (and --beacon-url) to compare with the root accepted on chain")
        }
        None => None,
    };
    let (Built { report, tree, .. }, chain) = compute_from(&args.report).await?;
    let (expected, against) = match (given, chain) {
        (Some(root), _) => (root, "--root".to_string()),
        (None, Some((rpc, genesis))) => {
            let reader = ReportReader::new(rpc, Address::from(genesis.contracts.node_manager.0));
            let Some(root) = reader.report_root(ReportKind::Rewards, args.report.number).await? else {
                bail!("report {} is not accepted on chain yet; nothing to compare with", args.report.number);
            };
            (root.0, format!("the NodeManager at {}", reader.node_manager()))
        }
        (None, None) => unreachable!("checked above"),
    };
    if tree.root() != expected {
        bail!(
            "report {}: recomputed root {} differs from {} ({against}) — the inputs, the tallies or the report differ",
            report.number,
            hex::encode(&tree.root()),
            hex::encode(&expected),
        );
    }
    println!("report {}: root {} recomputed and equal to {against}", report.number, hex::encode(&expected));
    Ok(())
}

/// Recomputes exits round `number` from the chains, as a member closes it, and compares it with
/// what the NodeManager accepted (a round with nothing to exit must have no root there).
pub async fn verify_exits(args: VerifyExitsArgs) -> anyhow::Result<()> {
    let genesis = super::genesis::load_verified(&args.genesis)?;
    if genesis.exits.is_none() {
        bail!("genesis {} has no exits section: its committee publishes no exits rounds", args.genesis.display());
    }
    if !args.data_dir.exists() {
        bail!("data directory {} does not exist — run `claystack-oracle run` first", args.data_dir.display());
    }
    let n = args.number;
    let store = Arc::new(Store::open(&args.data_dir)?);
    let rpc = Rpc::connect(&args.rpc_url, genesis.chain_id).await.context("--rpc-url")?;
    let beacon = BeaconClient::new(&args.beacon_urls, ClientConfig::default()).context("--beacon-url")?;
    let node_manager = Address::from(genesis.contracts.node_manager.0);
    let closer = ExitsCloser::new(genesis, store, beacon, rpc.clone()).context("the genesis has an exits section")?;
    let computed = match closer.compute(n).await? {
        Ok(computed) => computed,
        Err(ExitsWaiting::Accounting { reference_epoch, next_epoch, .. }) => bail!(
            "exits round {n} is read at epoch {reference_epoch}, but {} has accounted only up to epoch {next_epoch}: wait for the node",
            args.data_dir.display()
        ),
        Err(ExitsWaiting::Scores { rewards_report, .. }) => bail!(
            "exits round {n} takes its scores from rewards report {rewards_report}, which {} does not hold yet",
            args.data_dir.display()
        ),
        Err(ExitsWaiting::Inputs { reason, .. }) => bail!("exits round {n}: {reason}"),
    };
    let reader = ReportReader::new(rpc, node_manager);
    let on_chain = reader.report_root(ReportKind::Exits, n).await?.map(|r| r.0);
    let against = format!("the NodeManager at {}", reader.node_manager());
    match (computed.merkle_root, on_chain) {
        (Some(root), Some(chain)) if root == chain => println!(
            "exits round {n}: root {} recomputed ({} exits) and equal to {against}",
            hex::encode(&root),
            computed.report.leaves.len()
        ),
        (Some(root), Some(chain)) => bail!(
            "exits round {n}: recomputed root {} differs from {} ({against}) — the inputs or the rules differ",
            hex::encode(&root),
            hex::encode(&chain)
        ),
        (Some(root), None) => {
            bail!(
                "exits round {n}: recomputed root {} has exits, but {against} has not accepted it",
                hex::encode(&root)
            )
        }
        (None, None) => {
            println!("exits round {n}: recomputed with nothing to exit; {against} has no root for it, as it should")
        }
        (None, Some(chain)) => bail!(
            "exits round {n}: recomputed with nothing to exit, but {against} accepted root {}",
            hex::encode(&chain)
        ),
    }
    Ok(())
}

pub fn proof(args: ProofArgs) -> anyhow::Result<()> {
    let address = hex::decode_fixed::<20>(&args.operator.to_ascii_lowercase())
        .map_err(|e| anyhow::anyhow!("--operator {}: {e}", args.operator))?;
    let dump = read_json(&args.tree, "tree dump")?;
    let tree =
        StandardMerkleTree::load(&dump).map_err(|e| anyhow::anyhow!("tree dump {}: {e}", args.tree.display()))?;
    let Some(i) = tree.values().iter().position(|v| v.value.first() == Some(&Value::Address(address))) else {
        bail!("operator {} has no leaf in {}", args.operator, args.tree.display());
    };
    let proof = tree.proof(i)?;
    let value = &tree.values()[i].value;
    let encoding = tree.leaf_encoding();
    let wei = |k: usize| match value.get(k) {
        Some(Value::Uint256(word)) if word[..16] == [0; 16] => {
            Ok(u128::from_be_bytes(word[16..].try_into().expect("16 bytes")).to_string())
        }
        _ => Err(anyhow::anyhow!(
            "tree dump {} does not have the rewards leaf encoding {:?}",
            args.tree.display(),
            REWARDS_LEAF_ENCODING
        )),
    };
    if encoding.names() != REWARDS_LEAF_ENCODING {
        bail!("tree dump {} does not have the rewards leaf encoding {:?}", args.tree.display(), REWARDS_LEAF_ENCODING);
    }
    let out = serde_json::json!({
        "operator": hex::encode(&address),
        "cumulative_wei": wei(1)?,
        "cumulative_bond_penalty_wei": wei(2)?,
        "bond_requirement_wei": wei(3)?,
        "proof": proof.iter().map(|h| hex::encode(h)).collect::<Vec<_>>(),
        "root": hex::encode(&tree.root()),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// `report explain`: one operator's nodes (from report.json) and the validators they run (from
/// frame-log.json), as lines a person reads. The files are checked against each other first: the
/// report names its log's hash.
pub fn explain(args: ExplainArgs) -> anyhow::Result<()> {
    let address = hex::decode_fixed::<20>(&args.operator.to_ascii_lowercase())
        .map_err(|e| anyhow::anyhow!("--operator {}: {e}", args.operator))?;
    let report_path = args.dir.join("report.json");
    let log_path = args.dir.join("frame-log.json");
    let report: RewardsReport = read_json(&report_path, "report")?;
    let log_bytes =
        std::fs::read(&log_path).with_context(|| format!("cannot read frame log {}", log_path.display()))?;
    match report.frame_log_hash {
        Some(h) if h == claystack_merkle::keccak256(&log_bytes) => {}
        Some(_) => bail!(
            "{} is not the frame log {} names (its keccak256 differs): take both files from one report",
            log_path.display(),
            report_path.display()
        ),
        None => bail!("{} names no frame log: it was computed by a build without frame logs", report_path.display()),
    }
    let log: FrameLog = serde_json::from_slice(&log_bytes)
        .map_err(|e| anyhow::anyhow!("frame log {} is invalid: {e}", log_path.display()))?;
    let Some(op) = report.operators.iter().find(|o| o.address.0 == address) else {
        bail!("operator {} is not in report {} ({})", args.operator, report.number, report_path.display());
    };
    print!("{}", explain_text(&report, &log, op));
    Ok(())
}

fn explain_text(report: &RewardsReport, log: &FrameLog, op: &claystack_rewards::OperatorReport) -> String {
    use std::fmt::Write;
    let eth = |wei: i128| {
        format!(
            "{}{}.{:018} ETH",
            if wei < 0 { "-" } else { "" },
            wei.unsigned_abs() / 10u128.pow(18),
            wei.unsigned_abs() % 10u128.pow(18)
        )
    };
    let mut o = String::new();
    let t = &log.t;
    let _ = writeln!(
        o,
        "report {} (beacon epochs {}..={}), operator {}",
        report.number,
        report.frame.0,
        report.frame.1,
        hex::encode(&op.address.0)
    );
    let _ = writeln!(
        o,
        "  T = {} (consensus rewards {} {}, execution fees {}), A = {}",
        eth(report.totals.t_wei as i128),
        eth(t.consensus_rewards_wei),
        if t.consensus_measured { "measured from the beacon chain" } else { "from the inputs file" },
        eth(t.execution_fees_wei as i128),
        report.totals.weighted_attestations
    );
    let _ = writeln!(
        o,
        "  SSV price: agreed {} wei, observed {} wei",
        log.ssv_price.agreed_wei_per_ssv, log.ssv_price.observed_wei_per_ssv
    );
    for node in &op.nodes {
        let _ = writeln!(
            o,
            "  node {} ({}): duties {}, included {}, timely {}, rate {}.{:02}%, base {}, reward {}",
            node.id,
            node.node_type,
            node.duties,
            node.included,
            node.timely,
            node.rate_bps / 100,
            node.rate_bps % 100,
            eth(node.base_wei as i128),
            eth(node.reward_wei)
        );
        for p in &node.penalties {
            let _ = writeln!(o, "    penalty {}: {}", eth(p.amount_wei as i128), p.reason);
        }
        for a in &node.adjustments {
            let _ = writeln!(o, "    adjustment {}: {}", eth(a.amount_wei), a.reason);
        }
        for v in log.validators.iter().filter(|v| v.nodes.contains(&node.id)) {
            let mut line =
                format!("    validator {}: duties {}, included {}, timely {}", v.index, v.duties, v.included, v.timely);
            if let Some(m) = &v.money {
                let _ = write!(
                    line,
                    "; balance {} -> {} gwei, withdrawn {}, deposited {}, rewards {} gwei",
                    m.start_gwei, m.end_gwei, m.withdrawn_gwei, m.deposited_gwei, m.rewards_gwei
                );
            }
            let _ = writeln!(o, "{line}");
        }
    }
    let _ = writeln!(
        o,
        "  total: rewards {}, claimable this frame {}, bond penalty {}, cumulative {}, score {} bps, bond requirement {}",
        eth(op.rewards_wei),
        eth(op.epoch_amount_wei as i128),
        eth(op.bond_penalty_wei as i128),
        eth(op.cumulative_wei as i128),
        op.score.score_bps,
        eth(op.bond_requirement_wei as i128)
    );
    o
}

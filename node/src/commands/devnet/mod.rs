//! `claystack-oracle devnet`: a whole local committee end to end, as processes on this
//! machine (1 to 32 members), until `--reports` rewards roots (2 by default) are accepted on
//! chain, each measured from the chains alone, and the operators have claimed.
//!
//! [`run`] takes the steps of docs/testnet.md in order, one function each:
//!
//! 1. [`start_chains`]: anvil (prague, chain 31337) and the beacon simulator (`sim beacon`,
//!    a child process);
//! 2. [`write_genesis`]: a genesis with fresh member keys and the contract addresses
//!    predicted for the deployer;
//! 3. [`deploy_and_register`]: the contracts deployed (with a stand-in SSV price feed and the
//!    agreed price published); the RewardsVault made anvil's fee recipient; four operators
//!    registered with nodes of every type and bonds, the simulator's validators delegated to
//!    their clusters, the NodeManager funded;
//! 4. [`frames::play_frame`]: each frame's execution-layer activity before its reference block
//!    (fees to the vault; from report 2 on a new feed price, an adjustment, fees moved out),
//!    then anvil mines past the reference block;
//! 5. [`start_members`]: one `claystack-oracle run` process per member (accounting, report,
//!    BLS signing, gossip, quorum, submission by rotation), measuring every input from the chains;
//! 6. [`wait_for_report`]: the NodeManager accepts each report, every member computed that
//!    root, and [`frames::check_report`] checks what it measured against what happened;
//! 7. [`claim_largest_leaf`]: the operator with the most rewards claims with a proof from a
//!    member's tree dump (the NodeManager credits it) and withdraws the credit to itself;
//!    after the last report [`ledger`] has every operator claim (to the wei across reports),
//!    counts one `submitReport` per report, and reads each member's notifications;
//! 8. [`verify_report_offline`]: `report verify` recomputes report 1 from the chains as any
//!    operator can;
//! 9. [`devnet`] stops every process it started, on success, failure or Ctrl-C.
//!
//! Faults for the cross-process tests, in [`faults`]: `--beacon-outage-secs` and
//! `--crash-submitter` between steps 5 and 6; `--liar-member` and `--flaky-beacon-member` (a
//! second simulator with faults); `--kill-member` (after report 1). `--replace-member`
//! ([`committee_change`], governance's committee change after report 1). `--exits` adds an
//! exits round ([`exits`]); `--external-members` makes this command the conductor of members
//! that run themselves, in containers ([`external`], docker/compose.yaml).
//!
//! Everything is written under `--dir` (default `devnet/`): genesis, keys, configs,
//! each process's log and data directory. The directory is replaced on the next run.

use super::genesis::write_secret;
use crate::cli::DevnetArgs;
use anyhow::{bail, ensure, Context};
use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_execution::alloy::primitives::{B256, U256};
use claystack_execution::alloy::providers::Provider;
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_execution::{
    predict_addresses, AcceptedReport, ContractAddresses, DeployConfig, Deployer, Deployment, FeedStandIn, NodeType,
    Registrar, ReportReader, RewardsLeaf, Rpc, Submitter, Transactor, TxConfig,
};
use claystack_genesis::{generate_local, Genesis};
use claystack_keys::{Kdf, KeyDir, Password};
use claystack_merkle::StandardMerkleTree;
use claystack_primitives::hex;
use claystack_primitives::{ReportId, ReportKind};
use claystack_testkit::{free_port, free_ports, Anvil, ChildProcess};
use serde_json::json;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod committee_change;
mod exits;
mod external;
mod faults;
mod frames;
mod ledger;

use faults::{
    beacon_outage, crash_submitter, kill_and_restart, member_beacons, moving_head, restart_beacon, set_automine,
};

/// The simulated beacon chain (64 tracked validators with a few faults); `genesis_time` is
/// prepended at run time so the registry's epochs and the simulator's agree.
const SCENARIO: &str = include_str!("../../../../testnet/scenarios/committee.toml");
/// Validators the operators run (the scenario's tracked set).
const VALIDATORS: u64 = 64;
/// The frame of report 1 starts here: late enough that registration (about 100 blocks) is done
/// before the frame's reference block (about block 156 on this scenario).
const FIRST_EPOCH: u64 = 16;
const ETH: u128 = 1_000_000_000_000_000_000;
/// Marks a directory this command made, so it never deletes anything else.
const MARKER: &str = ".claystack-devnet";
/// How long a stopped process gets to exit after SIGINT before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// The largest local committee: every member a process (or container) on one machine.
const MAX_MEMBERS: usize = 32;
/// What the devnet gives each account it funds with `anvil_setBalance`.
const FUNDED_WEI: u128 = 10_000 * ETH;

/// anvil mines each transaction at once: poll for receipts often.
fn local_tx() -> TxConfig {
    TxConfig { poll_interval: Duration::from_millis(50), ..TxConfig::default() }
}

pub async fn devnet(args: DevnetArgs) -> anyhow::Result<()> {
    ensure!((1..=MAX_MEMBERS).contains(&args.members), "--members must be 1 to {MAX_MEMBERS}");
    let threshold = args.members as u32 * 2 / 3 + 1;
    if args.crash_submitter {
        ensure!(
            args.offline_member != Some(1 % args.members),
            "--crash-submitter: member {} submits report 1 and cannot be offline",
            1 % args.members
        );
    }
    for (flag, m) in [
        ("--kill-member", args.kill_member),
        ("--liar-member", args.liar_member),
        ("--flaky-beacon-member", args.flaky_beacon_member),
    ] {
        if let Some(m) = m {
            ensure!(m < args.members, "{flag} {m}: the members are 0 to {}", args.members - 1);
            ensure!(args.offline_member != Some(m), "{flag} {m}: that member is --offline-member");
        }
    }
    let honest = args.members - usize::from(args.offline_member.is_some()) - usize::from(args.liar_member.is_some());
    if let Some(m) = args.replace_member {
        ensure!(m < args.members, "--replace-member {m}: the members are 0 to {}", args.members - 1);
        ensure!(
            [args.offline_member, args.kill_member, args.liar_member, args.flaky_beacon_member]
                .iter()
                .all(|f| *f != Some(m)),
            "--replace-member {m}: choose a member no other fault names"
        );
        ensure!(
            args.reports >= committee_change::FROM,
            "--replace-member needs --reports {} or more",
            committee_change::FROM
        );
        ensure!(
            honest as u32 > threshold,
            "--replace-member raises the threshold to {}, more than the {honest} honest running members",
            threshold + 1
        );
    }
    ensure!(
        honest as u32 >= threshold,
        "{honest} honest running members cannot reach the threshold of {threshold}; add members"
    );
    if let Some(m) = args.offline_member {
        ensure!(m < args.members, "--offline-member {m}: the members are 0 to {}", args.members - 1);
        ensure!(
            args.members as u32 > threshold,
            "--offline-member: {} running members cannot reach the threshold of {threshold}",
            args.members - 1
        );
    }
    if args.external_members {
        external::prepare_dir(&args.dir)?;
    } else {
        prepare_dir(&args.dir)?;
    }
    let started = Instant::now();
    let mut procs = Procs::default();
    let outcome = tokio::select! {
        r = run(&args, threshold, &mut procs) => r,
        // `--hold` ends here: its summary is written, and Ctrl-C is how it stops.
        _ = tokio::signal::ctrl_c() => if args.hold || args.keep_running { Ok(json!(null)) } else { Err(anyhow::anyhow!("interrupted")) },
    };
    if outcome.is_err() {
        for (child, log) in &procs.children {
            eprintln!("--- last lines of {} ({}) ---\n{}", child.name(), log.display(), tail(log, 12));
        }
    }
    // 9. Stop everything.
    say(&format!("stopping its {} child processes (anvil already stopped with the run)", procs.children.len()));
    procs.stop();
    let summary = outcome?;
    if let (Some(path), false) = (&args.summary, args.hold || args.keep_running) {
        claystack_fs_util::write_atomic(path, &serde_json::to_vec_pretty(&summary)?)?;
    }
    say(&format!("done in {:.0} s; everything is in {}", started.elapsed().as_secs_f64(), args.dir.display()));
    Ok(())
}

/// Steps 1-8 (the module doc); returns the summary `--summary` writes.
async fn run(args: &DevnetArgs, threshold: u32, procs: &mut Procs) -> anyhow::Result<serde_json::Value> {
    let dir = &args.dir;
    let exe = std::env::current_exe().context("cannot find this executable to start the nodes")?;
    ensure!(
        !args.exits || args.reports >= 3,
        "--exits needs --reports 3 or more: report 3's frame holds the exits exits round 1 asks for"
    );
    let chains = start_chains(args, &exe, procs).await?;
    let genesis = if args.external_members {
        external::assemble_genesis(args, threshold, &chains, procs).await?
    } else {
        write_genesis(args, threshold, &chains).await?
    };
    let (deployment, operators) = deploy_and_register(&chains, &genesis).await?;
    let plans = frames::plan(&chains, &chains.rpc, &genesis, args.reports).await?;
    let registered_at = chains.rpc.block_number().await?;
    ensure!(
        registered_at < plans[0].start_block,
        "registration ended at block {registered_at}, after report 1's frame began (block {}); raise FIRST_EPOCH in \
         node/src/commands/devnet",
        plans[0].start_block
    );
    let mut activity =
        vec![frames::play_frame(&chains, &deployment.addresses, &plans[0], frames::FIRST_OBSERVED_WEI_PER_SSV).await?];
    if args.hold {
        // Every frame's activity up front: report n's submission lands after report n+1's
        // reference block, which only report 1's pinned root does not depend on.
        for plan in &plans[1..] {
            let price = activity.last().expect("frame 1 played").observed_wei_per_ssv;
            activity.push(frames::play_frame(&chains, &deployment.addresses, plan, price).await?);
        }
        return hold(args, threshold, &chains, &genesis, &deployment, procs).await;
    }
    if args.beacon_outage_secs.is_some() {
        // Report 1 must not close before the outage: the head starts before its frame is final.
        restart_beacon(dir, &exe, &chains, procs, &moving_head(chains.beacon_genesis_time), "sim-moving.log").await?;
    }
    if args.crash_submitter {
        set_automine(&chains.rpc, false).await?;
    }
    let members = if args.external_members {
        external::configure_members(args, &chains, &genesis, procs).await?
    } else {
        let beacons = member_beacons(args, &exe, &chains, procs).await?;
        start_members(args, &exe, &chains, &genesis, &beacons, procs).await?
    };
    let mut faults = json!({});
    if let Some(secs) = args.beacon_outage_secs {
        faults["beacon_outage_secs"] = json!(beacon_outage(args, &exe, &chains, &members, procs, secs).await?);
    }
    if args.crash_submitter {
        faults["crashed_submitter"] = crash_submitter(args, &exe, &chains, procs).await?;
    }
    let mut reports = Vec::new();
    let mut first = None;
    let mut claim = json!(null);
    let mut replacement = None;
    let mut settled = std::collections::BTreeMap::new();
    let mut exits_summary = json!(null);
    for plan in &plans {
        if plan.number > 1 {
            let price = activity.last().expect("frame 1 played").observed_wei_per_ssv;
            activity.push(frames::play_frame(&chains, &deployment.addresses, plan, price).await?);
        }
        let report = wait_for_report(args, &chains, &deployment, &members, procs, plan.number).await?;
        let exported = dir.join(format!("member-{}/data/reports/rewards-{}", members.online[0], plan.number));
        let measured = frames::check_report(
            &exported,
            &chains.rpc,
            &deployment.addresses,
            plan,
            &activity[plan.number as usize - 1],
        )
        .await?;
        print_report(&exported.join("report.json"), &operators)?;
        if plan.number == 1 {
            claim = claim_largest_leaf(&chains, &deployment.addresses, &operators, &exported.join("tree.json")).await?;
            let operator: claystack_execution::alloy::primitives::Address =
                claim["operator"].as_str().context("claim operator")?.parse()?;
            let amount: U256 = claim["amount_wei"].as_str().context("claim amount")?.parse()?;
            let penalty: U256 = claim["bond_penalty_wei"].as_str().context("claim penalty")?.parse()?;
            settled.insert(operator, ledger::Settled { rewards: amount, penalty });
            if let Some(m) = args.kill_member {
                faults["killed"] = kill_and_restart(args, &exe, procs, m)?;
            }
        }
        if args.exits && plan.number == 1 {
            // Published before report 2's reference block, so report 2's registry holds the deadlines.
            let a = &deployment.addresses;
            let timeout = Duration::from_secs(args.timeout_secs);
            exits_summary = json!({"round_1": exits::wait_published(&chains, a.node_manager, a.operator_registry, procs, timeout).await?});
        }
        if let (Some(m), 1) = (args.replace_member, plan.number) {
            let ports = MemberPorts { p2p: members.p2p_ports.clone(), api: members.api_ports.clone() };
            let r = committee_change::replace(
                args,
                &exe,
                &chains,
                &deployment.addresses,
                &genesis,
                &ports,
                threshold,
                procs,
                m,
            )
            .await?;
            replacement = Some(r);
        }
        if args.exits && plan.number == 3 {
            exits_summary["report_3"] = exits::check_rewards(&exported)?;
            let exports = exported.parent().context("report dir")?;
            let timeout = Duration::from_secs(args.timeout_secs);
            exits_summary["round_2"] = exits::check_round_2(exports, procs, timeout).await?;
        }
        reports.push(json!({
            "number": plan.number,
            "merkle_root": report.root,
            "tx": report.accepted.tx.to_string(),
            "block": report.accepted.block,
            "gas_used": report.gas_used,
            "signers": report.signers,
            "liar": report.liar,
            "reference_block": plan.reference_block,
            "measured": measured,
        }));
        first.get_or_insert(report);
    }
    let report = first.context("no report")?;
    // Across the reports: every operator claims its last leaf, paid to the wei.
    let last = args.dir.join(format!("member-{}/data/reports/rewards-{}/tree.json", members.online[0], args.reports));
    let claims = ledger::claim_every_leaf(&chains, &deployment.addresses, &operators, &last, &mut settled).await?;
    // One submission per accepted report: the rotation sent no second transaction.
    let submissions =
        ledger::submissions(&chains, deployment.addresses.node_manager, deployment.node_manager_block).await?;
    for (id, txs) in submissions.as_object().context("submissions")? {
        let txs = txs.as_array().context("submissions")?;
        ensure!(txs.len() == 1, "{id} was submitted by {} transactions: {txs:?}", txs.len());
        ensure!(txs[0]["success"] == json!(true), "{id}'s one submission reverted: {txs:?}");
    }
    for n in 1..=args.reports {
        ensure!(submissions.get(format!("rewards-{n}")).is_some(), "no submission of rewards report {n}");
    }
    say(&format!(
        "{} reports submitted, each by exactly one transaction",
        submissions.as_object().map_or(0, |o| o.len())
    ));
    let notifications = check_notifications(args, &members, procs).await?;
    if let Some(r) = &replacement {
        let roots: Vec<(u64, String)> = reports
            .iter()
            .map(|r| (r["number"].as_u64().unwrap_or(0), r["merkle_root"].as_str().unwrap_or("").to_string()))
            .collect();
        let mut checked = committee_change::check(args, &chains, &deployment.addresses, r, &roots).await?;
        checked["change"] = r.summary.clone();
        faults["committee_change"] = checked;
    }
    let pids: Vec<u32> =
        procs.children.iter().map(|(c, _)| c.id()).chain(chains.anvil.as_ref().map(Anvil::pid)).collect();
    if args.external_members {
        // Its store is locked by a member this command does not run; `report verify` is the
        // member's own to run (docs/docker.md).
        say("report 1 is not recomputed here: the members run themselves and hold their stores");
    } else {
        verify_report_offline(dir, &exe, &chains, members.online[0], procs, args.exits)?;
    }
    let summary = json!({
        "reports": reports,
        "report": 1,
        "merkle_root": report.root,
        "member_roots": report.member_roots,
        "tx": report.accepted.tx.to_string(),
        "block": report.accepted.block,
        "gas_used": report.gas_used,
        "signers": report.signers,
        "submitter": report.accepted.submitter.to_string(),
        "submitter_member": report.submitter_member,
        "online": members.online,
        "threshold": threshold,
        "claim": claim,
        "pids": pids,
        "faults": faults,
        "exits": exits_summary,
        "claims": claims,
        "submissions": submissions,
        "notifications": notifications,
        "apis": members.online.iter().map(|&i| format!("http://127.0.0.1:{}/", members.api_ports[i])).collect::<Vec<_>>(),
    });
    if args.keep_running {
        keep_running(args, &members, &summary, procs).await?;
    }
    Ok(summary)
}

/// `--keep-running`: the summary written, where to look said, then everything kept up (the
/// members keep serving their APIs and pages) until Ctrl-C.
async fn keep_running(
    args: &DevnetArgs,
    members: &Members,
    summary: &serde_json::Value,
    procs: &mut Procs,
) -> anyhow::Result<()> {
    if let Some(path) = &args.summary {
        claystack_fs_util::write_atomic(path, &serde_json::to_vec_pretty(summary)?)?;
    }
    for &i in &members.online {
        say(&format!(
            "member {i}: operator page and API http://127.0.0.1:{}/ , log {}",
            members.api_ports[i],
            args.dir.join(format!("member-{i}/node.log")).display()
        ));
    }
    say("everything keeps running; Ctrl-C stops it");
    wait_until(procs, Duration::from_secs(u32::MAX.into()), "Ctrl-C", || async { false }).await
}

/// Every running member's API serves a `report_accepted` notification for each of the latest
/// reports (up to 4, what the notifications look back on) once it has seen them accepted.
/// Returns what member by member it served.
async fn check_notifications(
    args: &DevnetArgs,
    members: &Members,
    procs: &mut Procs,
) -> anyhow::Result<serde_json::Value> {
    let want = args.reports.min(4) as usize;
    let mut served = serde_json::Map::new();
    for &i in &members.online {
        let port = members.api_ports[i];
        let count = || {
            ledger::api_get(port, "/v1/notifications?kind=report_accepted")
                .ok()
                .and_then(|v| v["notifications"].as_array().map(Vec::len))
                .unwrap_or(0)
        };
        wait_until(
            procs,
            Duration::from_secs(30),
            &format!("member {i}'s API to serve the accepted reports"),
            || async { count() >= want },
        )
        .await?;
        let all = ledger::api_get(port, "/v1/notifications")?;
        let mut kinds = std::collections::BTreeMap::<String, usize>::new();
        for n in all["notifications"].as_array().context("notifications")? {
            *kinds.entry(n["kind"].as_str().unwrap_or("?").to_string()).or_default() += 1;
        }
        served.insert(format!("member-{i}"), json!(kinds));
    }
    say(&format!("every running member's API serves the {want} latest reports' report_accepted notifications"));
    Ok(serde_json::Value::Object(served))
}

/// `--hold`: each member's configuration written and none started; the summary (where
/// everything is) written, then both chains kept up until Ctrl-C.
async fn hold(
    args: &DevnetArgs,
    threshold: u32,
    chains: &Chains,
    genesis: &Genesis,
    deployment: &Deployment,
    procs: &mut Procs,
) -> anyhow::Result<serde_json::Value> {
    let beacons = vec![chains.beacon_url.clone(); args.members];
    let members = write_member_configs(args, chains, genesis, &beacons).await?;
    let configs: Vec<PathBuf> = (0..args.members).map(|i| args.dir.join(format!("member-{i}/node.toml"))).collect();
    let summary = json!({
        "dir": args.dir,
        "members": args.members,
        "threshold": threshold,
        "configs": configs,
        "password_file": args.dir.join("password"),
        "genesis": args.dir.join("genesis.json"),
        "scenario": args.dir.join("scenario.toml"),
        "beacon_url": chains.beacon_url,
        "rpc_url": chains.rpc_url,
        "node_manager": deployment.addresses.node_manager.to_string(),
        "node_manager_block": deployment.node_manager_block,
        "submitters": members.submitters.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
    });
    if let Some(path) = &args.summary {
        claystack_fs_util::write_atomic(path, &serde_json::to_vec_pretty(&summary)?)?;
    }
    say(&format!(
        "holding: no member started; run them with `claystack-oracle run --config {}/member-<i>/node.toml`; Ctrl-C stops the chains",
        args.dir.display()
    ));
    // The chains run on; a child that dies (the simulator) ends the hold with its log.
    wait_until(procs, Duration::from_secs(u32::MAX.into()), "Ctrl-C", || async { false }).await?;
    Ok(summary)
}

/// Both chains, as step 1 leaves them.
struct Chains {
    /// The anvil this command started (none with `--rpc-url`).
    anvil: Option<Anvil>,
    rpc_url: String,
    chain_id: u64,
    rpc: Rpc,
    /// Funded keys: 0 deploys, 1-4 are the operators, 5-9 the first members' submitters
    /// (anvil's dev keys when this command started anvil, else fresh funded keys).
    keys: Vec<PrivateKeySigner>,
    beacon: BeaconClient,
    beacon_url: String,
    beacon_genesis_time: u64,
    seconds_per_epoch: u64,
}

/// Step 1: anvil, and the beacon simulator with the committee scenario on one clock with it.
async fn start_chains(args: &DevnetArgs, exe: &Path, procs: &mut Procs) -> anyhow::Result<Chains> {
    let (dir, reports, with_exits) = (&args.dir, args.reports, args.exits);
    let (anvil, rpc_url, chain_id, rpc, keys) = match &args.rpc_url {
        None => {
            let anvil = Anvil::builder().start()?;
            let rpc = Rpc::connect(&anvil.endpoint(), anvil.chain_id()).await?;
            let keys = anvil.dev_keys()?;
            say(&format!("anvil on {} (chain {}, prague)", anvil.endpoint(), anvil.chain_id()));
            let (url, id) = (anvil.endpoint(), anvil.chain_id());
            (Some(anvil), url, id, rpc, keys)
        }
        Some(url) => {
            let (rpc, chain_id) = external::connect_anvil(url, procs).await?;
            // Fixed keys, so the operators' addresses (in every leaf) and the roots are the same on
            // every run, as with anvil's dev keys.
            let mut keys = Vec::new();
            for i in 0..10u8 {
                let secret = claystack_execution::alloy::primitives::keccak256(
                    [b"claystack-devnet-account-".as_slice(), &[i]].concat(),
                );
                let key = PrivateKeySigner::from_bytes(&secret).context("a devnet account key")?;
                fund(&rpc, key.address()).await?;
                keys.push(key);
            }
            say(&format!("anvil at {url} (chain {chain_id}); 10 devnet accounts funded"));
            (None, url.clone(), chain_id, rpc, keys)
        }
    };
    let now = rpc.provider().get_block(0.into()).await?.map(|b| b.header.timestamp).context("anvil has no block 0")?;
    let (seconds_per_slot, slots_per_epoch) = (6, 8); // the scenario's minimal preset
    let seconds_per_epoch = seconds_per_slot * slots_per_epoch;
    // Registration happens in beacon epoch 2 of the registry's clock, well before epoch 16.
    let beacon_genesis_time = now - 2 * seconds_per_epoch;
    let scenario = dir.join("scenario.toml");
    // Every report's frame final: report n ends at epoch FIRST_EPOCH + 4n - 1, finality lags 2.
    let head = format!("head_epoch = {}", FIRST_EPOCH + 4 * reports + 4);
    let mut text = format!("genesis_time = {beacon_genesis_time}\n{}", SCENARIO.replace("head_epoch = 24", &head));
    if with_exits {
        text = format!("{}{text}{}", exits::scenario_top(), exits::scenario_exits());
    }
    claystack_fs_util::write_atomic(&scenario, text.as_bytes())?;
    let beacon_url = args.beacon_url.clone().unwrap_or_else(|| format!("http://127.0.0.1:{}", free_port()));
    let beacon = BeaconClient::new(std::slice::from_ref(&beacon_url), ClientConfig::default())?;
    if args.beacon_url.is_some() {
        external::wait_for_beacon(&beacon, &beacon_url, beacon_genesis_time, procs).await?;
    } else {
        start_beacon(exe, &scenario, &beacon_url, &beacon, procs, &dir.join("sim.log")).await?;
    }
    let spec = beacon.spec().await?;
    ensure!(
        (spec.seconds_per_slot, spec.slots_per_epoch) == (seconds_per_slot, slots_per_epoch),
        "testnet/scenarios/committee.toml must use the minimal preset"
    );
    say(&format!("beacon simulator on {beacon_url}"));
    Ok(Chains { anvil, rpc_url, chain_id, rpc, keys, beacon, beacon_url, beacon_genesis_time, seconds_per_epoch })
}

/// Starts `sim beacon` on `url`'s port and waits until it answers.
async fn start_beacon(
    exe: &Path,
    scenario: &Path,
    url: &str,
    beacon: &BeaconClient,
    procs: &mut Procs,
    log: &Path,
) -> anyhow::Result<()> {
    let listen = url.trim_start_matches("http://");
    let mut sim = Command::new(exe);
    sim.args(["sim", "beacon", "--scenario"]).arg(scenario).args(["--listen", listen]);
    procs.spawn("beacon simulator", sim, log)?;
    wait_until(procs, Duration::from_secs(30), "the beacon simulator to answer", || async {
        beacon.node_version().await.is_ok()
    })
    .await
}

/// Step 2: Genesis and member keys; the contracts' addresses are predicted for the deployer.
async fn write_genesis(args: &DevnetArgs, threshold: u32, chains: &Chains) -> anyhow::Result<Genesis> {
    let dir = &args.dir;
    let owner = &chains.keys[0];
    let mut random = [0u8; 48];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut random))?;
    let seed: [u8; 32] = random[..32].try_into().expect("32 bytes");
    let (mut genesis, secrets) = generate_local(args.members, threshold, seed, chains.chain_id);
    genesis.first_epoch = FIRST_EPOCH;
    let nonce = chains.rpc.provider().get_transaction_count(owner.address()).await?;
    let predicted = predict_addresses(owner.address(), nonce);
    predicted.apply_to(&mut genesis);
    // Deployed after the current block: the members read the contracts' events from the next.
    genesis.contracts.deployed_at_block = chains.rpc.block_number().await? + 1;
    if args.exits {
        genesis.exits = Some(exits::genesis_section(predicted.withdrawal_queue, genesis.economics.frame_epochs));
    }
    let password_text = hex::encode(&random[32..])[2..].to_string();
    write_secret(&dir.join("password"), &password_text)?;
    let password = Password::new(password_text);
    for (i, secret) in secrets.iter().enumerate() {
        let keys = KeyDir::create(&dir.join(format!("member-{i}/keys")), Some(*secret), &password, Kdf::FAST)?;
        genesis.committee.members[i].peer_id = keys.peer_id;
    }
    let genesis_path = dir.join("genesis.json");
    genesis.save(&genesis_path)?;
    say(&format!(
        "genesis {}: {} members, threshold {}, report 1 covers beacon epochs {}..={}",
        genesis_path.display(),
        args.members,
        threshold,
        FIRST_EPOCH,
        FIRST_EPOCH + genesis.economics.frame_epochs - 1
    ));
    Ok(genesis)
}

/// Step 3: Contracts, operators, validators; returns the deployment and each operator's name and key.
async fn deploy_and_register(
    chains: &Chains,
    genesis: &Genesis,
) -> anyhow::Result<(Deployment, Vec<(String, PrivateKeySigner)>)> {
    let owner = chains.keys[0].clone();
    let deployer = Deployer::new(Transactor::new(chains.rpc.clone(), owner, local_tx()));
    let mut config = DeployConfig::for_genesis(genesis, chains.beacon_genesis_time, chains.seconds_per_epoch)?;
    config.feed_stand_in = Some(FeedStandIn {
        decimals: frames::FEED_DECIMALS,
        initial_answer: frames::FIRST_OBSERVED_WEI_PER_SSV as i128,
    });
    config.agreed_wei_per_ssv = Some(frames::AGREED_WEI_PER_SSV);
    config.withdrawal_queue_stand_in = genesis.exits.is_some();
    let deployment = deployer.deploy(genesis, &config).await?;
    let a = &deployment.addresses;
    // The protocol validators' fee recipient: every block's priority fees go to the vault.
    chains
        .rpc
        .provider()
        .raw_request::<_, serde_json::Value>("anvil_setCoinbase".into(), (a.rewards_vault,))
        .await
        .context("anvil_setCoinbase")?;
    say(&format!(
        "contracts deployed: NodeManager {}, OperatorRegistry {}, csETH {}, RewardsVault {} (anvil's fee recipient), \
         RewardsGovernance {} (agreed SSV price {} wei), SSV feed stand-in {}",
        a.node_manager,
        a.operator_registry,
        a.cs_eth,
        a.rewards_vault,
        a.rewards_governance,
        frames::AGREED_WEI_PER_SSV,
        a.ssv_price_feed
    ));
    let (operators, validators) = register(&chains.rpc, &chains.keys, genesis, a, &chains.beacon).await?;
    if genesis.exits.is_some() {
        let registrar =
            |k: &PrivateKeySigner| Registrar::new(Transactor::new(chains.rpc.clone(), k.clone(), local_tx()), a);
        exits::prepare(&registrar(&chains.keys[0]), &registrar(&chains.keys[1]), &validators).await?;
    }
    Ok((deployment, operators))
}

/// The members as step 5 started them.
struct Members {
    /// Each member's submitter address (dev key `5 + i`).
    submitters: Vec<claystack_execution::alloy::primitives::Address>,
    /// The members whose node runs (all but `--offline-member`).
    online: Vec<usize>,
    /// `--liar-member`: runs, but computes another root.
    liar: Option<usize>,
    /// Each member's API and libp2p ports.
    api_ports: Vec<u16>,
    p2p_ports: Vec<u16>,
}

/// Step 5: One `run` process per member (but the offline one) with its config and submitter key.
async fn start_members(
    args: &DevnetArgs,
    exe: &Path,
    chains: &Chains,
    genesis: &Genesis,
    beacons: &[String],
    procs: &mut Procs,
) -> anyhow::Result<Members> {
    let members = write_member_configs(args, chains, genesis, beacons).await?;
    let dir = &args.dir;
    for i in 0..args.members {
        if args.offline_member == Some(i) {
            continue;
        }
        let member = dir.join(format!("member-{i}"));
        let mut cmd = Command::new(exe);
        cmd.arg("run").arg("--config").arg(member.join("node.toml"));
        procs.spawn(&format!("member {i}"), cmd, &member.join("node.log"))?;
    }
    let online: Vec<usize> = (0..args.members).filter(|&i| args.offline_member != Some(i)).collect();
    say(&format!("{} oracle nodes started (logs {}/member-<i>/node.log)", online.len(), dir.display()));
    if let Some(m) = args.offline_member {
        say(&format!(
            "member {m} stays offline: it cannot sign, and when its turn to submit comes the next member takes over after fallback_ms"
        ));
    }
    Ok(Members { online, ..members })
}

/// Each member's submitter key and `node.toml` (every other member a peer). Members past
/// the fifth submit from fresh keys funded with `anvil_setBalance`.
async fn write_member_configs(
    args: &DevnetArgs,
    chains: &Chains,
    genesis: &Genesis,
    beacons: &[String],
) -> anyhow::Result<Members> {
    let dir = &args.dir;
    let ports = MemberPorts::new(args);
    let mut submitters = Vec::new();
    for (i, beacon) in beacons.iter().enumerate() {
        let member = dir.join(format!("member-{i}"));
        let key = match chains.keys.get(5 + i) {
            Some(key) => key.clone(),
            None => {
                let key = PrivateKeySigner::random();
                fund(&chains.rpc, key.address()).await?;
                key
            }
        };
        submitters.push(key.address());
        write_secret(&member.join("submitter.key"), &hex::encode(&key.to_bytes().0))?;
        let paths = MemberPaths::local(dir, &member);
        let config = node_config(i, &ports, genesis, chains, beacon, &paths);
        claystack_fs_util::write_atomic(&member.join("node.toml"), config.as_bytes())?;
    }
    Ok(Members { submitters, online: Vec::new(), liar: args.liar_member, api_ports: ports.api, p2p_ports: ports.p2p })
}

/// Each member's libp2p and API ports: `--p2p-base-port`/`--api-base-port` plus its index, or
/// free ports.
struct MemberPorts {
    p2p: Vec<u16>,
    api: Vec<u16>,
}

impl MemberPorts {
    fn new(args: &DevnetArgs) -> MemberPorts {
        let ports = |base: Option<u16>| match base {
            Some(base) => (0..args.members as u16).map(|i| base + i).collect(),
            None => free_ports(args.members),
        };
        MemberPorts { p2p: ports(args.p2p_base_port), api: ports(args.api_base_port) }
    }
}

/// Where a member's node finds its files, as the node sees them.
struct MemberPaths {
    data: PathBuf,
    genesis: PathBuf,
    keys: PathBuf,
    password: PathBuf,
    submitter: PathBuf,
}

impl MemberPaths {
    /// A member this command runs: everything under `dir`.
    fn local(dir: &Path, member: &Path) -> MemberPaths {
        MemberPaths {
            data: member.join("data"),
            genesis: dir.join("genesis.json"),
            keys: member.join("keys"),
            password: dir.join("password"),
            submitter: member.join("submitter.key"),
        }
    }
}

/// Gives `address` [`FUNDED_WEI`] on anvil.
async fn fund(rpc: &Rpc, address: claystack_execution::alloy::primitives::Address) -> anyhow::Result<()> {
    rpc.provider()
        .raw_request::<_, serde_json::Value>("anvil_setBalance".into(), (address, U256::from(FUNDED_WEI)))
        .await
        .with_context(|| format!("anvil_setBalance {address}: is the RPC anvil?"))?;
    Ok(())
}

/// Report 1 as the chain accepted it and the members computed it.
struct AcceptedRoot {
    accepted: AcceptedReport,
    gas_used: u64,
    signers: Vec<u16>,
    submitter_member: Option<usize>,
    /// The accepted Merkle root, hex.
    root: String,
    /// Each honest online member's exported root, hex, in `online` order.
    member_roots: Vec<String>,
    /// The liar's root (`--liar-member`).
    liar: serde_json::Value,
}

/// Step 6: Waits until the NodeManager accepts report `number` and every running member has
/// closed it with the accepted root.
async fn wait_for_report(
    args: &DevnetArgs,
    chains: &Chains,
    deployment: &Deployment,
    members: &Members,
    procs: &mut Procs,
    number: u64,
) -> anyhow::Result<AcceptedRoot> {
    let rpc = &chains.rpc;
    let reader = ReportReader::new(rpc.clone(), deployment.addresses.node_manager);
    wait_until(
        procs,
        Duration::from_secs(args.timeout_secs),
        &format!("report {number} to be accepted on chain"),
        || async { matches!(reader.last_report_number(ReportKind::Rewards).await, Ok(n) if n >= number) },
    )
    .await?;
    let id = ReportId { kind: ReportKind::Rewards, number };
    // anvil can answer eth_getLogs a moment behind the state the report is visible in.
    let from = deployment.node_manager_block;
    wait_until(procs, Duration::from_secs(10), &format!("the ReportAccepted event of report {number}"), || async {
        matches!(reader.find_accepted(id, from).await, Ok(Some(_)))
    })
    .await?;
    let accepted = reader
        .find_accepted(id, from)
        .await?
        .with_context(|| format!("no ReportAccepted event for report {number}"))?;
    let receipt = rpc.provider().get_transaction_receipt(accepted.tx).await?.context("no receipt")?;
    let signers: Vec<u16> = accepted.signers.members().collect();
    let submitter_member = members.submitters.iter().position(|s| *s == accepted.submitter);
    say(&format!(
        "report {number} accepted in block {} (tx {}, {} gas): root {}, signed by members {:?}, submitted by {}",
        accepted.block,
        accepted.tx,
        receipt.gas_used,
        accepted.merkle_root,
        signers,
        submitter_member.map_or(accepted.submitter.to_string(), |m| format!("member {m}"))
    ));
    let root_file = |i: usize| args.dir.join(format!("member-{i}/data/reports/rewards-{number}/root"));
    let honest: Vec<usize> = members.online.iter().copied().filter(|i| members.liar != Some(*i)).collect();
    let root_files: Vec<PathBuf> = honest.iter().map(|&i| root_file(i)).collect();
    wait_until(procs, Duration::from_secs(30), &format!("every member to close report {number}"), || async {
        root_files.iter().all(|p| p.exists())
    })
    .await?;
    let member_roots: Vec<String> = root_files
        .iter()
        .map(|p| std::fs::read_to_string(p).map(|s| s.trim().to_string()))
        .collect::<Result<_, _>>()?;
    let root = hex::encode(&accepted.merkle_root.0);
    for (i, r) in honest.iter().zip(&member_roots) {
        ensure!(*r == root, "member {i} computed root {r}, but the chain accepted {root}");
    }
    say(&format!("all {} honest running members computed report {number}'s accepted root", honest.len()));
    let mut liar = json!(null);
    if let Some(m) = members.liar {
        let file = root_file(m);
        wait_until(procs, Duration::from_secs(30), &format!("the liar to close report {number}"), || async {
            file.exists()
        })
        .await?;
        let theirs = std::fs::read_to_string(&file)?.trim().to_string();
        ensure!(theirs != root, "the liar, member {m}, computed the accepted root {root}");
        ensure!(!signers.contains(&(m as u16)), "the liar, member {m}, is among report {number}'s signers");
        say(&format!("the liar, member {m}, computed {theirs}: not accepted, not among the signers"));
        liar = json!({"member": m, "root": theirs});
    }
    Ok(AcceptedRoot { accepted, gas_used: receipt.gas_used, signers, submitter_member, root, member_roots, liar })
}

/// Step 7: The operator with the most rewards claims them with a proof from the tree dump at
/// `tree_path`; checks the amount and its balance. Returns the summary's `claim`.
async fn claim_largest_leaf(
    chains: &Chains,
    addresses: &ContractAddresses,
    operators: &[(String, PrivateKeySigner)],
    tree_path: &Path,
) -> anyhow::Result<serde_json::Value> {
    let rpc = &chains.rpc;
    let dump = std::fs::read(tree_path).with_context(|| format!("cannot read {}", tree_path.display()))?;
    let tree = StandardMerkleTree::load(&serde_json::from_slice(&dump)?)?;
    let leaves: Vec<RewardsLeaf> =
        tree.values().iter().map(|v| RewardsLeaf::from_values(&v.value)).collect::<Result<_, _>>()?;
    let best = (0..leaves.len()).max_by_key(|&i| leaves[i].cumulative_rewards).context("the tree is empty")?;
    let leaf = &leaves[best];
    let (name, key) = operators
        .iter()
        .find(|(_, k)| k.address() == leaf.operator)
        .context("the largest leaf is not one of the registered operators")?;
    let balance = rpc.provider().get_balance(leaf.operator).await?;
    // The claim credits the operator's balance in the NodeManager (pull payments); the
    // operator then withdraws it, here to its own account.
    let operator = Submitter::new(rpc.clone(), addresses.node_manager, key.clone(), local_tx());
    let claimed = operator.claim(leaf, &tree.proof(best)?).await?;
    ensure!(
        claimed.amount == leaf.cumulative_rewards,
        "claimed {} but the leaf says {}",
        claimed.amount,
        leaf.cumulative_rewards
    );
    let withdrawn = operator.withdraw(leaf.operator, claimed.amount).await?;
    let after = rpc.provider().get_balance(leaf.operator).await?;
    let fees = U256::from(receipt_fee(rpc, claimed.tx).await? + receipt_fee(rpc, withdrawn.tx).await?);
    ensure!(after + fees == balance + claimed.amount, "operator balance moved by the wrong amount");
    say(&format!(
        "operator {name} ({}) claimed {} wei ({} ETH) in tx {} and withdrew it in tx {}; bond penalty {} wei",
        leaf.operator,
        claimed.amount,
        eth(claimed.amount),
        claimed.tx,
        withdrawn.tx,
        claimed.bond_penalty
    ));
    Ok(json!({
        "operator": leaf.operator.to_string(),
        "amount_wei": claimed.amount.to_string(),
        "tx": claimed.tx.to_string(),
        "withdraw_tx": withdrawn.tx.to_string(),
        "bond_penalty_wei": claimed.bond_penalty.to_string(),
    }))
}

/// Step 8: What any operator can do: stop member `member` (its store is locked while it runs)
/// and recompute report 1 from its tallies and the public chains with `report verify`.
fn verify_report_offline(
    dir: &Path,
    exe: &Path,
    chains: &Chains,
    member: usize,
    procs: &mut Procs,
    with_exits: bool,
) -> anyhow::Result<()> {
    procs.stop_one(&format!("member {member}"));
    let verified = verify_command(dir, exe, chains, member, "verify", "1")?;
    say(&format!(
        "`report verify --number 1` on member {member}'s data, every input measured from the chains: {verified}"
    ));
    if with_exits {
        for n in ["1", "2"] {
            let verified = verify_command(dir, exe, chains, member, "verify-exits", n)?;
            say(&format!("`report verify-exits --number {n}`: {verified}"));
        }
    }
    Ok(())
}

/// Runs `claystack-oracle report <command> --number <number>` on member `member`'s data and
/// both chains; returns what it printed.
fn verify_command(
    dir: &Path,
    exe: &Path,
    chains: &Chains,
    member: usize,
    command: &str,
    number: &str,
) -> anyhow::Result<String> {
    let out = Command::new(exe)
        .args(["report", command, "--number", number, "--genesis"])
        .arg(dir.join("genesis.json"))
        .arg("--data-dir")
        .arg(dir.join(format!("member-{member}/data")))
        .args(["--rpc-url", &chains.rpc_url, "--beacon-url", &chains.beacon_url])
        .env("CLAYSTACK_LOG", "warn")
        .output()?;
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    ensure!(out.status.success(), "report {command} --number {number} failed: {}", stderr.trim());
    Ok(stdout.trim().to_string())
}

/// One line per operator of the report: what it earned and why.
fn print_report(path: &Path, operators: &[(String, PrivateKeySigner)]) -> anyhow::Result<()> {
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(path)?)?;
    let wei = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<U256>().ok()).unwrap_or_default();
    for o in report["operators"].as_array().context("report.json has no operators")? {
        let address = o["address"].as_str().unwrap_or_default();
        let name = operators
            .iter()
            .find(|(_, k)| k.address().to_string().eq_ignore_ascii_case(address))
            .map_or("?", |(n, _)| n.as_str());
        let nodes = o["nodes"].as_array().map_or(&[][..], |n| n.as_slice());
        let (duties, included) = nodes
            .iter()
            .fold((0, 0), |(d, i), n| (d + n["duties"].as_u64().unwrap_or(0), i + n["included"].as_u64().unwrap_or(0)));
        say(&format!(
            "  {name:<5} {} nodes, {included}/{duties} attestations included, earned {} ETH, score {}/10000, bond requirement {} ETH",
            nodes.len(),
            eth(wei(&o["epoch_amount_wei"])),
            o["score"]["score_bps"],
            eth(wei(&o["bond_requirement_wei"])),
        ));
    }
    Ok(())
}

/// Four operators (dev keys 1-4) with ETH bonded as csETH and direct, SSV and Obol nodes; the
/// owner delegates the simulator's validators 0-63 to their clusters and funds the
/// NodeManager. Returns each operator's name and key.
async fn register(
    rpc: &Rpc,
    keys: &[PrivateKeySigner],
    genesis: &Genesis,
    addresses: &ContractAddresses,
    beacon: &BeaconClient,
) -> anyhow::Result<(Vec<(String, PrivateKeySigner)>, Vec<(u64, u64, [u8; 48])>)> {
    let registrar =
        |k: &PrivateKeySigner| Registrar::new(Transactor::new(rpc.clone(), k.clone(), local_tx()), addresses);
    let obol = genesis.economics.node_type("obol").map_or(4, |t| t.cluster_size as usize);
    // (name, key, nodes, bond in milli-ETH): each bond covers the genesis bond of the
    // operator's nodes (direct 4 ETH, SSV 1 ETH, Obol 2 ETH per node, before score discounts).
    // The location each operator's nodes declare (setNodeLocation): the exits selection's third
    // dimension (the devnet's genesis sets no location targets, so it does not balance them).
    let plan: [(&str, usize, Vec<NodeType>, u128, &str); 4] = [
        ("alpha", 1, vec![NodeType::Direct; 2], 8_000, "eu-west"),
        ("beta", 2, vec![NodeType::Ssv; 3], 3_000, "us-east"),
        ("gamma", 3, [vec![NodeType::Ssv; 2], vec![NodeType::Direct]].concat(), 6_500, "eu-central"),
        ("delta", 4, vec![NodeType::Obol; obol], 2_000 * obol as u128, "ap-south"),
    ];
    let mut nodes: Vec<Vec<(NodeType, u64)>> = Vec::new();
    let mut operators = Vec::new();
    for (name, key, types, bond, location) in &plan {
        let r = registrar(&keys[*key]);
        r.register_operator(name, &format!("{{\"location\":\"devnet-{name}\"}}")).await?;
        r.bond_with_eth(U256::from(bond * ETH / 1000)).await?;
        let mut ids = Vec::new();
        for (j, t) in types.iter().enumerate() {
            let id = r.add_node(*t, &format!("{name} node {j}")).await?;
            r.set_node_location(id, location).await?;
            ids.push((*t, id));
        }
        nodes.push(ids);
        operators.push((name.to_string(), keys[*key].clone()));
    }
    let of = |op: usize, t: NodeType| -> Vec<u64> {
        nodes[op].iter().filter(|(nt, _)| *nt == t).map(|(_, id)| *id).collect()
    };
    let alpha = of(0, NodeType::Direct);
    let mut ssv = [of(1, NodeType::Ssv), of(2, NodeType::Ssv)].concat();
    ssv.sort();
    let gamma_direct = of(2, NodeType::Direct);
    let obol_cluster = of(3, NodeType::Obol);

    let records = beacon.validators("head", &(0..VALIDATORS).collect::<Vec<_>>()).await?;
    ensure!(records.len() as u64 == VALIDATORS, "the simulator has {} of validators 0-63", records.len());
    let owner = registrar(&keys[0]);
    let mut validators = Vec::new();
    for r in &records {
        let pubkey: [u8; 48] =
            hex::decode_fixed(&r.pubkey).map_err(|e| anyhow::anyhow!("validator {}: {e}", r.index))?;
        let cluster = match r.index {
            0..=23 => vec![alpha[r.index as usize % alpha.len()]],
            24..=39 => ssv.clone(),
            40..=47 => gamma_direct.clone(),
            _ => obol_cluster.clone(),
        };
        let id = owner.add_validator(&pubkey, &cluster).await?;
        validators.push((id, r.index, pubkey));
    }
    owner.transfer(addresses.node_manager, U256::from(100 * ETH)).await?;
    let node_count: usize = nodes.iter().map(Vec::len).sum();
    say(&format!(
        "registered 4 operators, {node_count} nodes (direct, SSV cluster of 5, Obol cluster of {obol}), {VALIDATORS} validators; NodeManager funded with 100 ETH"
    ));
    Ok((operators, validators))
}

fn node_config(
    i: usize,
    ports: &MemberPorts,
    genesis: &Genesis,
    chains: &Chains,
    beacon: &str,
    paths: &MemberPaths,
) -> String {
    let others: Vec<String> = (0..ports.p2p.len())
        .filter(|j| *j != i)
        .map(|j| format!("\"/ip4/127.0.0.1/tcp/{}/p2p/{}\"", ports.p2p[j], genesis.committee.members[j].peer_id))
        .collect();
    format!(
        r#"# member {i} of the local committee (written by `claystack-oracle devnet`)
data_dir = "{data}"
genesis = "{genesis}"

[beacon]
urls = ["{beacon}"]

[accounting]
tracked_validators = ["0-{last}"]
start_epoch = {FIRST_EPOCH}
poll_interval_ms = 500

[committee]
keys_dir = "{keys}"
password_file = "{password}"
listen = "/ip4/127.0.0.1/tcp/{port}"
peers = [{others}]
rebroadcast_ms = 2000
fallback_ms = 8000

[execution]
rpc_url = "{rpc}"
submitter_key_file = "{submitter}"

[api]
listen = "127.0.0.1:{api}"
"#,
        data = paths.data.display(),
        genesis = paths.genesis.display(),
        rpc = chains.rpc_url,
        last = VALIDATORS - 1,
        keys = paths.keys.display(),
        password = paths.password.display(),
        port = ports.p2p[i],
        others = others.join(", "),
        submitter = paths.submitter.display(),
        api = ports.api[i],
    )
}

/// The child processes devnet started, each with its log; stopped (SIGINT, then SIGKILL)
/// when dropped. Each dies with devnet even if devnet is killed (see `claystack_testkit::process`).
#[derive(Default)]
struct Procs {
    children: Vec<(ChildProcess, PathBuf)>,
}

impl Procs {
    fn spawn(&mut self, name: &str, mut cmd: Command, log: &Path) -> anyhow::Result<()> {
        let out = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
        cmd.stdout(out.try_clone()?).stderr(out).stdin(Stdio::null());
        let child = ChildProcess::spawn(name, cmd).with_context(|| format!("cannot start {name}"))?;
        self.children.push((child, log.to_path_buf()));
        Ok(())
    }

    /// Stops one child (SIGINT, then SIGKILL after the grace period) and forgets it.
    fn stop_one(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(c, _)| c.name() == name) {
            self.children.remove(i).0.stop(STOP_GRACE);
        }
    }

    /// Kills one child (`kill -9`, no grace) and forgets it.
    fn kill_one(&mut self, name: &str) {
        if let Some(i) = self.children.iter().position(|(c, _)| c.name() == name) {
            self.children.remove(i).0.kill();
        }
    }

    /// Fails naming the first child that exited.
    fn check(&mut self) -> anyhow::Result<()> {
        for (child, log) in &mut self.children {
            if let Some(status) = child.try_wait()? {
                bail!("{} exited ({status}); see {}", child.name(), log.display());
            }
        }
        Ok(())
    }

    /// Interrupts all at once, so they share one grace period; kills what is left after it.
    fn stop(&mut self) {
        let mut children = std::mem::take(&mut self.children);
        for (child, _) in &mut children {
            child.interrupt();
        }
        let deadline = Instant::now() + STOP_GRACE;
        for (child, _) in &mut children {
            let _ = child.wait_timeout(deadline.saturating_duration_since(Instant::now()));
            child.kill();
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn wait_until<F, Fut>(procs: &mut Procs, timeout: Duration, what: &str, mut done: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if done().await {
            return Ok(());
        }
        procs.check()?;
        if Instant::now() > deadline {
            bail!("gave up waiting {} s for {what}; see the logs below", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Mines `n` empty blocks on anvil.
async fn mine(rpc: &Rpc, n: u64) -> anyhow::Result<()> {
    rpc.provider()
        .raw_request::<_, serde_json::Value>("anvil_mine".into(), (format!("{n:#x}"),))
        .await
        .context("anvil_mine")?;
    Ok(())
}

async fn receipt_fee(rpc: &Rpc, tx: B256) -> anyhow::Result<u128> {
    let r = rpc.provider().get_transaction_receipt(tx).await?.context("no receipt for the claim")?;
    Ok(r.gas_used as u128 * r.effective_gas_price)
}

fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        ensure!(
            dir.join(MARKER).exists(),
            "{} exists and was not made by `claystack-oracle devnet`; choose another --dir",
            dir.display()
        );
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot clear {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "made by claystack-oracle devnet; replaced on its next run\n")?;
    Ok(())
}

fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn eth(wei: U256) -> String {
    let milli = wei / U256::from(ETH / 1000);
    format!("{}.{:03}", milli / U256::from(1000), milli % U256::from(1000))
}

fn say(line: &str) {
    println!("devnet: {line}");
}

//! The devnet's faults, each a step [`super::run`] takes when its flag asks for it: a beacon
//! outage, a submitter killed with its transaction in flight, a member killed and restarted,
//! and the second simulators of a lying or failing beacon node.

use super::{say, start_beacon, wait_until, Chains, Members, Procs, SCENARIO};
use crate::cli::DevnetArgs;
use anyhow::Context;
use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_execution::alloy::providers::Provider;
use claystack_execution::Rpc;
use claystack_testkit::free_port;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Stops the simulator and starts it again on the same port with `scenario` (same seed).
pub(super) async fn restart_beacon(
    dir: &Path,
    exe: &Path,
    chains: &Chains,
    procs: &mut Procs,
    scenario: &str,
    log: &str,
) -> anyhow::Result<()> {
    procs.stop_one("beacon simulator");
    let path = dir.join("scenario.toml");
    claystack_fs_util::write_atomic(&path, scenario.as_bytes())?;
    start_beacon(exe, &path, &chains.beacon_url, &chains.beacon, procs, &dir.join(log)).await
}

/// The committee scenario with its head at epoch 17 (finalized 15: nothing of report 1's
/// frame is final yet), moving one slot every 200 ms once serving starts, so report 1's frame
/// becomes final about 10 s after the simulator (re)starts. Same seed: same chain.
pub(super) fn moving_head(genesis_time: u64) -> String {
    let moving = SCENARIO.replace("head_epoch = 24", "head_epoch = 17\nslot_ms = 200");
    format!("genesis_time = {genesis_time}\n{moving}")
}

/// Fault: once every running member has started, the beacon simulator stops for `secs`
/// seconds (every member must keep running: `wait_until` fails on the first that exits),
/// then starts again on the same port with the same seed. Returns the outage in seconds.
pub(super) async fn beacon_outage(
    args: &DevnetArgs,
    exe: &Path,
    chains: &Chains,
    members: &Members,
    procs: &mut Procs,
    secs: u64,
) -> anyhow::Result<u64> {
    let logs: Vec<PathBuf> = members.online.iter().map(|i| args.dir.join(format!("member-{i}/node.log"))).collect();
    wait_until(procs, Duration::from_secs(60), "every member to start", || async {
        logs.iter().all(|l| std::fs::read_to_string(l).is_ok_and(|t| t.contains("oracle node started")))
    })
    .await?;
    procs.stop_one("beacon simulator");
    say(&format!("beacon simulator stopped for {secs} s (the members keep running)"));
    let back = Instant::now() + Duration::from_secs(secs);
    wait_until(procs, Duration::from_secs(secs + 5), "the outage to pass", || async { Instant::now() >= back }).await?;
    let scenario = moving_head(chains.beacon_genesis_time);
    restart_beacon(&args.dir, exe, chains, procs, &scenario, "sim-after-outage.log").await?;
    say(&format!("beacon simulator back on {} after {secs} s", chains.beacon_url));
    Ok(secs)
}

/// Fault: anvil holds transactions unmined (set before the members start); once the member
/// whose turn it is sends report 1's transaction, it is killed (`kill -9`) and started
/// again; when the restarted member has resumed, anvil mines. Returns what happened.
pub(super) async fn crash_submitter(
    args: &DevnetArgs,
    exe: &Path,
    chains: &Chains,
    procs: &mut Procs,
) -> anyhow::Result<serde_json::Value> {
    let m = 1 % args.members; // report 1's first turn (number + attempt, modulo the size)
    let member = args.dir.join(format!("member-{m}"));
    let log = member.join("node.log");
    let sent_line = || {
        std::fs::read_to_string(&log)
            .ok()
            .and_then(|t| t.lines().find(|l| l.contains("transaction sent")).map(str::to_string))
    };
    wait_until(procs, Duration::from_secs(args.timeout_secs), "member to send report 1's transaction", || async {
        sent_line().is_some()
    })
    .await?;
    procs.kill_one(&format!("member {m}"));
    // Every attempt it sent before the kill (a slow machine may have replaced the first one
    // already): all carry the same nonce, and whichever is mined is the one submission.
    let text = std::fs::read_to_string(&log).context("the killed member's log")?;
    let attempts: Vec<String> = text
        .lines()
        .filter(|l| l.contains("transaction sent"))
        .filter_map(|l| l.split("hash=").nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string))
        .collect();
    let sent = attempts.last().cloned().context("no transaction sent line")?;
    say(&format!("member {m} killed (kill -9) with transaction {sent} in flight; starting it again"));
    let mut cmd = Command::new(exe);
    cmd.arg("run").arg("--config").arg(member.join("node.toml"));
    let restarted = member.join("node-restarted.log");
    procs.spawn(&format!("member {m}"), cmd, &restarted)?;
    wait_until(procs, Duration::from_secs(60), "the restarted member to resume its transaction", || async {
        std::fs::read_to_string(&restarted).is_ok_and(|t| t.contains("resuming the transaction an earlier run sent"))
    })
    .await?;
    // The journal may hold an attempt the killed member sent but had no time to log (saved,
    // sent, killed): the restarted member names the one it resumes.
    let text = std::fs::read_to_string(&restarted).context("the restarted member's log")?;
    let resumed = text
        .lines()
        .find(|l| l.contains("resuming the transaction an earlier run sent"))
        .and_then(|l| l.split("tx=Some(").nth(1))
        .and_then(|r| r.split(')').next())
        .map(str::to_string)
        .context("the restarted member's resume line names no transaction")?;
    let mut attempts = attempts;
    if !attempts.contains(&resumed) {
        say(&format!("member {m} had also sent {resumed} (in its journal, not yet in its log)"));
        attempts.push(resumed.clone());
    }
    set_automine(&chains.rpc, true).await?;
    say(&format!("member {m} resumed its transaction {resumed}; anvil mines again"));
    Ok(json!({ "member": m, "tx": resumed, "logged": sent, "attempts": attempts }))
}

/// Fault: member `m` killed (`kill -9`, mid-run: it follows the chain and holds report 1's
/// state) and started again at once on the same data directory.
pub(super) fn kill_and_restart(
    args: &DevnetArgs,
    exe: &Path,
    procs: &mut Procs,
    m: usize,
) -> anyhow::Result<serde_json::Value> {
    let member = args.dir.join(format!("member-{m}"));
    procs.kill_one(&format!("member {m}"));
    let mut cmd = Command::new(exe);
    cmd.arg("run").arg("--config").arg(member.join("node.toml"));
    let log = member.join("node-restarted.log");
    procs.spawn(&format!("member {m}"), cmd, &log)?;
    say(&format!("member {m} killed (kill -9) after report 1 and started again (log {})", log.display()));
    Ok(json!({"member": m, "after_report": 1, "log": log}))
}

/// Turns anvil's mining of each transaction on arrival on or off; on also mines what waits.
pub(super) async fn set_automine(rpc: &Rpc, on: bool) -> anyhow::Result<()> {
    rpc.provider()
        .raw_request::<_, serde_json::Value>("evm_setAutomine".into(), (on,))
        .await
        .context("evm_setAutomine")?;
    if on {
        rpc.provider().raw_request::<_, serde_json::Value>("evm_mine".into(), ()).await.context("evm_mine")?;
    }
    Ok(())
}

/// Each member's beacon node: the devnet's simulator, or for `--liar-member` and
/// `--flaky-beacon-member` a second simulator on the same chain and clock whose answers carry
/// that fault (the scenario plus a `[faults]` section).
pub(super) async fn member_beacons(
    args: &DevnetArgs,
    exe: &Path,
    chains: &Chains,
    procs: &mut Procs,
) -> anyhow::Result<Vec<String>> {
    let mut beacons = vec![chains.beacon_url.clone(); args.members];
    let faulty = [
        (args.liar_member, "liar", "[faults.wrong_balance]\nvalidator = 12\nfrom_slot = 140\ngwei = 1000\n"),
        (
            args.flaky_beacon_member,
            "flaky",
            "[faults]\nseed = 3\nerror_rate_bps = 1500\nslow_rate_bps = 2000\nslow_ms = 300\n",
        ),
    ];
    let scenario = std::fs::read_to_string(args.dir.join("scenario.toml"))?;
    for (member, name, faults) in faulty {
        let Some(m) = member else { continue };
        let path = args.dir.join(format!("scenario-{name}.toml"));
        claystack_fs_util::write_atomic(&path, format!("{scenario}\n{faults}").as_bytes())?;
        let url = format!("http://127.0.0.1:{}", free_port());
        let client = BeaconClient::new(std::slice::from_ref(&url), ClientConfig::default())?;
        start_beacon(exe, &path, &url, &client, procs, &args.dir.join(format!("sim-{name}.log"))).await?;
        say(&format!(
            "member {m}'s beacon node is a {name} simulator on {url} ({})",
            faults.trim().replace('\n', "; ")
        ));
        beacons[m] = url;
    }
    Ok(beacons)
}

//! `--replace-member I`: governance changes the committee in the middle of the run. Once
//! report 1 (and with `--exits` exits round 1) is accepted, the NodeManager's owner schedules
//! committee version 1 from rewards report 3 and exits round 3: member I's key is replaced by a
//! fresh one (its own key directory, proof of possession, peer id and submitter) and the
//! threshold rises by one. The new member's node starts once the change is mined (the others
//! admit its peer id from the change's event); the replaced node keeps running, and from report
//! 3 on it does not sign. [`check`] reads what the chain and both nodes did.

use super::{fund, local_tx, node_config, say, write_secret, Chains, MemberPaths, MemberPorts, Procs};
use crate::cli::DevnetArgs;
use anyhow::{ensure, Context};
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_execution::{
    schedule_committee_change, CommitteeChange, ContractAddresses, NewMember, ReportReader, Transactor,
};
use claystack_genesis::Genesis;
use claystack_keys::{Kdf, KeyDir, Password};
use claystack_primitives::{hex, ReportId, ReportKind};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// The first report (of either kind) the new committee verifies.
pub(super) const FROM: u64 = 3;

/// What [`replace`] did.
pub(super) struct Replacement {
    pub member: usize,
    pub threshold: u32,
    pub bls_pubkey: [u8; 48],
    pub peer_id: String,
    /// The new member's directory (`member-<I>-new`).
    pub dir: PathBuf,
    pub summary: Value,
}

/// Schedules the change and starts the new member's node.
#[allow(clippy::too_many_arguments)]
pub(super) async fn replace(
    args: &DevnetArgs,
    exe: &std::path::Path,
    chains: &Chains,
    addresses: &ContractAddresses,
    genesis: &Genesis,
    ports: &MemberPorts,
    threshold: u32,
    procs: &mut Procs,
    member: usize,
) -> anyhow::Result<Replacement> {
    let dir = args.dir.join(format!("member-{member}-new"));
    let password = std::fs::read_to_string(args.dir.join("password")).context("the devnet's password file")?;
    let keys = KeyDir::create(&dir.join("keys"), None, &Password::new(password.trim().to_string()), Kdf::FAST)?;
    let new_threshold = threshold + 1;
    let change = CommitteeChange {
        from_rewards: FROM,
        from_exits: FROM,
        threshold: new_threshold,
        replace: Some(NewMember {
            member: member as u16,
            bls_pubkey: keys.bls_pubkey,
            pop: keys.pop,
            peer_id: keys.peer_id.clone(),
        }),
    };
    let owner = Transactor::new(chains.rpc.clone(), chains.keys[0].clone(), local_tx());
    let scheduled = schedule_committee_change(&owner, addresses.node_manager, &change).await?;
    say(&format!(
        "governance replaced member {member}'s key by {} (peer id {}) and raised the threshold to {new_threshold}, \
         from rewards report {FROM} and exits round {FROM} on: committee version {} (tx {})",
        short(&keys.bls_pubkey),
        keys.peer_id,
        scheduled.version,
        scheduled.tx
    ));
    // The new member: its own submitter, a free libp2p and API port, the others as peers.
    let submitter = PrivateKeySigner::random();
    fund(&chains.rpc, submitter.address()).await?;
    write_secret(&dir.join("submitter.key"), &hex::encode(&submitter.to_bytes().0))?;
    let mut own = MemberPorts { p2p: ports.p2p.clone(), api: ports.api.clone() };
    let (p2p, api) = (claystack_testkit::free_port(), claystack_testkit::free_port());
    own.p2p[member] = p2p;
    own.api[member] = api;
    let paths = MemberPaths {
        data: dir.join("data"),
        genesis: args.dir.join("genesis.json"),
        keys: dir.join("keys"),
        password: args.dir.join("password"),
        submitter: dir.join("submitter.key"),
    };
    let config = node_config(member, &own, genesis, chains, &chains.beacon_url, &paths);
    claystack_fs_util::write_atomic(&dir.join("node.toml"), config.as_bytes())?;
    let mut cmd = Command::new(exe);
    cmd.arg("run").arg("--config").arg(dir.join("node.toml"));
    procs.spawn(&format!("member {member} (new key)"), cmd, &dir.join("node.log"))?;
    say(&format!("member {member}'s new node started (API 127.0.0.1:{api}, log {})", dir.join("node.log").display()));
    let summary = json!({
        "member": member,
        "version": scheduled.version,
        "from_rewards": FROM,
        "from_exits": FROM,
        "threshold": new_threshold,
        "new_key": hex::encode(&keys.bls_pubkey),
        "new_peer_id": keys.peer_id,
        "tx": scheduled.tx.to_string(),
        "api": format!("http://127.0.0.1:{api}/"),
    });
    Ok(Replacement {
        member,
        threshold: new_threshold,
        bls_pubkey: keys.bls_pubkey,
        peer_id: keys.peer_id,
        dir,
        summary,
    })
}

/// After the last report: reports before [`FROM`] were verified by version 0 (genesis), from
/// it on by version 1 with the new key and threshold; the new node signed report `FROM`, the
/// replaced one did not; both closed it with the accepted root.
pub(super) async fn check(
    args: &DevnetArgs,
    chains: &Chains,
    addresses: &ContractAddresses,
    replacement: &Replacement,
    accepted_roots: &[(u64, String)],
) -> anyhow::Result<Value> {
    let reader = ReportReader::new(chains.rpc.clone(), addresses.node_manager);
    let m = replacement.member;
    for (number, root) in accepted_roots {
        let committee = reader.committee_for(ReportId { kind: ReportKind::Rewards, number: *number }).await?;
        let (version, threshold) =
            if *number >= FROM { (1, replacement.threshold) } else { (0, replacement.threshold - 1) };
        ensure!(
            (committee.version, committee.threshold) == (version, threshold),
            "report {number} is verified by version {} (threshold {}), not {version} ({threshold})",
            committee.version,
            committee.threshold
        );
        let key_is_new = committee.public_keys[m] == replacement.bls_pubkey;
        ensure!(key_is_new == (*number >= FROM), "report {number}: member {m}'s key on chain is the wrong one");
        // Both of member m's nodes follow the chain: each closed the report with its root.
        for (who, data) in
            [("new", replacement.dir.join("data")), ("replaced", args.dir.join(format!("member-{m}/data")))]
        {
            let file = data.join(format!("reports/rewards-{number}/root"));
            let theirs = std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
            ensure!(theirs.trim() == root, "member {m}'s {who} node closed report {number} with {}", theirs.trim());
        }
    }
    // What each of member m's nodes made of report FROM, from its own log: the new node took
    // itself for member m (it signed, or held its first signature back, as a fresh data dir
    // does until the peers re-gossip: the others may reach the quorum first); the replaced node
    // found its key out of version 1 and did not sign.
    let lines = |log: &PathBuf| std::fs::read_to_string(log).unwrap_or_default();
    let of_report =
        |text: &str, needle: &str| text.lines().any(|l| l.contains(needle) && l.contains(&format!("report={FROM} ")));
    let new_log = lines(&replacement.dir.join("node.log"));
    let signed = of_report(&new_log, " signed kind=rewards");
    let held = of_report(&new_log, "report held back");
    ensure!(signed || held, "member {m}'s new node neither signed report {FROM} nor held its signature back");
    let refused = format!("rewards report {FROM}: this node's key is not in committee version 1");
    let old_logs: String =
        ["node.log", "node-restarted.log"].iter().map(|f| lines(&args.dir.join(format!("member-{m}/{f}")))).collect();
    ensure!(
        old_logs.contains(&refused),
        "member {m}'s replaced node did not find its key out of report {FROM}'s committee"
    );
    ensure!(
        !of_report(&old_logs, " signed kind=rewards"),
        "member {m}'s replaced node signed report {FROM}, which its old key may no longer sign"
    );
    let new_node = if signed { "signed it" } else { "held its first signature back (a fresh data dir)" };
    say(&format!(
        "committee change: reports before {FROM} verified by genesis' committee, from {FROM} by version 1 (threshold {}); \
         for report {FROM} member {m}'s new node {new_node}, its replaced node found its key out and did not sign",
        replacement.threshold
    ));
    Ok(json!({
        "checked_reports": accepted_roots.len(),
        "new_node_signed": signed,
        "new_node_held_back": held,
        "replaced_node_refused": true,
        "peer_id": replacement.peer_id,
    }))
}

fn short(key: &[u8; 48]) -> String {
    let h = hex::encode(key);
    format!("{}…", &h[..12])
}

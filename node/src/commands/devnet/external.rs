//! `devnet --external-members` (with `--rpc-url` and `--beacon-url`): the conductor of a
//! committee whose members run themselves, each in its own container (docker/compose.yaml,
//! docs/docker.md). It never makes or reads a member's secret:
//!
//! 1. each member makes its keys and offers its public entry in `<dir>/entries/<name>.json`;
//! 2. [`assemble_genesis`] waits for `--members` entries and assembles the genesis from them
//!    (members in the canonical order of the ceremony), with the contract addresses predicted
//!    for the deployer, and funds every member's submitter;
//! 3. each member approves the genesis (`<dir>/approvals/<name>.json`) and starts once every
//!    member's approval verifies;
//! 4. after deployment, [`configure_members`] writes member i's `<dir>/member-<i>/node.toml`
//!    (its keys in its own `/keys`, its data in `<dir>/member-<i>/data` where the checks read
//!    the exported reports) and `<dir>/names/<name>` (= i), which is what the member waits for.
//!
//! Everything else is the devnet's: frames played, reports checked, a claim, exits.

use super::{
    fund, node_config, say, wait_until, Chains, MemberPaths, MemberPorts, Members, Procs, FIRST_EPOCH, MARKER,
};
use crate::cli::DevnetArgs;
use anyhow::{ensure, Context};
use claystack_beacon::BeaconClient;
use claystack_execution::alloy::providers::Provider;
use claystack_execution::{predict_addresses, Rpc};
use claystack_genesis::{assemble, generate_local, Genesis, MemberEntry};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The chain the compose file's anvil runs.
const CHAIN_ID: u64 = 31337;
/// Where a member container keeps what is its own (docker/entrypoint/member.sh).
const KEYS_DIR: &str = "/keys/member";
const PASSWORD_FILE: &str = "/keys/password";
const SUBMITTER_KEY_FILE: &str = "/keys/member/submitter.key";

/// `--dir` holds what the members offered before this command started: it is kept. A genesis
/// already there is an earlier committee's, which the members would mistake for this one's.
pub(super) fn prepare_dir(dir: &Path) -> anyhow::Result<()> {
    let genesis = dir.join("genesis.json");
    ensure!(
        !genesis.exists(),
        "{} exists from an earlier run; start with an empty directory (docker-compose down -v removes the volumes)",
        genesis.display()
    );
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(dir.join(MARKER), "the shared directory of a devnet with external members\n")?;
    Ok(())
}

/// Waits (up to a minute) until the anvil at `url` answers on chain [`CHAIN_ID`].
pub(super) async fn connect_anvil(url: &str, procs: &mut Procs) -> anyhow::Result<(Rpc, u64)> {
    wait_until(procs, Duration::from_secs(60), &format!("anvil at {url} to answer"), || async {
        Rpc::connect(url, CHAIN_ID).await.is_ok()
    })
    .await?;
    Ok((Rpc::connect(url, CHAIN_ID).await?, CHAIN_ID))
}

/// Waits (up to a minute) until the simulator at `url` serves the scenario just written: its
/// genesis time is `genesis_time`.
pub(super) async fn wait_for_beacon(
    beacon: &BeaconClient,
    url: &str,
    genesis_time: u64,
    procs: &mut Procs,
) -> anyhow::Result<()> {
    wait_until(procs, Duration::from_secs(60), &format!("the beacon simulator at {url} to answer"), || async {
        beacon.genesis().await.is_ok()
    })
    .await?;
    let served = beacon.genesis().await?.genesis_time;
    ensure!(
        served == genesis_time,
        "the beacon simulator at {url} has genesis time {served}, not {genesis_time}: it must serve the scenario.toml this \
         command wrote (start it after that file appears)"
    );
    Ok(())
}

/// Step 2 with external members: the genesis from their entries; their submitters funded.
pub(super) async fn assemble_genesis(
    args: &DevnetArgs,
    threshold: u32,
    chains: &Chains,
    procs: &mut Procs,
) -> anyhow::Result<Genesis> {
    let entries_dir = args.dir.join("entries");
    std::fs::create_dir_all(&entries_dir)?;
    say(&format!("waiting for {} members' entries in {}", args.members, entries_dir.display()));
    let want = args.members;
    wait_until(procs, Duration::from_secs(args.timeout_secs), "every member's entry", || async {
        entry_files(&entries_dir).is_ok_and(|f| f.len() >= want)
    })
    .await?;
    let files = entry_files(&entries_dir)?;
    ensure!(
        files.len() == want,
        "{} holds {} entries but --members is {want}: {}",
        entries_dir.display(),
        files.len(),
        files.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    let mut entries = Vec::new();
    for (name, path) in &files {
        entries.push((path.display().to_string(), read_entry(name, path)?));
    }
    // The template: the local economics, this chain, the predicted contracts.
    let (mut template, _) = generate_local(0, threshold, [7; 32], chains.chain_id);
    template.first_epoch = FIRST_EPOCH;
    let owner = chains.keys[0].address();
    let nonce = chains.rpc.provider().get_transaction_count(owner).await?;
    let predicted = predict_addresses(owner, nonce);
    predicted.apply_to(&mut template);
    // Deployed after the current block: the members read the contracts' events from the next.
    template.contracts.deployed_at_block = chains.rpc.block_number().await? + 1;
    if args.exits {
        let frame = template.economics.frame_epochs;
        template.exits = Some(super::exits::genesis_section(predicted.withdrawal_queue, frame));
    }
    // `genesis assemble`'s rule: the canonical order, whoever assembles the same entries.
    let genesis = assemble(&template, &entries).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow::anyhow!("the members' entries do not make a valid genesis: {}", lines.join("; "))
    })?;
    for m in &genesis.committee.members {
        fund(&chains.rpc, m.submitter.0.into()).await?;
    }
    let path = args.dir.join("genesis.json");
    genesis.save(&path)?;
    say(&format!(
        "genesis {} from {want} members' own entries (threshold {threshold}, hash {}); their submitters funded",
        path.display(),
        claystack_primitives::hex::encode(&genesis.hash())
    ));
    Ok(genesis)
}

/// Step 5 with external members: each member's `node.toml` and its index by name; the
/// members start on their own once these exist.
pub(super) async fn configure_members(
    args: &DevnetArgs,
    chains: &Chains,
    genesis: &Genesis,
    procs: &mut Procs,
) -> anyhow::Result<Members> {
    let dir = &args.dir;
    let files = entry_files(&dir.join("entries"))?;
    let ports = MemberPorts::new(args);
    let names = dir.join("names");
    std::fs::create_dir_all(&names)?;
    for (name, path) in &files {
        let member = read_entry(name, path)?;
        let i = genesis
            .committee
            .members
            .iter()
            .position(|m| m.bls_pubkey == member.bls_pubkey)
            .with_context(|| format!("member {name} is not in the genesis"))?;
        let member_dir = dir.join(format!("member-{i}"));
        let paths = MemberPaths {
            data: member_dir.join("data"),
            genesis: dir.join("genesis.json"),
            keys: PathBuf::from(KEYS_DIR),
            password: PathBuf::from(PASSWORD_FILE),
            submitter: PathBuf::from(SUBMITTER_KEY_FILE),
        };
        std::fs::create_dir_all(&member_dir)?;
        let config = node_config(i, &ports, genesis, chains, &chains.beacon_url, &paths);
        claystack_fs_util::write_atomic(&member_dir.join("node.toml"), config.as_bytes())?;
        claystack_fs_util::write_atomic(&names.join(name), format!("{i}\n").as_bytes())?;
        say(&format!("member {name} is member {i}: API on 127.0.0.1:{}, libp2p on {}", ports.api[i], ports.p2p[i]));
    }
    // Each member starts when every approval verifies; a member that never does is named.
    let approvals = dir.join("approvals");
    wait_until(procs, Duration::from_secs(args.timeout_secs), "every member's approval of the genesis", || async {
        files.keys().all(|name| approvals.join(format!("{name}.json")).exists())
    })
    .await?;
    say(&format!("all {} members approved the genesis; they start on their own", files.len()));
    Ok(Members {
        submitters: genesis.committee.members.iter().map(|m| m.submitter.0.into()).collect(),
        online: (0..genesis.committee.members.len()).collect(),
        liar: None,
        api_ports: ports.api,
        p2p_ports: ports.p2p,
    })
}

fn read_entry(name: &str, path: &Path) -> anyhow::Result<MemberEntry> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "member {name}'s entry {} is not a member entry (keys new --new-submitter-key writes one)",
            path.display()
        )
    })
}

/// The entries offered so far: name (file stem) to path; files being written start with a dot.
fn entry_files(dir: &Path) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if let Some(stem) = name.strip_suffix(".json").filter(|s| !s.starts_with('.')) {
            files.insert(stem.to_string(), path.clone());
        }
    }
    Ok(files)
}

//! `claystack-oracle run`: follow finality and keep the tallies; with a genesis, close
//! rewards reports; with committee keys, sign them, gossip and collect a quorum.

use crate::cli::RunArgs;
use crate::config::{CommitteeConfig, NodeConfig, PASSWORD_ENV};
use anyhow::{bail, Context};
use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_execution::alloy::primitives::Address;
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_execution::{RegistryReader, ReportReader, Rpc, SubmitOutcome, Submitter, TxConfig};
use claystack_frame_close::{
    FrameCloser, InputFiles, InputsSource, OnchainRegistryInputs, RegistryAtReference, Waiting,
};
use claystack_genesis::Genesis;
use claystack_keys::{KeyDir, PasswordSource};
use claystack_p2p::{Multiaddr, Network, P2pConfig, PeerId, TopicScope};
use claystack_primitives::hex;
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::{Config as CollectorConfig, Roster, SecretKeySigner};
use claystack_quorum_driver::{OwnReport, QuorumDriver, QuorumEvent};
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// How often the committee driver ticks (rebroadcasts, batch verification, submitter turns).
const TICK: Duration = Duration::from_millis(250);

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let cfg = NodeConfig::resolve(&args.node)?;
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
    let store = Arc::new(Store::open(&cfg.data_dir)?);
    let client = BeaconClient::new(
        &cfg.beacon_urls,
        ClientConfig { timeout: cfg.beacon_timeout, retries: cfg.beacon_retries, ..ClientConfig::default() },
    )?;
    let sync = SyncConfig {
        tracked: cfg.tracked.clone(),
        start_epoch: cfg.start_epoch,
        until_epoch: args.until_epoch,
        concurrency: cfg.concurrency,
        poll_interval: cfg.poll_interval,
        ..SyncConfig::default()
    };
    let follower = Follower::new(client.clone(), store.clone(), sync).await?;
    info!(tracked = cfg.tracked.len(), data_dir = %cfg.data_dir.display(), slots_per_epoch = follower.spec().slots_per_epoch, "oracle node started");

    let mut tasks: JoinSet<anyhow::Result<()>> = JoinSet::new();
    let Some(reports) = &cfg.reports else {
        tokio::select! {
            r = follower.run() => r?,
            _ = tokio::signal::ctrl_c() => info!("interrupted; stored state is consistent, restart to resume"),
        }
        return Ok(());
    };
    let genesis = super::genesis::load_verified(&reports.genesis)?;
    // A committee member keeps running after accounting stops, to finish gossiping.
    let follower_ends_node = args.until_epoch.is_some() && reports.committee.is_none();
    tasks.spawn(async move { follower.run().await.map_err(anyhow::Error::from) });

    let rpc = match &reports.rpc_url {
        Some(url) => Some(Rpc::connect(url, genesis.chain_id).await?),
        None => None,
    };
    let own_reports = match &reports.committee {
        Some(committee) => Some(start_committee(committee, &genesis, rpc.clone(), store.clone(), &mut tasks).await?),
        None => None,
    };
    let file = InputFiles::new(&reports.inputs_dir);
    let inputs: Box<dyn InputsSource> = match rpc {
        Some(rpc) => {
            let registry = Address::from(genesis.contracts.operator_registry.0);
            info!(rpc = %rpc.url(), %registry, "reading the registry from the OperatorRegistry at each frame's reference block");
            Box::new(OnchainRegistryInputs::new(
                file,
                RegistryAtReference::new(client, RegistryReader::new(rpc, registry)),
            ))
        }
        None => Box::new(file),
    };
    let reporter = FrameCloser::new(genesis, store.clone(), inputs).with_export_dir(cfg.data_dir.join("reports"));
    tasks.spawn(close_reports(reporter, store, own_reports, cfg.poll_interval));

    loop {
        tokio::select! {
            done = tasks.join_next() => match done {
                Some(Ok(Ok(()))) if follower_ends_node => return Ok(()),
                Some(Ok(Ok(()))) => continue,
                Some(Ok(Err(e))) => return Err(e),
                Some(Err(e)) => bail!("a node task failed: {e}"),
                None => return Ok(()),
            },
            _ = tokio::signal::ctrl_c() => {
                info!("interrupted; stored state is consistent, restart to resume");
                return Ok(());
            }
        }
    }
}

/// Closes reports as accounting passes their frames, and hands each to the committee driver.
fn close_reports(
    reporter: FrameCloser,
    store: Arc<Store>,
    own: Option<mpsc::Sender<OwnReport>>,
    poll: Duration,
) -> impl std::future::Future<Output = anyhow::Result<()>> + Send + 'static {
    async move {
        // After a restart, the newest stored report is offered again: the collector signs it
        // if the crash came before its signature was stored, and does nothing otherwise.
        if let Some((number, stored)) = store.latest_report(ReportKind::Rewards)? {
            // A crash between storing and exporting leaves the files one report behind.
            if let Err(e) = reporter.export(number) {
                warn!(report = number, "cannot export the report's files: {e}");
            }
            if let Some(tx) = &own {
                let id = ReportId { kind: ReportKind::Rewards, number };
                let report = OwnReport { id, merkle_root: stored.merkle_root, report_hash: stored.report_hash };
                tx.send(report).await.ok();
            }
        }
        let mut last_wait = None;
        loop {
            let (closed, waiting) = match reporter.close_ready().await {
                Ok(r) => r,
                Err(e) => {
                    warn!("cannot close the next report: {e}");
                    tokio::time::sleep(poll).await;
                    continue;
                }
            };
            for c in closed {
                info!(
                    report = c.number,
                    frame = ?c.frame,
                    merkle_root = %hex::encode(&c.merkle_root),
                    report_hash = %hex::encode(&c.report_hash),
                    operators = c.operators,
                    t_wei = %c.t_wei,
                    "report closed"
                );
                if let Some(tx) = &own {
                    let id = ReportId { kind: ReportKind::Rewards, number: c.number };
                    tx.send(OwnReport { id, merkle_root: c.merkle_root, report_hash: c.report_hash }).await.ok();
                }
            }
            if last_wait.as_ref() != Some(&waiting) {
                if let Waiting::Inputs { number, reason } = &waiting {
                    warn!(report = number, "{reason}");
                }
                last_wait = Some(waiting);
            }
            tokio::time::sleep(poll).await;
        }
    }
}

/// Unlocks the member's keys, starts the network and the driver; returns where to send own reports.
async fn start_committee(
    cfg: &CommitteeConfig,
    genesis: &Genesis,
    rpc: Option<Rpc>,
    store: Arc<Store>,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<mpsc::Sender<OwnReport>> {
    let password = match &cfg.password_file {
        Some(path) => PasswordSource::File(path.clone()),
        None => PasswordSource::Env(PASSWORD_ENV.into()),
    }
    .read()?;
    let keys = KeyDir::unlock(&cfg.keys_dir, &password)?;
    let roster = Arc::new(Roster::from_genesis(genesis)?);
    let me = roster.index_of(&keys.member.bls_pubkey).with_context(|| {
        format!(
            "the BLS key in {} ({}) is not a member of the genesis committee; use the key dir whose member.json is in genesis",
            cfg.keys_dir.display(),
            hex::encode(&keys.member.bls_pubkey)
        )
    })?;
    let member_peer_ids: Vec<String> = genesis.committee.members.iter().map(|m| m.peer_id.clone()).collect();
    if member_peer_ids[me as usize] != keys.member.peer_id {
        bail!(
            "the libp2p identity in {} is {} but genesis lists {} for member {me}",
            cfg.keys_dir.display(),
            keys.member.peer_id,
            member_peer_ids[me as usize]
        );
    }
    let peers = committee_peers(&cfg.peers, &member_peer_ids, me)?;
    let listen: Multiaddr =
        cfg.listen.parse().with_context(|| format!("committee.listen {:?} is not a multiaddr", cfg.listen))?;
    let scope = TopicScope { chain_id: genesis.chain_id, committee_hash: genesis.hash() };
    let (network, events) = Network::spawn(P2pConfig::new(listen, keys.p2p, peers, scope)).await?;
    info!(member = me, peer_id = %network.local_peer_id(), listen = %network.listen_addr(), "p2p listening");

    let collector = CollectorConfig {
        rebroadcast_ms: cfg.rebroadcast.as_millis() as u64,
        fallback_ms: cfg.fallback.as_millis() as u64,
        ..CollectorConfig::default()
    };
    let latest = [store.latest_report(ReportKind::Rewards)?.map_or(0, |(n, _)| n), 0];
    let (quorum_tx, mut quorum_rx) = mpsc::channel(64);
    let signer = SecretKeySigner::new(keys.secret_key);
    let driver =
        QuorumDriver::start(collector, roster, &member_peer_ids, signer, store, network, latest, quorum_tx).await?;
    let (own_tx, own_rx) = mpsc::channel(16);
    let (settled_tx, settled_rx) = mpsc::channel(16);
    tasks.spawn(async move { driver.run(own_rx, events, settled_rx, TICK).await.map_err(anyhow::Error::from) });
    match (rpc, &cfg.submitter_key_file) {
        (Some(rpc), Some(key_file)) => {
            let submitter = connect_submitter(rpc, key_file, genesis).await?;
            info!(submitter = %submitter.address(), rpc = %submitter.reader().rpc().url(), "submitting certificates to the NodeManager");
            tasks.spawn(watch_chain(submitter.reader().clone(), settled_tx.clone()));
            tasks.spawn(submit_certificates(submitter, quorum_rx, settled_tx));
        }
        (rpc, _) => {
            if let Some(rpc) = rpc {
                // Accepted reports still settle, so this member stops rebroadcasting them.
                let reader = ReportReader::new(rpc, Address::from(genesis.contracts.node_manager.0));
                tasks.spawn(watch_chain(reader, settled_tx.clone()));
            }
            tasks.spawn(async move {
                // Without a submitter key, a certificate is stored (by the driver) and logged.
                while let Some(event) = quorum_rx.recv().await {
                    if let QuorumEvent::Submit { certificate, attempt } = event {
                        info!(kind = %certificate.id.kind, report = certificate.id.number, attempt, "no submitter key configured; the certificate stays stored");
                    }
                }
                Ok(())
            });
        }
    }
    Ok(own_tx)
}

async fn connect_submitter(rpc: Rpc, key_file: &Path, genesis: &Genesis) -> anyhow::Result<Submitter> {
    let signer = read_submitter_key(key_file)?;
    let node_manager = Address::from(genesis.contracts.node_manager.0);
    let submitter = Submitter::new(rpc, node_manager, signer, TxConfig::default());
    submitter.reader().check_deployed().await?;
    Ok(submitter)
}

/// The submitter's private key: hex in a file only its owner can read. Neither the key nor
/// the file's content ever appears in a message.
fn read_submitter_key(path: &Path) -> anyhow::Result<PrivateKeySigner> {
    use std::os::unix::fs::PermissionsExt;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read the submitter key file {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "submitter key file {} can be read by other users (mode {mode:o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the submitter key file {}", path.display()))?;
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("submitter key file {} does not hold a 32-byte hex private key", path.display()))
}

/// Sends the certificate when it is this member's turn; tells the driver what the chain accepted.
async fn submit_certificates(
    submitter: Submitter,
    mut events: mpsc::Receiver<QuorumEvent>,
    settled: mpsc::Sender<ReportId>,
) -> anyhow::Result<()> {
    while let Some(event) = events.recv().await {
        let QuorumEvent::Submit { certificate, attempt } = event else { continue };
        let id = certificate.id;
        match submitter.submit(&certificate).await {
            Ok(SubmitOutcome::Accepted { tx, block, gas_used, replacements }) => {
                info!(kind = %id.kind, report = id.number, attempt, %tx, block, gas_used, replacements, "report accepted on chain");
                settled.send(id).await.ok();
            }
            Ok(SubmitOutcome::AlreadyAccepted { same_root, root, .. }) => {
                if same_root {
                    info!(kind = %id.kind, report = id.number, "already accepted on chain; nothing sent");
                } else {
                    warn!(kind = %id.kind, report = id.number, chain_root = %root, "the chain accepted another root for this report");
                }
                settled.send(id).await.ok();
            }
            Ok(SubmitOutcome::Rejected { error, tx }) => {
                warn!(kind = %id.kind, report = id.number, ?tx, "the NodeManager refused the report: {error}");
            }
            Err(e) => {
                warn!(kind = %id.kind, report = id.number, "submission failed: {e}; the next member in the rotation takes over")
            }
        }
    }
    Ok(())
}

/// Reports accepted on chain by anyone settle here too, so members stop rebroadcasting.
async fn watch_chain(reader: ReportReader, settled: mpsc::Sender<ReportId>) -> anyhow::Result<()> {
    let mut known = 0;
    loop {
        match reader.last_report_number(ReportKind::Rewards).await {
            Ok(last) => {
                for number in (known + 1).max(last.saturating_sub(4))..=last {
                    settled.send(ReportId { kind: ReportKind::Rewards, number }).await.ok();
                }
                known = known.max(last);
            }
            Err(e) => warn!("cannot read the NodeManager: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The other members' addresses from the config, checked against the genesis peer ids.
fn committee_peers(addrs: &[String], members: &[String], me: u16) -> anyhow::Result<Vec<(PeerId, Multiaddr)>> {
    let mut out = Vec::new();
    for text in addrs {
        let addr: Multiaddr = text.parse().with_context(|| format!("committee peer {text:?} is not a multiaddr"))?;
        let Some(peer) = text.rsplit_once("/p2p/").and_then(|(_, id)| id.parse::<PeerId>().ok()) else {
            bail!("committee peer {text} must end in /p2p/<peer id> of a genesis member");
        };
        let Some(i) = members.iter().position(|m| *m == peer.to_string()) else {
            bail!("committee peer {text}: peer id {peer} is not a genesis committee member");
        };
        if i == me as usize {
            continue;
        }
        out.push((peer, addr));
    }
    for (i, id) in members.iter().enumerate() {
        if i != me as usize && !out.iter().any(|(p, _)| p.to_string() == *id) {
            bail!("committee.peers has no address for member {i} (peer id {id}); add /ip4/…/tcp/…/p2p/{id}");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn submitter_key_files_must_be_private_and_hex() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("submitter.key");
        let key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
        std::fs::write(&path, format!("{key}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_submitter_key(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 600") && !err.contains(&key[2..]), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let signer = read_submitter_key(&path).unwrap();
        assert_eq!(signer.address().to_string(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        std::fs::write(&path, "not a key 59c6995e\n").unwrap();
        let err = read_submitter_key(&path).unwrap_err().to_string();
        assert!(err.contains("32-byte hex") && !err.contains("59c6995e"), "{err}");
    }
}

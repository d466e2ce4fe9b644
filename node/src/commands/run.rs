//! `claystack-oracle run`: follow finality and keep the tallies; with a genesis, close
//! rewards reports; with committee keys, sign them, gossip and collect a quorum.
//!
//! This file only resolves the config, reads the key files and builds the parts; the node
//! itself is `claystack_service::Node`, stopped by Ctrl-C.

use crate::cli::RunArgs;
use crate::config::{CommitteeConfig, NodeConfig, PASSWORD_ENV};
use anyhow::{bail, Context};
use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_execution::alloy::primitives::Address;
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_execution::{ReportReader, Rpc, Submitter, TxConfig};
use claystack_frame_close::ExitsCloser;
use claystack_frame_close::{InputsSource, MeasuredInputs, ReferenceReader};
use claystack_genesis::Genesis;
use claystack_keys::{KeyDir, PasswordSource};
use claystack_p2p::{Multiaddr, Network, P2pConfig, PeerId, TopicScope};
use claystack_primitives::hex;
use claystack_quorum::{Config as CollectorConfig, Roster, SecretKeySigner};
use claystack_quorum_driver::WallClock;
use claystack_service::{AcceptedReports, Member, Node, Reports, StoreJournal, SubmitCertificate};
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig};
use std::path::Path;
use std::sync::Arc;
use tracing::info;

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
    let mut probe = NodeParts { follower: follower.probe(), rpc: None, network: None, timings: None };
    info!(tracked = cfg.tracked.len(), data_dir = %cfg.data_dir.display(), slots_per_epoch = follower.spec().slots_per_epoch, "oracle node started");

    // What the HTTP API reads besides the store: the genesis, and the NodeManager.
    let mut api_sources: (Option<Genesis>, Option<ReportReader>) = (None, None);
    let reports = match &cfg.reports {
        None => None,
        Some(reports) => {
            let genesis = super::genesis::load_verified(&reports.genesis)?;
            check_beacon_network(&client, &genesis).await?;
            let rpc = Rpc::connect(&reports.rpc_url, genesis.chain_id).await?;
            probe.rpc = Some(rpc.clone());
            warn_if_events_read_from_block_0(&rpc, &genesis).await?;
            let node_manager = Address::from(genesis.contracts.node_manager.0);
            api_sources = (Some(genesis.clone()), Some(ReportReader::new(rpc.clone(), node_manager)));
            let member = match &reports.committee {
                Some(committee) => {
                    let (member, network) = member(committee, &genesis, rpc.clone(), store.clone()).await?;
                    probe.network = Some(network);
                    Some(member)
                }
                None => None,
            };
            info!(rpc = %rpc.url(), "measuring every frame input at the frame's reference points: registry, fees, prices and adjustments from the contracts, rewards and facts from the beacon chain");
            let exits = ExitsCloser::new(genesis.clone(), store.clone(), client.clone(), rpc.clone());
            if let Some(e) = &genesis.exits {
                info!(cadence_epochs = e.cadence_epochs, withdrawal_queue = %e.withdrawal_queue, "closing an exits round every cadence: liquidity from the withdrawal queue, candidates from the registry and the beacon chain");
            }
            let inputs: Box<dyn InputsSource> =
                Box::new(MeasuredInputs::new(ReferenceReader::new(client, rpc, &genesis), store.clone()));
            let export_dir = cfg.data_dir.join("reports");
            Some(Reports { genesis, inputs, export_dir, poll_interval: cfg.poll_interval, member, exits })
        }
    };
    let shutdown = async {
        // An error installing the handler also stops the node, as an interrupt would.
        let _ = tokio::signal::ctrl_c().await;
        info!("interrupted; stored state is consistent, restart to resume");
    };
    let node = Node::new(store.clone(), Arc::new(WallClock), Box::new(follower), reports);
    probe.timings = Some(node.timings());
    let api = match cfg.api_listen {
        Some(addr) => Some(start_api(addr, store, api_sources, node.health(), webhooks(&cfg)?, probe).await?),
        None => None,
    };
    let result = node.run(shutdown).await;
    if let Some((stop, served)) = api {
        let _ = stop.send(());
        let _ = served.await;
    }
    result?;
    Ok(())
}

/// Starts the read-only HTTP API on `addr`; returns what stops it and its task.
async fn start_api(
    addr: std::net::SocketAddr,
    store: Arc<Store>,
    (genesis, node_manager): (Option<Genesis>, Option<ReportReader>),
    health: tokio::sync::watch::Receiver<claystack_service::Health>,
    webhooks: Option<claystack_api::WebhookConfig>,
    probe: NodeParts,
) -> anyhow::Result<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on api.listen {addr}; is the port free?"))?;
    let health: claystack_api::HealthFn = Arc::new(move || match &*health.borrow() {
        claystack_service::Health::Ok => None,
        claystack_service::Health::Degraded { reason, .. } => Some(reason.clone()),
    });
    let chain = node_manager.map(|r| Box::new(AcceptedOnChain(r)) as Box<dyn claystack_api::ChainView>);
    let probe = Some(Box::new(probe) as Box<dyn claystack_api::NodeProbe>);
    let sources = claystack_api::Sources { store, genesis, health, chain, webhooks, probe };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let served = tokio::spawn(claystack_api::serve(listener, sources, claystack_api::ApiConfig::default(), shutdown));
    Ok((stop, served))
}

/// The webhooks of the config, with their key (read from a file only its owner can read).
fn webhooks(cfg: &NodeConfig) -> anyhow::Result<Option<claystack_api::WebhookConfig>> {
    let Some(path) = cfg.webhook_secret_file.as_ref().filter(|_| !cfg.webhooks.is_empty()) else { return Ok(None) };
    let secret = claystack_fs_util::read_private(path).context("api.webhook_secret_file")?;
    Ok(Some(claystack_api::WebhookConfig {
        urls: cfg.webhooks.clone(),
        secret,
        dir: cfg.data_dir.clone(),
        backoff: std::time::Duration::from_secs(1),
    }))
}

/// The parts whose readings the API's metrics show.
struct NodeParts {
    follower: Arc<claystack_sync::FollowerProbe>,
    rpc: Option<Rpc>,
    network: Option<Arc<claystack_p2p::NetworkHandle>>,
    timings: Option<Arc<claystack_service::Timings>>,
}

impl claystack_api::NodeProbe for NodeParts {
    fn readings(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = claystack_api::NodeReadings> + Send + '_>> {
        Box::pin(async move {
            let peers = match &self.network {
                // A network that stopped answering has no peers to show.
                Some(network) => network.status().await.ok().map(|s| s.connected.len() as u64),
                None => None,
            };
            let timings = self.timings.as_ref().map(|t| t.reading()).unwrap_or_default();
            // Submissions only count on a member (one with p2p).
            let member = self.network.is_some();
            claystack_api::NodeReadings {
                finalized_epoch: self.follower.finalized_epoch(),
                beacon_errors: self.follower.beacon_errors(),
                rpc_errors: self.rpc.as_ref().map(Rpc::errors),
                peers,
                report_close_ms: timings.report_close_ms,
                time_to_quorum_ms: timings.time_to_quorum_ms,
                submissions: member.then_some(timings.submissions),
                submission_gas_used: timings.submission_gas_used,
            }
        })
    }
}

/// The NodeManager's accepted reports, for the API's `report_accepted` notifications.
struct AcceptedOnChain(ReportReader);

impl claystack_api::ChainView for AcceptedOnChain {
    fn last_accepted(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send + '_>> {
        Box::pin(async move {
            self.0.last_report_number(claystack_primitives::ReportKind::Rewards).await.map_err(|e| e.to_string())
        })
    }

    fn last_accepted_exits(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<u64, String>> + Send + '_>> {
        Box::pin(async move {
            self.0.last_report_number(claystack_primitives::ReportKind::Exits).await.map_err(|e| e.to_string())
        })
    }
}

/// Refuses a beacon node of another network than genesis pins (its genesis validators root).
/// The execution chain is checked the same way when the RPC is connected (`eth_chainId`).
async fn check_beacon_network(client: &BeaconClient, genesis: &Genesis) -> anyhow::Result<()> {
    let beacon = client.genesis().await.context("reading the beacon node's genesis (/eth/v1/beacon/genesis)")?;
    let theirs = hex::encode(&beacon.genesis_validators_root);
    match genesis.beacon_genesis_validators_root {
        Some(ours) if ours != beacon.genesis_validators_root => bail!(
            "wrong beacon network: the beacon node's genesis validators root is {theirs}, genesis pins {}; point the \
             beacon URL at a node of the genesis network",
            hex::encode(&ours)
        ),
        Some(_) => info!(genesis_validators_root = %theirs, "the beacon node is on the genesis network"),
        None => info!(
            genesis_validators_root = %theirs,
            "genesis pins no beacon network; set beacon_genesis_validators_root in genesis to refuse another one"
        ),
    }
    Ok(())
}

/// Unlocks the member's keys, checks them against genesis, starts the p2p network and
/// connects the submitter: this node's parts as a committee member.
async fn member(
    cfg: &CommitteeConfig,
    genesis: &Genesis,
    rpc: Rpc,
    store: Arc<Store>,
) -> anyhow::Result<(Member, Arc<claystack_p2p::NetworkHandle>)> {
    let password = match &cfg.password_file {
        Some(path) => PasswordSource::File(path.clone()),
        None => PasswordSource::Env(PASSWORD_ENV.into()),
    }
    .read()?;
    let lock = KeyDir::lock(&cfg.keys_dir)?;
    let keys = KeyDir::unlock(&cfg.keys_dir, &password)?;
    let roster = Arc::new(Roster::from_genesis(genesis)?);
    // Committee changes on chain: members a change added (not in genesis) and their peer ids.
    let node_manager = Address::from(genesis.contracts.node_manager.0);
    let head = rpc_head(&rpc).await?;
    let from = genesis.contracts.deployed_at_block;
    let changes = ReportReader::new(rpc.clone(), node_manager).committee_changes(from, head).await?;
    let added: Vec<(u16, [u8; 48], String)> = changes.iter().filter_map(|c| c.replaced.clone()).collect();
    let genesis_peer_ids: Vec<String> = genesis.committee.members.iter().map(|m| m.peer_id.clone()).collect();
    let (me, own_peer_id) = match roster.index_of(&keys.member.bls_pubkey) {
        Some(me) => (me, genesis_peer_ids[me as usize].clone()),
        None => match added.iter().rev().find(|(_, key, _)| *key == keys.member.bls_pubkey) {
            Some((index, _, peer_id)) => (*index, peer_id.clone()),
            None => bail!(
                "the BLS key in {} ({}) is not a member of the genesis committee nor added by a committee change on \
                 chain; use the key dir whose member.json is in genesis, or start after governance's change is mined",
                cfg.keys_dir.display(),
                hex::encode(&keys.member.bls_pubkey)
            ),
        },
    };
    if own_peer_id != keys.member.peer_id {
        bail!(
            "the libp2p identity in {} is {} but the committee lists {own_peer_id} for member {me}",
            cfg.keys_dir.display(),
            keys.member.peer_id,
        );
    }
    let added_peer_ids: Vec<String> = added.iter().map(|(_, _, p)| p.clone()).collect();
    // Every genesis member still in the committee needs an address (a replaced one may have one).
    let required: Vec<(usize, String)> = genesis_peer_ids
        .iter()
        .enumerate()
        .filter(|(i, _)| !added.iter().any(|(index, _, _)| usize::from(*index) == *i))
        .map(|(i, id)| (i, id.clone()))
        .collect();
    let allowed: Vec<String> = genesis_peer_ids.iter().chain(&added_peer_ids).cloned().collect();
    let peers = committee_peers(&cfg.peers, &allowed, &required, &keys.member.peer_id)?;
    let listen: Multiaddr =
        cfg.listen.parse().with_context(|| format!("committee.listen {:?} is not a multiaddr", cfg.listen))?;
    let scope = TopicScope { chain_id: genesis.chain_id, committee_hash: genesis.hash() };
    let (network, network_events) = Network::spawn(P2pConfig::new(listen, keys.p2p, peers, scope)).await?;
    info!(member = me, peer_id = %network.local_peer_id(), listen = %network.listen_addr(), "p2p listening");
    let watcher = ReportReader::new(rpc.clone(), node_manager);
    tokio::spawn(admit_added_members(watcher, network.clone(), changes, head + 1));

    let rebroadcast_ms = cfg.rebroadcast.as_millis() as u64;
    let collector = CollectorConfig {
        rebroadcast_ms,
        fallback_ms: cfg.fallback.as_millis() as u64,
        // A fresh data dir signs after two re-gossip windows: one to connect to the
        // committee (members redial within seconds), one to hear every peer's held signatures.
        fresh_wait_ms: 2 * rebroadcast_ms,
        ..CollectorConfig::default()
    };
    // A submitter, and what tells the driver which reports the chain accepted.
    type ChainParts = (Option<Box<dyn SubmitCertificate>>, Option<Box<dyn AcceptedReports>>);
    let (submitter, chain): ChainParts = match &cfg.submitter_key_file {
        Some(key_file) => {
            let tx = TxConfig { max_fee_per_gas_cap: cfg.max_fee_per_gas, ..TxConfig::default() };
            let submitter = connect_submitter(rpc, key_file, genesis, tx)
                .await?
                .with_journal(Arc::new(StoreJournal::new(store)))
                .with_events_from(from);
            info!(submitter = %submitter.address(), rpc = %submitter.reader().rpc().url(), "submitting certificates to the NodeManager");
            let reader = submitter.reader().clone();
            (Some(Box::new(submitter)), Some(Box::new(reader)))
        }
        // Accepted reports still settle, so this member stops rebroadcasting them.
        None => (None, Some(Box::new(ReportReader::new(rpc, Address::from(genesis.contracts.node_manager.0))))),
    };
    // Held for the life of the process: the kernel releases it when the node exits.
    std::mem::forget(lock);
    let network = Arc::new(network);
    let member = Member {
        signer: SecretKeySigner::new(keys.secret_key),
        roster,
        collector,
        network: network.clone(),
        network_events,
        submitter,
        chain,
    };
    Ok((member, network))
}

async fn connect_submitter(rpc: Rpc, key_file: &Path, genesis: &Genesis, tx: TxConfig) -> anyhow::Result<Submitter> {
    let signer = read_submitter_key(key_file)?;
    let node_manager = Address::from(genesis.contracts.node_manager.0);
    let submitter = Submitter::new(rpc, node_manager, signer, tx);
    submitter.reader().check_deployed().await?;
    Ok(submitter)
}

/// The submitter's private key: hex in a file only its owner can read. Neither the key nor
/// the file's content ever appears in a message.
fn read_submitter_key(path: &Path) -> anyhow::Result<PrivateKeySigner> {
    let bytes = claystack_fs_util::read_private(path).context("submitter key file")?;
    let text = String::from_utf8(bytes).unwrap_or_default();
    text.trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("submitter key file {} does not hold a 32-byte hex private key", path.display()))
}

/// One line when the genesis sets no `contracts.deployed_at_block` on a chain long enough for
/// that to cost: every read of the contracts' events then starts at block 0.
async fn warn_if_events_read_from_block_0(rpc: &Rpc, genesis: &Genesis) -> anyhow::Result<()> {
    let head = rpc_head(rpc).await?;
    let ranges = head / claystack_execution::tx::LOG_RANGE + 1;
    if genesis.contracts.deployed_at_block == 0 && ranges > 10 {
        tracing::warn!(
            head,
            "genesis has no contracts.deployed_at_block: each read of the contracts' events (committee changes, \
             voluntary exit requests) starts at block 0, {ranges} eth_getLogs requests; set it to the contracts' \
             deployment block in the genesis the committee agrees on"
        );
    }
    Ok(())
}

/// The execution chain's latest block number.
async fn rpc_head(rpc: &Rpc) -> anyhow::Result<u64> {
    use claystack_execution::alloy::providers::Provider;
    rpc.provider().get_block_number().await.context("eth_blockNumber on the execution RPC")
}

/// Lets in every member a committee change adds: first those of the changes `member` read at
/// start (`known`, up to block `from - 1`), then the changes mined from block `from` on. Such a
/// member is not in genesis, and dials us (its address is not known here). A removed member
/// stays connected; its signatures stop counting from the change's report on (the collector
/// judges each report by its committee).
async fn admit_added_members(
    reader: ReportReader,
    network: claystack_p2p::NetworkHandle,
    known: Vec<claystack_execution::ScheduledChange>,
    mut from: u64,
) {
    let mut changes = known;
    loop {
        for (index, _, peer_id) in changes.iter().filter_map(|c| c.replaced.clone()) {
            match peer_id.parse::<PeerId>() {
                Ok(peer) if network.admit(peer).await.is_ok() => {}
                Ok(_) => return, // the network stopped: the node is stopping
                Err(_) => {
                    tracing::warn!(member = index, %peer_id, "a committee change names a peer id that does not parse; that member cannot be admitted")
                }
            }
        }
        changes = Vec::new();
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        match rpc_head(reader.rpc()).await {
            Ok(head) if head >= from => match reader.committee_changes(from, head).await {
                Ok(read) => {
                    changes = read;
                    from = head + 1;
                }
                Err(e) => tracing::warn!("cannot read committee changes: {e}; trying again"),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!("{e:#}; trying again"),
        }
    }
}

/// The other members' addresses from the config. Each must be an `allowed` peer id (genesis'
/// members and those committee changes added); every `required` member (genesis' members no
/// change replaced) but this node must have one. A member added by a change dials us, so its
/// address is optional.
fn committee_peers(
    addrs: &[String],
    allowed: &[String],
    required: &[(usize, String)],
    own: &str,
) -> anyhow::Result<Vec<(PeerId, Multiaddr)>> {
    let mut out = Vec::new();
    for text in addrs {
        let addr: Multiaddr = text.parse().with_context(|| format!("committee peer {text:?} is not a multiaddr"))?;
        let Some(peer) = text.rsplit_once("/p2p/").and_then(|(_, id)| id.parse::<PeerId>().ok()) else {
            bail!("committee peer {text} must end in /p2p/<peer id> of a committee member");
        };
        let id = peer.to_string();
        if !allowed.contains(&id) {
            bail!("committee peer {text}: peer id {peer} is neither a genesis committee member nor added by a committee change");
        }
        if id == own {
            continue;
        }
        out.push((peer, addr));
    }
    for (i, id) in required {
        if id != own && !out.iter().any(|(p, _)| p.to_string() == *id) {
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
        let err = format!("{:#}", read_submitter_key(&path).unwrap_err());
        assert!(err.contains("chmod 600") && !err.contains(&key[2..]), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let signer = read_submitter_key(&path).unwrap();
        assert_eq!(signer.address().to_string(), "0x70997970C51812dc3A010C7d01b50e0d17dc79C8");
        std::fs::write(&path, "not a key 59c6995e\n").unwrap();
        let err = format!("{:#}", read_submitter_key(&path).unwrap_err());
        assert!(err.contains("32-byte hex") && !err.contains("59c6995e"), "{err}");
    }
}

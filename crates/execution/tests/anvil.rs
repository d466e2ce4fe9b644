//! The chain crate against a real anvil (`--hardfork prague`, from `scripts/setup.sh`):
//! deploy for a genesis whose addresses were predicted, register operators, read the
//! registry pinned at a block, submit a committee-signed rewards report, claim, and the
//! rejections and the stuck-transaction replacement.

use claystack_execution::alloy::network::TransactionBuilder;
use claystack_execution::alloy::primitives::{Address, B256, U256};
use claystack_execution::alloy::providers::{Provider, ProviderBuilder};
use claystack_execution::alloy::rpc::types::TransactionRequest;
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_execution::bindings::{MockCsETH, NodeManager, OperatorRegistry};
use claystack_execution::{
    exit_groups, predict_addresses, to_rewards_registry, ChainError, DeployConfig, Deployer, Deployment,
    ExitEventsReader, ExitGroups, ExitsLeaf, FeedStandIn, InFlight, Liquidity, NodeType, PublishedExitTx, Registrar,
    RegistryReader, RewardsLeaf, Rpc, SubmissionJournal, SubmitOutcome, Submitter, Transactor, TxConfig,
    ValidatorStatus, WithdrawalQueueReader,
};
use claystack_genesis::{generate_local, Genesis};
use claystack_merkle::{StandardMerkleTree, Value};
use claystack_primitives::{ReportId, ReportKind};
use claystack_quorum::bls::{aggregate_signatures, parse_signature};
use claystack_quorum::{Certificate, Roster, SecretKeySigner, Signer, SignerBitmap};
use claystack_report::{report_hash, REWARDS_LEAF_ENCODING};
use claystack_testkit::anvil::{Anvil, AnvilError};
use std::collections::BTreeMap;
use std::time::Duration;

const ETH: u128 = 1_000_000_000_000_000_000;
const CHAIN_ID: u64 = 31337;

/// An anvil with the contracts of a 4-member, threshold-3 genesis deployed by dev key 0.
struct Net {
    anvil: Anvil,
    rpc: Rpc,
    keys: Vec<PrivateKeySigner>,
    genesis: Genesis,
    secrets: Vec<[u8; 32]>,
    deployment: Deployment,
}

impl Net {
    async fn start() -> Net {
        Net::start_with(|_| {}).await
    }

    /// [`Net::start`] with the deploy config changed by `adjust` first.
    async fn start_with(adjust: impl FnOnce(&mut DeployConfig)) -> Net {
        let anvil = Anvil::start().unwrap();
        let rpc = Rpc::connect(&anvil.endpoint(), CHAIN_ID).await.unwrap();
        let keys = anvil.dev_keys().unwrap();
        let deployer = Deployer::new(Transactor::new(rpc.clone(), keys[0].clone(), TxConfig::default()));

        let (mut genesis, secrets) = generate_local(4, 3, [7; 32], CHAIN_ID);
        let predicted = predict_addresses(keys[0].address(), 0);
        assert_eq!(deployer.predict().await.unwrap(), predicted);
        predicted.apply_to(&mut genesis);
        assert_eq!(genesis.contracts.node_manager.0, predicted.node_manager.0 .0);

        let mut config = DeployConfig::for_genesis(&genesis, 0, 384).unwrap();
        adjust(&mut config);
        let deployment = deployer.deploy(&genesis, &config).await.unwrap();
        assert_eq!(deployment.addresses, predicted);
        assert_eq!(deployment.first_nonce, 0);
        Net { anvil, rpc, keys, genesis, secrets, deployment }
    }

    fn node_manager(&self) -> Address {
        self.deployment.addresses.node_manager
    }

    fn registry(&self) -> Address {
        self.deployment.addresses.operator_registry
    }

    /// A provider that signs with dev key `i` (anvil fills gas, nonce, fees).
    fn wallet(&self, i: usize) -> impl Provider + Clone {
        ProviderBuilder::new().wallet(self.keys[i].clone()).connect_http(self.anvil.endpoint().parse().unwrap())
    }

    fn submitter(&self, key: usize, config: TxConfig) -> Submitter {
        Submitter::new(self.rpc.clone(), self.node_manager(), self.keys[key].clone(), config)
            .with_events_from(self.deployment.node_manager_block)
    }

    fn registrar(&self, key: usize) -> Registrar {
        Registrar::new(
            Transactor::new(self.rpc.clone(), self.keys[key].clone(), TxConfig::default()),
            &self.deployment.addresses,
        )
    }

    fn roster(&self) -> Roster {
        Roster::from_genesis(&self.genesis).unwrap()
    }

    /// The certificate of `id` for (`root`, `hash`): `bitmap` names the members claimed to
    /// sign, `signers` those whose signatures are actually aggregated.
    fn certificate(
        &self,
        id: ReportId,
        root: [u8; 32],
        hash: [u8; 32],
        bitmap: &[u16],
        signers: &[u16],
    ) -> Certificate {
        let signing_root = self.roster().signing_root(id, &root, &hash);
        let sigs: Vec<_> = signers
            .iter()
            .map(|&m| {
                let signer = SecretKeySigner::from_bytes(&self.secrets[m as usize]).unwrap();
                parse_signature(&signer.sign(signing_root.as_bytes())).unwrap()
            })
            .collect();
        Certificate {
            id,
            signing_root,
            merkle_root: root,
            report_hash: hash,
            signers: bitmap.iter().copied().collect::<SignerBitmap>(),
            signature: aggregate_signatures(&sigs).unwrap().to_bytes(),
        }
    }

    async fn nonce(&self, key: usize) -> u64 {
        self.rpc.provider().get_transaction_count(self.keys[key].address()).await.unwrap()
    }

    async fn block(&self) -> u64 {
        self.rpc.provider().get_block_number().await.unwrap()
    }
}

/// Registers dev key `key` as an operator bonded with `bond` wei of ETH (as csETH, 1:1 on
/// the stand-in), then adds `nodes` (the bond must cover the genesis bond of each).
async fn register_operator(net: &Net, key: usize, name: &str, nodes: &[NodeType], bond: u128) -> Vec<u64> {
    let r = net.registrar(key);
    r.register_operator(name, "{\"location\":\"test\"}").await.unwrap();
    if bond > 0 {
        assert_eq!(r.bond_with_eth(U256::from(bond)).await.unwrap(), U256::from(bond));
    }
    let mut ids = Vec::new();
    for t in nodes {
        ids.push(r.add_node(*t, &format!("{name} node")).await.unwrap());
    }
    ids
}

/// The protocol (dev key 0, the owner) delegates a validator to a cluster.
async fn add_validator(net: &Net, pubkey: [u8; 48], nodes: &[u64]) {
    net.registrar(0).add_validator(&pubkey, nodes).await.unwrap();
}

fn leaf(operator: Address, cumulative: u128, penalty: u128, requirement: u128) -> Vec<Value> {
    vec![Value::Address(operator.0 .0), Value::uint(cumulative), Value::uint(penalty), Value::uint(requirement)]
}

#[tokio::test]
async fn deploys_at_predicted_addresses_with_the_genesis_committee() {
    let net = Net::start().await;
    let p = net.rpc.provider();
    let manager = NodeManager::new(net.node_manager(), p);
    let registry = OperatorRegistry::new(net.registry(), p);
    assert_eq!(manager.committeeSize().call().await.unwrap(), U256::from(4));
    assert_eq!(manager.threshold().call().await.unwrap(), U256::from(3));
    assert_eq!(manager.registry().call().await.unwrap(), net.registry());
    assert_eq!(registry.nodeManager().call().await.unwrap(), net.node_manager());
    assert_eq!(registry.csETH().call().await.unwrap(), net.deployment.addresses.cs_eth);
    assert_eq!(registry.obolClusterSize().call().await.unwrap(), 4);
    assert_eq!(registry.owner().call().await.unwrap(), net.keys[0].address());
    // The contract's signing root is the committee crate's for the genesis domain.
    let id = ReportId::new(ReportKind::Rewards, 1);
    let reader = net.submitter(4, TxConfig::default()).reader().clone();
    assert_eq!(
        reader.signing_root(id, [1; 32], [2; 32]).await.unwrap(),
        net.roster().signing_root(id, &[1; 32], &[2; 32]).0
    );
    reader.check_deployed().await.unwrap();

    // A genesis that names other addresses is refused before anything is sent.
    let (other, _) = generate_local(4, 3, [8; 32], CHAIN_ID);
    let deployer = Deployer::new(Transactor::new(net.rpc.clone(), net.keys[1].clone(), TxConfig::default()));
    let err = deployer.deploy(&other, &DeployConfig::for_genesis(&other, 0, 384).unwrap()).await.unwrap_err();
    assert!(matches!(err, ChainError::GenesisMismatch { field: "node_manager", nonce: 0, .. }), "{err}");
    assert!(err.to_string().contains("predict_addresses"), "{err}");
    assert_eq!(net.nonce(1).await, 0);
}

#[tokio::test]
async fn registry_reads_are_pinned_at_a_block() {
    let net = Net::start().await;
    // Genesis bonds: direct 4 ETH, Obol 2 ETH for the first node and 2 ETH for each further one.
    let op1 = register_operator(&net, 1, "alpha", &[NodeType::Direct, NodeType::Obol, NodeType::Obol], 8 * ETH).await;
    let op2 = register_operator(&net, 2, "beta", &[NodeType::Direct, NodeType::Obol, NodeType::Obol], 9 * ETH).await;
    assert_eq!((op1.clone(), op2.clone()), (vec![1, 2, 3], vec![4, 5, 6]));
    add_validator(&net, [0xa1; 48], &[1]).await;
    add_validator(&net, [0xb2; 48], &[4]).await;
    // One Obol cluster of 4 nodes from two operators.
    add_validator(&net, [0xc3; 48], &[2, 3, 5, 6]).await;
    // Locations set by each node's operator; node 6 keeps none.
    net.registrar(1).set_node_location(1, "eu-west").await.unwrap();
    net.registrar(2).set_node_location(5, "us-east").await.unwrap();
    net.registrar(2).set_node_location(4, "eu-west").await.unwrap();
    // csETH worth 1.25 ETH: the bonds' ETH value is 1.25 times the csETH held.
    // A fresh wallet each time: key 0 also sends as the registry's owner meanwhile.
    let shared = &net;
    let set_rate = move |wei_per_cs_eth: u128| async move {
        let cs_eth = MockCsETH::new(shared.deployment.addresses.cs_eth, shared.wallet(0));
        cs_eth.setExchangeRate(U256::from(wei_per_cs_eth)).send().await.unwrap().get_receipt().await.unwrap();
    };
    set_rate(125 * ETH / 100).await;
    let pinned = net.block().await;

    // Registered or changed after the pinned block: must not appear in its snapshot.
    set_rate(ETH).await;
    register_operator(&net, 3, "gamma", &[NodeType::Direct], 4 * ETH).await;
    add_validator(&net, [0xd4; 48], &[7]).await;
    net.registrar(1).set_node_location(1, "ap-south").await.unwrap();
    set_rate(2 * ETH).await;
    // Only a node's own operator sets its location.
    let err = net.registrar(2).set_node_location(1, "eu-west").await.unwrap_err();
    assert!(err.to_string().contains("NotNodeOperator"), "{err}");

    let reader = RegistryReader::new(net.rpc.clone(), net.registry());
    let snap = reader.snapshot(pinned).await.unwrap();
    assert_eq!(snap.block, pinned);
    let accounts: Vec<_> = snap.operators.iter().map(|o| (o.id, o.account, o.name.as_str())).collect();
    assert_eq!(accounts, vec![(1, net.keys[1].address(), "alpha"), (2, net.keys[2].address(), "beta")]);
    let bonds: Vec<_> = snap.operators.iter().map(|o| (o.bond, o.bond_requirement)).collect();
    assert_eq!(bonds, vec![(U256::from(8 * ETH), U256::from(8 * ETH)), (U256::from(9 * ETH), U256::from(8 * ETH))]);
    let values: Vec<_> = snap.operators.iter().map(|o| o.bond_value).collect();
    assert_eq!(values, vec![U256::from(10 * ETH), U256::from(9 * ETH * 125 / 100)], "csETH at 1.25 ETH at the block");
    let locations: Vec<_> = snap.nodes.iter().map(|n| n.location.as_str()).collect();
    assert_eq!(locations, vec!["eu-west", "", "", "eu-west", "us-east", ""]);
    let nodes: Vec<_> = snap.nodes.iter().map(|n| (n.id, n.operator_id, n.node_type)).collect();
    assert_eq!(
        nodes,
        vec![
            (1, 1, NodeType::Direct),
            (2, 1, NodeType::Obol),
            (3, 1, NodeType::Obol),
            (4, 2, NodeType::Direct),
            (5, 2, NodeType::Obol),
            (6, 2, NodeType::Obol),
        ]
    );
    let validators: Vec<_> = snap.validators.iter().map(|v| (v.id, v.pubkey, v.node_ids.clone(), v.status)).collect();
    assert_eq!(
        validators,
        vec![
            (1, [0xa1; 48], vec![1], ValidatorStatus::Active),
            (2, [0xb2; 48], vec![4], ValidatorStatus::Active),
            (3, [0xc3; 48], vec![2, 3, 5, 6], ValidatorStatus::Active),
        ]
    );
    // Epochs come from block time: beacon genesis 0, 384 s per epoch.
    let now = net.rpc.provider().get_block_by_number(pinned.into()).await.unwrap().unwrap().header.timestamp;
    assert!(snap.nodes.iter().all(|n| n.registered_epoch <= now / 384 && n.registered_epoch + 1 >= now / 384));

    // Reading the same block again gives the same snapshot; the latest block sees gamma.
    assert_eq!(reader.snapshot(pinned).await.unwrap(), snap);
    let latest = reader.snapshot(net.block().await).await.unwrap();
    assert_eq!((latest.operators.len(), latest.nodes.len(), latest.validators.len()), (3, 7, 4));
    assert_eq!((latest.nodes[0].location.as_str(), latest.operators[0].bond_value), ("ap-south", U256::from(16 * ETH)));

    // The failed-call count (a metric): a snapshot of many calls adds nothing, and neither
    // does a registry without code (an answer, not a failure); a block past the chain's head
    // fails at the first call, counted once, shared by every clone of the connection.
    let errors = net.rpc.errors();
    reader.snapshot(pinned).await.unwrap();
    assert_eq!(net.rpc.errors(), errors);
    // Before deployment there is no registry: a clear error, not an empty registry.
    let err = reader.snapshot(0).await.unwrap_err();
    assert!(matches!(err, ChainError::NoCode { contract: "OperatorRegistry", .. }), "{err}");
    assert_eq!(net.rpc.errors(), errors);
    let err = reader.snapshot(pinned + 1_000_000).await.unwrap_err();
    assert!(matches!(err, ChainError::Rpc { .. }), "{err}");
    assert_eq!((net.rpc.errors(), reader.rpc().errors()), (errors + 1, errors + 1), "{err}");

    // The engine's registry: validators without a beacon index are left out and listed.
    let index: BTreeMap<[u8; 48], u64> = [([0xa1; 48], 100), ([0xc3; 48], 7)].into_iter().collect();
    let converted = to_rewards_registry(&snap, &index);
    assert_eq!(converted.unindexed, vec![[0xb2; 48]]);
    // The exits selection's groups: a cluster's lowest node stands for it.
    let groups = exit_groups(&snap, &index);
    let g =
        |node_type, location: &str, operator: Address| ExitGroups { node_type, location: location.into(), operator };
    assert_eq!(
        groups,
        [(7, g("obol", "", net.keys[1].address())), (100, g("direct", "eu-west", net.keys[1].address()))]
            .into_iter()
            .collect::<BTreeMap<_, _>>()
    );
    let r = &converted.registry;
    assert_eq!(
        r.operators.iter().map(|o| o.address.0).collect::<Vec<_>>(),
        vec![net.keys[1].address().0 .0, net.keys[2].address().0 .0]
    );
    assert_eq!(
        r.nodes.iter().map(|n| n.node_type.as_str()).collect::<Vec<_>>(),
        vec!["direct", "obol", "obol", "direct", "obol", "obol"]
    );
    assert_eq!(
        r.validators.iter().map(|v| (v.index, v.nodes.clone())).collect::<Vec<_>>(),
        vec![(7, vec![2, 3, 5, 6]), (100, vec![1])]
    );
}

#[tokio::test]
async fn rewards_report_is_accepted_once_and_claims_pay_once() {
    let net = Net::start().await;
    let (alpha, beta, gamma) = (net.keys[1].address(), net.keys[2].address(), net.keys[3].address());
    register_operator(&net, 1, "alpha", &[NodeType::Direct], 4 * ETH).await;
    register_operator(&net, 2, "beta", &[NodeType::Direct], 5 * ETH).await;
    add_validator(&net, [0xa1; 48], &[1]).await;
    add_validator(&net, [0xb2; 48], &[2]).await;

    // The report: three leaves in the contract's encoding; beta owes a bond penalty.
    let values =
        vec![leaf(alpha, 3 * ETH, 0, ETH), leaf(beta, 3 * ETH / 2, ETH / 4, 2 * ETH), leaf(gamma, ETH / 2, 0, 0)];
    let tree = StandardMerkleTree::of(values, &REWARDS_LEAF_ENCODING).unwrap();
    let root = tree.root();
    let hash = report_hash(b"rewards report 1 (test)\n");
    let id = ReportId::new(ReportKind::Rewards, 1);
    let submitter = net.submitter(4, TxConfig::default());

    // Rejected by the contract's rules, decoded by name; nothing is sent.
    let forged = net.certificate(id, root, hash, &[0, 1, 3], &[0, 1, 2]);
    let below = net.certificate(id, root, hash, &[0, 1], &[0, 1]);
    let ahead = net.certificate(ReportId::new(ReportKind::Rewards, 2), root, hash, &[0, 1, 3], &[0, 1, 3]);
    for (cert, name) in [(&forged, "InvalidSignature"), (&below, "NotEnoughSigners"), (&ahead, "ReportOutOfOrder")] {
        match submitter.submit(cert).await.unwrap() {
            SubmitOutcome::Rejected { error, tx: None } => assert_eq!(error.name, name, "{error}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    match submitter.submit(&below).await.unwrap() {
        SubmitOutcome::Rejected { error, .. } => {
            assert_eq!(error.to_string(), "NotEnoughSigners(signers: 2, threshold: 3)")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(net.nonce(4).await, 0, "rejected reports must not be sent");

    // Three of four members sign: accepted.
    let good = net.certificate(id, root, hash, &[0, 1, 3], &[0, 1, 3]);
    let (tx, block) = match submitter.submit(&good).await.unwrap() {
        SubmitOutcome::Accepted { tx, block, gas_used, replacements } => {
            assert!(gas_used > 200_000 && gas_used < 400_000, "gas {gas_used}");
            assert_eq!(replacements, 0);
            (tx, block)
        }
        other => panic!("{other:?}"),
    };
    let reader = submitter.reader();
    assert_eq!(reader.last_report_number(ReportKind::Rewards).await.unwrap(), 1);
    assert_eq!(reader.last_report_number(ReportKind::Exits).await.unwrap(), 0);
    assert_eq!(reader.report_root(ReportKind::Rewards, 1).await.unwrap(), Some(B256::from(root)));
    assert_eq!(reader.at(block - 1).report_root(ReportKind::Rewards, 1).await.unwrap(), None);
    let events = reader.accepted_reports(net.deployment.node_manager_block, net.block().await).await.unwrap();
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!((ev.id, ev.merkle_root, ev.report_hash), (id, B256::from(root), B256::from(hash)));
    assert_eq!((ev.submitter, ev.tx, ev.block), (submitter.address(), tx, block));
    assert_eq!(ev.signers.members().collect::<Vec<_>>(), vec![0, 1, 3]);

    // Never a second submission: the chain is asked first and nothing is sent.
    let nonce = net.nonce(4).await;
    match submitter.submit(&good).await.unwrap() {
        SubmitOutcome::AlreadyAccepted { id: got, root: r, same_root: true, accepted: Some(a), our_tx: None } => {
            assert_eq!((got, r, a.tx), (id, B256::from(root), tx));
        }
        other => panic!("{other:?}"),
    }
    // Another member's submitter (another key), another root for the same number: same answer.
    let other_root = net.certificate(id, [9; 32], hash, &[0, 1, 2], &[0, 1, 2]);
    match net.submitter(5, TxConfig::default()).submit(&other_root).await.unwrap() {
        SubmitOutcome::AlreadyAccepted { same_root: false, our_tx: None, .. } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!((net.nonce(4).await, net.nonce(5).await), (nonce, 0));
    // The contract itself refuses the replay.
    assert_eq!(submitter.simulate(&good).await.unwrap().unwrap().name, "ReportAlreadyAccepted");

    // Claims: fund the NodeManager, then claim with proofs from the tree's dump.
    let funder = net.wallet(0);
    let fund = TransactionRequest::default().with_to(net.node_manager()).with_value(U256::from(10 * ETH));
    assert!(funder.send_transaction(fund).await.unwrap().get_receipt().await.unwrap().status());
    let dump = serde_json::to_string(&tree.dump()).unwrap();
    let loaded = StandardMerkleTree::load(&serde_json::from_str(&dump).unwrap()).unwrap();
    assert_eq!(loaded.root(), root);
    let proof_of = |i: usize| (RewardsLeaf::from_values(&loaded.values()[i].value).unwrap(), loaded.proof(i).unwrap());

    // A claim (sent by anyone) credits; the operator withdraws, to itself here.
    let (alpha_leaf, alpha_proof) = proof_of(0);
    let before = net.rpc.provider().get_balance(alpha).await.unwrap();
    let claimed = submitter.claim(&alpha_leaf, &alpha_proof).await.unwrap();
    assert_eq!((claimed.amount, claimed.report_number), (U256::from(3 * ETH), 1));
    assert_eq!(net.rpc.provider().get_balance(alpha).await.unwrap(), before, "a claim moves no ETH");
    let again = submitter.claim(&alpha_leaf, &alpha_proof).await.unwrap();
    assert_eq!(again.amount, U256::ZERO);
    assert_eq!(reader.claimed_rewards(alpha).await.unwrap(), U256::from(3 * ETH));
    assert_eq!(reader.balance_of(alpha).await.unwrap(), U256::from(3 * ETH));
    let alpha_wallet = net.submitter(1, TxConfig::default());
    let withdrawn = alpha_wallet.withdraw(alpha, U256::from(3 * ETH)).await.unwrap();
    let receipt = net.rpc.provider().get_transaction_receipt(withdrawn.tx).await.unwrap().unwrap();
    let fee = U256::from(receipt.gas_used as u128 * receipt.effective_gas_price);
    assert_eq!(net.rpc.provider().get_balance(alpha).await.unwrap() + fee, before + U256::from(3 * ETH));
    assert_eq!(reader.balance_of(alpha).await.unwrap(), U256::ZERO);
    // Nothing left: a second withdrawal is refused by name and not sent.
    match alpha_wallet.withdraw(alpha, U256::from(1)).await.unwrap_err() {
        ChainError::Rejected { error, .. } => assert_eq!(error.name, "AmountAboveBalance"),
        other => panic!("{other}"),
    }

    // Beta's claim credits and slashes the bond once; the requirement is set (the report's,
    // plus its node's 4 ETH: report 1 may have been computed before the node was added).
    let (beta_leaf, beta_proof) = proof_of(1);
    let claimed = submitter.claim(&beta_leaf, &beta_proof).await.unwrap();
    assert_eq!((claimed.amount, claimed.bond_penalty), (U256::from(3 * ETH / 2), U256::from(ETH / 4)));
    assert_eq!((claimed.netted, claimed.debt), (U256::ZERO, U256::ZERO));
    let registry = OperatorRegistry::new(net.registry(), net.rpc.provider());
    assert_eq!(registry.bondOf(beta).call().await.unwrap(), U256::from(5 * ETH - ETH / 4));
    assert_eq!(registry.bondRequirementOf(beta).call().await.unwrap(), U256::from(6 * ETH));
    // The snapshot shows it: beta's bond is now short of its requirement.
    let snap = RegistryReader::new(net.rpc.clone(), net.registry()).snapshot(net.block().await).await.unwrap();
    let bonds: Vec<_> = snap.operators.iter().map(|o| (o.account, o.bond, o.bond_requirement)).collect();
    assert_eq!(
        bonds,
        vec![
            (alpha, U256::from(4 * ETH), U256::from(5 * ETH)),
            (beta, U256::from(5 * ETH - ETH / 4), U256::from(6 * ETH))
        ]
    );

    // A leaf that is not in the tree: rejected by name, not sent.
    let mut inflated = alpha_leaf.clone();
    inflated.cumulative_rewards = U256::from(30 * ETH);
    let nonce = net.nonce(4).await;
    match submitter.claim(&inflated, &alpha_proof).await.unwrap_err() {
        ChainError::Rejected { error, .. } => assert_eq!(error.name, "InvalidProof"),
        other => panic!("{other}"),
    }
    assert_eq!(net.nonce(4).await, nonce);
}

/// A transaction in anvil's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    hash: B256,
    max_fee: u128,
    priority_fee: u128,
}

/// `txpool_content`'s pending transaction of `from`, if any.
async fn pending_of(net: &Net, from: Address) -> Option<Pending> {
    let pool: serde_json::Value = net.rpc.provider().raw_request("txpool_content".into(), ()).await.unwrap();
    let pending = pool["pending"].as_object()?;
    let (_, by_nonce) = pending.iter().find(|(a, _)| a.parse::<Address>().ok() == Some(from))?;
    let (_, tx) = by_nonce.as_object()?.iter().next()?;
    let number = |k: &str| u128::from_str_radix(tx[k].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    Some(Pending {
        hash: tx["hash"].as_str()?.parse().ok()?,
        max_fee: number("maxFeePerGas"),
        priority_fee: number("maxPriorityFeePerGas"),
    })
}

/// Waits (10 s at most) for a pending transaction of `from` other than `not`.
async fn wait_pending(net: &Net, from: Address, not: Option<B256>) -> Pending {
    for _ in 0..200 {
        if let Some(p) = pending_of(net, from).await.filter(|p| Some(p.hash) != not) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new pending transaction from {from}");
}

#[tokio::test]
async fn stuck_submission_is_replaced_with_higher_fees() {
    let net = Net::start().await;
    let root =
        StandardMerkleTree::of(vec![leaf(net.keys[1].address(), ETH, 0, 0)], &REWARDS_LEAF_ENCODING).unwrap().root();
    let id = ReportId::new(ReportKind::Rewards, 1);
    let cert = net.certificate(id, root, report_hash(b"r1"), &[1, 2, 3], &[1, 2, 3]);
    let config = TxConfig {
        receipt_timeout: Duration::from_millis(1500),
        poll_interval: Duration::from_millis(100),
        max_replacements: 3,
        ..TxConfig::default()
    };
    let submitter = net.submitter(4, config);
    let from = submitter.address();

    // Nothing is mined from now on until the test says so: the first transaction is stuck.
    let _: serde_json::Value = net.rpc.provider().raw_request("evm_setAutomine".into(), (false,)).await.unwrap();
    let task = tokio::spawn({
        let submitter = submitter.clone();
        async move { submitter.submit(&cert).await }
    });

    let first = wait_pending(&net, from, None).await;
    let second = wait_pending(&net, from, Some(first.hash)).await;
    // Same nonce (one pending slot), both fees up by at least 12.5%.
    assert!(second.max_fee * 8 >= first.max_fee * 9, "{first:?} -> {second:?}");
    assert!(second.priority_fee * 8 >= first.priority_fee * 9, "{first:?} -> {second:?}");

    let _: serde_json::Value = net.rpc.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    match task.await.unwrap().unwrap() {
        SubmitOutcome::Accepted { tx, replacements, .. } => {
            assert_eq!(tx, second.hash);
            assert!(replacements >= 1);
        }
        other => panic!("{other:?}"),
    }
    // The stuck one is gone: replaced, never mined.
    assert!(net.rpc.provider().get_transaction_receipt(first.hash).await.unwrap().is_none());
    assert_eq!(net.nonce(4).await, 1);
    assert_eq!(submitter.reader().report_root(ReportKind::Rewards, 1).await.unwrap(), Some(B256::from(root)));
}

#[test]
fn anvil_is_killed_when_its_owner_panics() {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        let anvil = Anvil::start().unwrap();
        tx.send((anvil.pid(), anvil.log_path().to_path_buf())).unwrap();
        panic!("test panics while anvil runs");
    });
    assert!(thread.join().is_err());
    let (pid, log) = rx.recv().unwrap();
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "anvil {pid} survived");
    // Kept because the owner panicked; this panic was on purpose.
    assert!(log.exists());
    std::fs::remove_file(log).unwrap();
}

#[test]
fn missing_anvil_says_to_run_setup() {
    let err = Anvil::builder().binary("/nonexistent/anvil").start().unwrap_err();
    assert!(matches!(err, AnvilError::Missing(_)));
    assert!(err.to_string().contains("scripts/setup.sh"), "{err}");
}

#[tokio::test]
async fn dropped_submission_is_sent_again() {
    let net = Net::start().await;
    let root =
        StandardMerkleTree::of(vec![leaf(net.keys[1].address(), ETH, 0, 0)], &REWARDS_LEAF_ENCODING).unwrap().root();
    let cert = net.certificate(ReportId::new(ReportKind::Rewards, 1), root, report_hash(b"r1"), &[0, 1, 2], &[0, 1, 2]);
    let config = TxConfig {
        receipt_timeout: Duration::from_millis(1500),
        poll_interval: Duration::from_millis(100),
        max_replacements: 3,
        ..TxConfig::default()
    };
    let submitter = net.submitter(4, config);
    let from = submitter.address();

    let _: serde_json::Value = net.rpc.provider().raw_request("evm_setAutomine".into(), (false,)).await.unwrap();
    let task = tokio::spawn({
        let submitter = submitter.clone();
        async move { submitter.submit(&cert).await }
    });
    // The node forgets the transaction (evicted from its pool): it is sent again, same nonce.
    let first = wait_pending(&net, from, None).await;
    let _: serde_json::Value =
        net.rpc.provider().raw_request("anvil_dropTransaction".into(), (first.hash,)).await.unwrap();
    assert!(pending_of(&net, from).await.is_none());
    let again = wait_pending(&net, from, Some(first.hash)).await;
    assert!(again.max_fee > first.max_fee);

    let _: serde_json::Value = net.rpc.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    match task.await.unwrap().unwrap() {
        SubmitOutcome::Accepted { tx, .. } => assert_eq!(tx, again.hash),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.nonce(4).await, 1);
}

#[tokio::test]
async fn stuck_submission_is_not_replaced_once_another_member_got_the_report_in() {
    let net = Net::start().await;
    let root =
        StandardMerkleTree::of(vec![leaf(net.keys[1].address(), ETH, 0, 0)], &REWARDS_LEAF_ENCODING).unwrap().root();
    let cert = net.certificate(ReportId::new(ReportKind::Rewards, 1), root, report_hash(b"r1"), &[0, 1, 2], &[0, 1, 2]);
    let slow = TxConfig {
        receipt_timeout: Duration::from_secs(4),
        poll_interval: Duration::from_millis(100),
        ..TxConfig::default()
    };
    let ours = net.submitter(4, slow.clone());
    let theirs = net.submitter(5, TxConfig { receipt_timeout: Duration::from_secs(30), ..slow });

    let _: serde_json::Value = net.rpc.provider().raw_request("evm_setAutomine".into(), (false,)).await.unwrap();
    let our_task = tokio::spawn({
        let (s, c) = (ours.clone(), cert.clone());
        async move { s.submit(&c).await }
    });
    let our_first = wait_pending(&net, ours.address(), None).await;
    // Ours falls out of the pool; another member's submission of the same report is mined.
    let _: serde_json::Value =
        net.rpc.provider().raw_request("anvil_dropTransaction".into(), (our_first.hash,)).await.unwrap();
    let their_task = tokio::spawn({
        let (s, c) = (theirs.clone(), cert.clone());
        async move { s.submit(&c).await }
    });
    let their_tx = wait_pending(&net, theirs.address(), None).await;
    let _: serde_json::Value = net.rpc.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    assert!(matches!(their_task.await.unwrap().unwrap(), SubmitOutcome::Accepted { tx, .. } if tx == their_tx.hash));

    // When our receipt wait times out, the chain already has the report: no replacement.
    match our_task.await.unwrap().unwrap() {
        SubmitOutcome::AlreadyAccepted { same_root: true, accepted: Some(a), our_tx, .. } => {
            assert_eq!((a.submitter, a.tx), (theirs.address(), their_tx.hash));
            assert_eq!(our_tx, Some(our_first.hash));
        }
        other => panic!("{other:?}"),
    }
    assert!(pending_of(&net, ours.address()).await.is_none());
    assert_eq!(net.nonce(4).await, 0);
}

/// The stated maximum, 128 members, deploys on a chain whose blocks hold 16,777,216 gas
/// (EIP-7825's per-transaction cap): the members go in batches, each its own transaction under
/// the cap, and a report signed by a quorum of the 128 is accepted. The gas of each
/// transaction is printed for docs/contracts.md.
#[tokio::test]
async fn a_128_member_committee_deploys_in_transactions_under_the_cap() {
    let cap = claystack_execution::TX_GAS_CAP;
    let anvil = Anvil::builder().arg("--gas-limit").arg(cap.to_string()).start().unwrap();
    let rpc = Rpc::connect(&anvil.endpoint(), CHAIN_ID).await.unwrap();
    let keys = anvil.dev_keys().unwrap();
    let (mut genesis, secrets) = generate_local(128, 65, [12; 32], CHAIN_ID);
    predict_addresses(keys[0].address(), 0).apply_to(&mut genesis);
    let deployer = Deployer::new(Transactor::new(rpc.clone(), keys[0].clone(), TxConfig::default()));
    let deployment = deployer.deploy(&genesis, &DeployConfig::for_genesis(&genesis, 0, 384).unwrap()).await.unwrap();

    let batches = &deployment.member_batches;
    assert_eq!(batches.iter().map(|(n, _)| n).sum::<usize>(), 128);
    assert_eq!(batches.len(), 128 / claystack_execution::MEMBERS_PER_BATCH);
    eprintln!("NodeManager creation: {} gas", deployment.node_manager_gas);
    for (i, (members, gas)) in batches.iter().enumerate() {
        eprintln!("registerMembers batch {i}: {members} members, {gas} gas");
        assert!(*gas <= cap, "batch {i} used {gas} gas, above the cap {cap}");
    }
    eprintln!("registration total: {} gas", batches.iter().map(|(_, g)| g).sum::<u64>());
    let manager = NodeManager::new(deployment.addresses.node_manager, rpc.provider());
    assert!(manager.isSealed().call().await.unwrap());
    assert_eq!(manager.committeeSize().call().await.unwrap(), U256::from(128));

    // Members 0..=64 sign (the threshold, 65): accepted.
    let roster = Roster::from_genesis(&genesis).unwrap();
    let id = ReportId::new(ReportKind::Rewards, 1);
    let (root, hash) = ([5; 32], report_hash(b"a report of the 128-member committee\n"));
    let signing_root = roster.signing_root(id, &root, &hash);
    let signers: Vec<u16> = (0..65).collect();
    let sigs: Vec<_> = signers
        .iter()
        .map(|&m| {
            let signer = SecretKeySigner::from_bytes(&secrets[m as usize]).unwrap();
            parse_signature(&signer.sign(signing_root.as_bytes())).unwrap()
        })
        .collect();
    let cert = Certificate {
        id,
        signing_root,
        merkle_root: root,
        report_hash: hash,
        signers: signers.iter().copied().collect::<SignerBitmap>(),
        signature: aggregate_signatures(&sigs).unwrap().to_bytes(),
    };
    let submitter =
        Submitter::new(rpc.clone(), deployment.addresses.node_manager, keys[1].clone(), TxConfig::default());
    match submitter.submit(&cert).await.unwrap() {
        SubmitOutcome::Accepted { gas_used, .. } => {
            eprintln!("submitReport, 128 members, 63 non-signers: {gas_used} gas");
            assert!(gas_used <= cap);
        }
        other => panic!("{other:?}"),
    }
}

/// A journal in memory, as the node's store keeps it (the store's own tests cover the disk).
#[derive(Default)]
struct MemoryJournal(std::sync::Mutex<BTreeMap<ReportId, Vec<u8>>>);

impl SubmissionJournal for MemoryJournal {
    fn load(&self, id: ReportId) -> Result<Option<InFlight>, String> {
        Ok(self.0.lock().unwrap().get(&id).map(|b| InFlight::decode(b).expect("a record this test saved")))
    }
    fn save(&self, id: ReportId, record: &InFlight) -> Result<(), String> {
        self.0.lock().unwrap().insert(id, record.encode());
        Ok(())
    }
}

#[tokio::test]
async fn a_submission_in_flight_when_the_process_died_is_resumed_not_sent_twice() {
    let net = Net::start().await;
    let root =
        StandardMerkleTree::of(vec![leaf(net.keys[1].address(), ETH, 0, 0)], &REWARDS_LEAF_ENCODING).unwrap().root();
    let id = ReportId::new(ReportKind::Rewards, 1);
    let cert = net.certificate(id, root, report_hash(b"r1"), &[0, 1, 2], &[0, 1, 2]);
    let config = TxConfig {
        receipt_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(100),
        ..TxConfig::default()
    };
    let journal = std::sync::Arc::new(MemoryJournal::default());
    let first_run = net.submitter(4, config.clone()).with_journal(journal.clone());
    let from = first_run.address();

    // The first run sends, and dies with its transaction in the pool.
    let _: serde_json::Value = net.rpc.provider().raw_request("evm_setAutomine".into(), (false,)).await.unwrap();
    let task = tokio::spawn({
        let (s, c) = (first_run.clone(), cert.clone());
        async move { s.submit(&c).await }
    });
    let sent = wait_pending(&net, from, None).await;
    task.abort();
    let saved = journal.load(id).unwrap().expect("saved before it was sent");
    assert_eq!((saved.nonce, saved.hashes.clone()), (0, vec![sent.hash]));

    // Without the record, a restarted node starts over, and fails at gas estimation (the
    // pending transaction already carries the report): what every turn did before.
    let forgetful = net.submitter(4, config.clone());
    let err = forgetful.submit(&cert).await.unwrap_err();
    assert!(err.to_string().contains("eth_estimateGas"), "{err}");

    // With it, the restarted node tracks the same transaction: nothing new is sent, even
    // though it now holds a certificate with other signers (another call, as valid), which
    // sent would have replaced the pending one.
    let other_signers = net.certificate(id, root, report_hash(b"r1"), &[0, 1, 3], &[0, 1, 3]);
    let second_run = net.submitter(4, config).with_journal(journal.clone());
    let task = tokio::spawn({
        let (s, c) = (second_run.clone(), other_signers);
        async move { s.submit(&c).await }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(pending_of(&net, from).await.map(|p| p.hash), Some(sent.hash), "still the first transaction");
    let _: serde_json::Value = net.rpc.provider().raw_request("evm_mine".into(), ()).await.unwrap();
    match task.await.unwrap().unwrap() {
        SubmitOutcome::Accepted { tx, .. } => assert_eq!(tx, sent.hash),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.nonce(4).await, 1, "one transaction from the submitter's key");

    // Submitted again after that (the next turn, say): the record finds it mined.
    let third_run = net.submitter(4, TxConfig::default()).with_journal(journal);
    assert!(matches!(third_run.submit(&cert).await.unwrap(), SubmitOutcome::Accepted { tx, .. } if tx == sent.hash));
    assert_eq!(net.nonce(4).await, 1);
}

#[tokio::test]
async fn a_dropped_transaction_found_in_the_record_is_sent_again_with_its_nonce() {
    let net = Net::start().await;
    let root =
        StandardMerkleTree::of(vec![leaf(net.keys[1].address(), ETH, 0, 0)], &REWARDS_LEAF_ENCODING).unwrap().root();
    let id = ReportId::new(ReportKind::Rewards, 1);
    let cert = net.certificate(id, root, report_hash(b"r1"), &[0, 1, 2], &[0, 1, 2]);
    let config = TxConfig { poll_interval: Duration::from_millis(100), ..TxConfig::default() };
    let journal = std::sync::Arc::new(MemoryJournal::default());
    let first_run = net.submitter(4, config.clone()).with_journal(journal.clone());
    let from = first_run.address();
    let _: serde_json::Value = net.rpc.provider().raw_request("evm_setAutomine".into(), (false,)).await.unwrap();
    let task = tokio::spawn({
        let (s, c) = (first_run.clone(), cert.clone());
        async move { s.submit(&c).await }
    });
    let sent = wait_pending(&net, from, None).await;
    task.abort();
    // The pool forgets it while the node is down.
    let _: serde_json::Value =
        net.rpc.provider().raw_request("anvil_dropTransaction".into(), (sent.hash,)).await.unwrap();
    assert!(pending_of(&net, from).await.is_none());

    let _: serde_json::Value = net.rpc.provider().raw_request("evm_setAutomine".into(), (true,)).await.unwrap();
    let second_run = net.submitter(4, config).with_journal(journal);
    match second_run.submit(&cert).await.unwrap() {
        // The same transaction (same nonce, fees and call), so the same hash.
        SubmitOutcome::Accepted { tx, .. } => assert_eq!(tx, sent.hash),
        other => panic!("{other:?}"),
    }
    assert_eq!(net.nonce(4).await, 1);
}

/// crates/exits `EXITS_LEAF_ENCODING` (validator index, operator, kind, exit-by epoch): the
/// contract's leaf.
const EXITS_LEAF_ENCODING: [&str; 4] = ["uint64", "address", "uint8", "uint64"];

fn exit_leaf(validator: u64, operator: Address, kind: u8, exit_by: u64) -> Vec<Value> {
    vec![
        Value::uint(validator.into()),
        Value::Address(operator.0 .0),
        Value::uint(kind.into()),
        Value::uint(exit_by.into()),
    ]
}

/// Accepts exits report `number` with `values` (members 0, 1, 3 sign) and returns its tree.
async fn accept_exits(net: &Net, submitter: &Submitter, number: u64, values: Vec<Vec<Value>>) -> StandardMerkleTree {
    let tree = StandardMerkleTree::of(values, &EXITS_LEAF_ENCODING).unwrap();
    let id = ReportId::new(ReportKind::Exits, number);
    let hash = report_hash(format!("exits report {number} (test)\n").as_bytes());
    let cert = net.certificate(id, tree.root(), hash, &[0, 1, 3], &[0, 1, 3]);
    match submitter.submit(&cert).await.unwrap() {
        SubmitOutcome::Accepted { gas_used, .. } => {
            println!("exits report {number} ({} leaves) accepted: {gas_used} gas", tree.len());
        }
        other => panic!("{other:?}"),
    }
    tree
}

async fn publish(
    submitter: &Submitter,
    number: u64,
    tree: &StandardMerkleTree,
    i: usize,
) -> Result<PublishedExitTx, ChainError> {
    let leaf = ExitsLeaf::from_values(&tree.values()[i].value).unwrap();
    submitter.publish_exit(number, &leaf, &tree.proof(i).unwrap()).await
}

/// An exits round's chain side on a real anvil: the withdrawal queue stand-in deployed after
/// every other contract, its liquidity read at pinned blocks; the beacon indices; a
/// voluntary request read from its event; two exits reports accepted through the committee
/// path and their exits published once, only from the latest report, with the registry's
/// events and statuses.
#[tokio::test]
async fn exits_on_chain_liquidity_requests_reports_and_publication() {
    let net = Net::start_with(|c| {
        c.feed_stand_in = Some(FeedStandIn { decimals: 18, initial_answer: 4_500_000_000_000_000 });
        c.withdrawal_queue_stand_in = true;
    })
    .await;
    let (alpha, beta) = (net.keys[1].address(), net.keys[2].address());
    let addresses = net.deployment.addresses;
    // Every earlier contract where it was before; the queue at the next nonce.
    let without = predict_addresses(net.keys[0].address(), 0);
    assert_eq!((addresses.node_manager, addresses.ssv_price_feed), (without.node_manager, without.ssv_price_feed));
    assert_eq!(addresses.withdrawal_queue, net.keys[0].address().create(6));

    // Liquidity: users enqueue, governance (the owner, key 0) sets; pinned reads.
    let queue = WithdrawalQueueReader::new(net.rpc.clone(), addresses.withdrawal_queue);
    let deployed = net.block().await;
    let enqueued = net.registrar(6).request_withdrawal(200 * ETH).await.unwrap();
    let set = net.registrar(0).set_queue_liquidity(250 * ETH, 20 * ETH).await.unwrap();
    assert_eq!(queue.liquidity(deployed).await.unwrap(), Liquidity { unmet_demand_wei: 0, buffer_wei: 0 });
    assert_eq!(queue.liquidity(enqueued).await.unwrap(), Liquidity { unmet_demand_wei: 200 * ETH, buffer_wei: 0 });
    assert_eq!(queue.liquidity(set).await.unwrap(), Liquidity { unmet_demand_wei: 250 * ETH, buffer_wei: 20 * ETH });
    let err = queue.liquidity(0).await.unwrap_err();
    assert!(matches!(err, ChainError::NoCode { contract: "WithdrawalQueue", field: "withdrawal_queue", .. }), "{err}");
    match net.registrar(6).set_queue_liquidity(1, 1).await.unwrap_err() {
        ChainError::Rejected { error, .. } => assert_eq!(error.name, "OwnableUnauthorizedAccount"),
        other => panic!("{other:?}"),
    }

    // Two direct validators; the protocol records their beacon indices 100 and 101.
    register_operator(&net, 1, "alpha", &[NodeType::Direct], 4 * ETH).await;
    register_operator(&net, 2, "beta", &[NodeType::Direct], 4 * ETH).await;
    add_validator(&net, [0xa1; 48], &[1]).await;
    add_validator(&net, [0xb2; 48], &[2]).await;
    let events = ExitEventsReader::new(net.rpc.clone(), net.registry());
    let unindexed = net.block().await;
    net.registrar(0).set_beacon_indices(&[(1, 100), (2, 101)]).await.unwrap();
    assert_eq!(events.beacon_index(1, unindexed).await.unwrap(), None);
    assert_eq!(events.beacon_index(1, net.block().await).await.unwrap(), Some(100));
    assert_eq!(events.beacon_index(2, net.block().await).await.unwrap(), Some(101));

    // Beta asks to exit its validator, fast-tracked: the event is what the selection needs.
    let asked = net.registrar(2).request_voluntary_exit(&[0xb2; 48], true).await.unwrap();
    let requests = events.voluntary_requests(net.deployment.node_manager_block, net.block().await).await.unwrap();
    assert_eq!(requests.len(), 1);
    let r = requests[0];
    assert_eq!((r.validator_id, r.operator, r.fast_track, r.block), (2, beta, true, asked));
    assert_eq!(r.pubkey_hash, claystack_execution::alloy::primitives::keccak256([0xb2; 48]));

    // Exits report 1: alpha's validator requested, beta's voluntary slot.
    let epoch = OperatorRegistry::new(net.registry(), net.rpc.provider()).currentEpoch().call().await.unwrap();
    let submitter = net.submitter(4, TxConfig::default());
    let one = accept_exits(
        &net,
        &submitter,
        1,
        vec![exit_leaf(100, alpha, 0, epoch + 50), exit_leaf(101, beta, 1, epoch + 20)],
    )
    .await;
    // `proof(i)` is for the i-th value given: 0 is validator 100's exit, 1 validator 101's.
    let published = publish(&submitter, 1, &one, 0).await.unwrap();
    println!("publishExit (requested): {} gas", published.gas_used);
    let e = published.exit;
    assert_eq!(
        (e.validator_id, e.validator_index, e.operator, e.kind, e.exit_by_epoch, e.report_number),
        (1, 100, alpha, 0, epoch + 50, 1)
    );
    // Once only: refused by name, nothing sent.
    let nonce = net.nonce(4).await;
    match publish(&submitter, 1, &one, 0).await.unwrap_err() {
        ChainError::Rejected { error, .. } => {
            assert_eq!(error.to_string(), "ExitAlreadyPublished(validatorIndex: 100, publishedIn: 1)")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(net.nonce(4).await, nonce, "a refused exit is not sent");

    // Exits report 2 gives beta's request another slot; report 1's slot can no longer be
    // published, report 2's can.
    let two = accept_exits(&net, &submitter, 2, vec![exit_leaf(101, beta, 1, epoch + 30)]).await;
    match publish(&submitter, 1, &one, 1).await.unwrap_err() {
        ChainError::Rejected { error, .. } => {
            assert_eq!(error.to_string(), "NotLatestExitsReport(number: 1, latest: 2)")
        }
        other => panic!("{other:?}"),
    }
    let published = publish(&submitter, 2, &two, 0).await.unwrap();
    println!("publishExit (voluntary): {} gas", published.gas_used);

    let all = events.published_exits(net.deployment.node_manager_block, net.block().await).await.unwrap();
    let seen: Vec<_> = all.iter().map(|e| (e.validator_index, e.kind, e.exit_by_epoch, e.report_number)).collect();
    assert_eq!(seen, vec![(100, 0, epoch + 50, 1), (101, 1, epoch + 30, 2)]);
    let snap = RegistryReader::new(net.rpc.clone(), net.registry()).snapshot(net.block().await).await.unwrap();
    let statuses: Vec<_> = snap.validators.iter().map(|v| (v.status, v.exit_epoch)).collect();
    assert_eq!(
        statuses,
        vec![(ValidatorStatus::ExitRequested, epoch + 50), (ValidatorStatus::VoluntaryExitRequested, epoch + 30)]
    );
}

/// Governance replaces member 1 and raises the threshold to 4 from rewards report 3 (exits
/// round 2): reads before the change, pinned at an older block, and after it; reports 1-2 are
/// verified against genesis' committee, report 3 against the new one (the removed member's
/// signature refused, the new member's counted); scheduling is the owner's, and only ahead.
#[tokio::test]
async fn committee_change_is_scheduled_read_and_followed_by_submit_report() {
    use claystack_execution::{schedule_committee_change, CommitteeChange, NewMember};
    let net = Net::start().await;
    let owner = Transactor::new(net.rpc.clone(), net.keys[0].clone(), TxConfig::default());
    let submitter = net.submitter(3, TxConfig::default());
    let reader = submitter.reader().clone();
    let rewards = |n| ReportId { kind: ReportKind::Rewards, number: n };
    let new_secret = [0x5e; 32];
    let new_member = SecretKeySigner::from_bytes(&new_secret).unwrap();
    let sk = claystack_genesis::bls::secret_key(&new_secret).unwrap();
    let change = CommitteeChange {
        from_rewards: 3,
        from_exits: 2,
        threshold: 4,
        replace: Some(NewMember {
            member: 1,
            bls_pubkey: new_member.public_key(),
            pop: claystack_genesis::bls::pop_sign(&sk),
            peer_id: "12D3KooWNewMemberPeerId".into(),
        }),
    };

    let c = net.certificate(rewards(1), [1; 32], [2; 32], &[0, 1, 2], &[0, 1, 2]);
    assert!(matches!(submitter.submit(&c).await.unwrap(), SubmitOutcome::Accepted { .. }));
    let before = net.block().await;

    // Not the owner; and report 2 (the next) may already be signed: 3 is the earliest.
    let stranger = Transactor::new(net.rpc.clone(), net.keys[1].clone(), TxConfig::default());
    match schedule_committee_change(&stranger, net.node_manager(), &change).await.unwrap_err() {
        ChainError::Rejected { error, .. } => assert_eq!(error.name, "OwnableUnauthorizedAccount"),
        e => panic!("expected OwnableUnauthorizedAccount, got {e}"),
    }
    let early = CommitteeChange { from_rewards: 2, ..change.clone() };
    match schedule_committee_change(&owner, net.node_manager(), &early).await.unwrap_err() {
        ChainError::Rejected { error, .. } => assert_eq!(error.name, "ChangeTooEarly", "{error}"),
        e => panic!("expected ChangeTooEarly, got {e}"),
    }
    let mut bad_pop = change.clone();
    bad_pop.replace.as_mut().unwrap().pop =
        claystack_genesis::bls::pop_sign(&claystack_genesis::bls::secret_key(&[0x6f; 32]).unwrap());
    match schedule_committee_change(&owner, net.node_manager(), &bad_pop).await.unwrap_err() {
        ChainError::Rejected { error, .. } => assert_eq!(error.name, "InvalidProofOfPossession", "{error}"),
        e => panic!("expected InvalidProofOfPossession, got {e}"),
    }

    let scheduled = schedule_committee_change(&owner, net.node_manager(), &change).await.unwrap();
    assert_eq!((scheduled.version, scheduled.from_rewards, scheduled.from_exits, scheduled.threshold), (1, 3, 2, 4));
    assert_eq!(scheduled.replaced, Some((1, new_member.public_key(), "12D3KooWNewMemberPeerId".to_string())));
    assert_eq!(reader.committee_changes(before, net.block().await).await.unwrap(), vec![scheduled]);

    let genesis_keys = net.roster().public_keys().to_vec();
    let v0 = reader.committee_for(rewards(2)).await.unwrap();
    assert_eq!((v0.version, v0.threshold, &v0.public_keys), (0, 3, &genesis_keys));
    let v1 = reader.committee_for(rewards(3)).await.unwrap();
    let mut new_keys = genesis_keys.clone();
    new_keys[1] = new_member.public_key();
    assert_eq!((v1.version, v1.threshold, &v1.public_keys), (1, 4, &new_keys));
    assert_eq!(reader.committee_for(ReportId { kind: ReportKind::Exits, number: 1 }).await.unwrap().version, 0);
    assert_eq!(reader.committee_for(ReportId { kind: ReportKind::Exits, number: 2 }).await.unwrap().version, 1);
    // Pinned before the change, report 3 still had genesis' committee.
    assert_eq!(reader.at(before).committee_for(rewards(3)).await.unwrap().version, 0);
    let schedule = reader.committee_schedule(&net.roster()).await.unwrap();
    assert_eq!(schedule.versions().len(), 2);
    assert_eq!(schedule.member_for(rewards(3), &new_member.public_key()), Some(1));
    assert_eq!(schedule.member_for(rewards(2), &new_member.public_key()), None);
    assert_eq!(schedule.for_report(rewards(3)).roster.threshold(), 4);

    // Report 2: genesis' committee, the soon-removed member 1 still counts.
    let c = net.certificate(rewards(2), [3; 32], [4; 32], &[0, 1, 2], &[0, 1, 2]);
    assert!(matches!(submitter.submit(&c).await.unwrap(), SubmitOutcome::Accepted { .. }));
    // Report 3: the removed member's signature is refused, three signers are not enough,
    // and the new member's signature counts.
    let c = net.certificate(rewards(3), [5; 32], [6; 32], &[0, 1, 2, 3], &[0, 1, 2, 3]);
    match submitter.submit(&c).await.unwrap() {
        SubmitOutcome::Rejected { error, tx: None } => assert_eq!(error.name, "InvalidSignature", "{error}"),
        other => panic!("expected InvalidSignature, got {other:?}"),
    }
    let c = net.certificate(rewards(3), [5; 32], [6; 32], &[0, 2, 3], &[0, 2, 3]);
    match submitter.submit(&c).await.unwrap() {
        SubmitOutcome::Rejected { error, tx: None } => assert_eq!(error.name, "NotEnoughSigners", "{error}"),
        other => panic!("expected NotEnoughSigners, got {other:?}"),
    }
    let mut c = net.certificate(rewards(3), [5; 32], [6; 32], &[0, 1, 2, 3], &[0, 2, 3]);
    let new_sig = parse_signature(&new_member.sign(c.signing_root.as_bytes())).unwrap();
    let rest = parse_signature(&c.signature).unwrap();
    c.signature = aggregate_signatures(&[rest, new_sig]).unwrap().to_bytes();
    assert!(matches!(submitter.submit(&c).await.unwrap(), SubmitOutcome::Accepted { .. }));
}

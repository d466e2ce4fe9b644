//! `MeasuredInputs` against a real anvil (the contracts deployed, operators registered through
//! `Registrar`) and the beacon simulator over HTTP, with the frame accounted by the real
//! follower into RocksDB: every input is read at the frame's reference points. The registry
//! waits while the chain is behind the reference block, maps pubkeys to beacon indices at the
//! frame's last slot and ignores everything registered after it; the consensus rewards and
//! facts come from the beacon chain; the execution fees are what the vault received (fees moved
//! out of it do not count against them); the prices and adjustments come from the governance
//! contract and the feed, and a stale feed makes the node wait.

use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_beacon_sim::{serve, BeaconModel, Scenario};
use claystack_execution::alloy::primitives::{Address, U256};
use claystack_execution::alloy::providers::Provider;
use claystack_execution::{
    predict_addresses, DeployConfig, Deployer, FeedStandIn, NodeType, Registrar, Rpc, Transactor, TxConfig,
};
use claystack_frame_close::{InputsSource, InputsStatus, MeasuredInputs, ReferenceReader};
use claystack_genesis::generate_local;
use claystack_rewards::{Adjustment, SsvPrice};
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig};
use claystack_testkit::Anvil;
use std::sync::Arc;
use std::time::Duration;

/// Frame 1 is epochs 0..=3; its reference slot and block are 30 (see the file).
const SCENARIO: &str = include_str!("data/chain.toml");
const ETH: u64 = 1_000_000_000_000_000_000;

async fn anvil_call(rpc: &Rpc, method: &str, params: serde_json::Value) {
    rpc.provider().raw_request::<_, serde_json::Value>(method.to_string().into(), params).await.unwrap();
}

#[tokio::test]
async fn every_input_is_read_at_the_reference_points() {
    let chain = Arc::new(BeaconModel::new(Scenario::from_toml(SCENARIO).unwrap()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(chain.clone(), listener));
    let beacon = BeaconClient::new(&[url], ClientConfig::default()).unwrap();
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(data.path()).unwrap());
    let sync = SyncConfig {
        tracked: (0..64).collect(),
        until_epoch: Some(3),
        poll_interval: Duration::from_millis(20),
        ..SyncConfig::default()
    };
    Follower::new(beacon.clone(), store.clone(), sync).await.unwrap().run().await.unwrap();

    let anvil = Anvil::start().unwrap();
    let rpc = Rpc::connect(&anvil.endpoint(), anvil.chain_id()).await.unwrap();
    let keys = anvil.dev_keys().unwrap();
    let tx = |k: usize| {
        Transactor::new(
            rpc.clone(),
            keys[k].clone(),
            TxConfig { poll_interval: Duration::from_millis(20), ..TxConfig::default() },
        )
    };
    let (mut genesis, _) = generate_local(4, 3, [9; 32], anvil.chain_id());
    genesis.ssv_price_source.max_age_secs = 3600;
    let addresses = predict_addresses(keys[0].address(), 0);
    addresses.apply_to(&mut genesis);
    let mut config = DeployConfig::for_genesis(&genesis, 0, 48).unwrap();
    config.feed_stand_in = Some(FeedStandIn { decimals: 8, initial_answer: 450_000 }); // 0.0045 ETH
    config.agreed_wei_per_ssv = Some(5_000_000_000_000_000);
    Deployer::new(tx(0)).deploy(&genesis, &config).await.unwrap();
    // The vault is the fee recipient from here on: every transaction's priority fee lands in it.
    anvil_call(&rpc, "anvil_setCoinbase", serde_json::json!([addresses.rewards_vault])).await;
    let operator = Registrar::new(tx(1), &addresses);
    operator.register_operator("alpha", "{}").await.unwrap();
    // Two direct nodes need their genesis bond (4 ETH each) before they are added.
    operator.bond_with_eth(U256::from(8 * 10u64.pow(18))).await.unwrap();
    let a = operator.add_node(NodeType::Direct, "a").await.unwrap();
    let b = operator.add_node(NodeType::Direct, "b").await.unwrap();
    let owner = Registrar::new(tx(0), &addresses);
    owner.add_validator(&chain.pubkey(5), &[a]).await.unwrap();
    owner.add_validator(&chain.pubkey(9), &[b]).await.unwrap();
    owner.add_validator(&[0x77; 48], &[b]).await.unwrap(); // never deposited: no beacon index
    owner.transfer(addresses.rewards_vault, U256::from(ETH)).await.unwrap(); // a block builder's payment
    let moved_out = U256::from(ETH / 4);
    owner.vault_withdraw(Address::repeat_byte(0x42), moved_out).await.unwrap();
    owner.enter_adjustment(1, a, -1000, "double payment in an earlier report").await.unwrap();
    owner.enter_adjustment(2, b, 5, "another report's").await.unwrap();

    let reader = ReferenceReader::new(beacon.clone(), rpc.clone(), &genesis);
    let frame = (0, 3);
    assert_eq!(reader.reference(1, frame).await.unwrap(), (30, 30));
    assert_eq!(reader.start_block(1, frame).await.unwrap(), 0, "the first frame starts the chain");
    let inputs = MeasuredInputs::new(reader, store.clone());

    // The chain is behind the reference block: waiting.
    let latest = rpc.block_number().await.unwrap();
    assert!(latest < 30, "registration took {latest} blocks");
    let InputsStatus::Waiting(reason) = inputs.frame_inputs(1, frame).await.unwrap() else {
        panic!("read ahead of the chain")
    };
    assert!(reason.contains(&format!("at block {latest}")) && reason.contains("block 30"), "{reason}");

    // Two hours pass before the reference block: the feed's round is older than genesis allows.
    anvil_call(&rpc, "evm_increaseTime", serde_json::json!([7200])).await;
    anvil_call(&rpc, "anvil_mine", serde_json::json!([format!("{:#x}", 31 - latest)])).await;
    // Past the reference block, a later delegation, adjustment or payment must not count.
    owner.add_validator(&chain.pubkey(11), &[a]).await.unwrap();
    owner.enter_adjustment(1, b, 7, "too late for report 1").await.unwrap();
    owner.transfer(addresses.rewards_vault, U256::from(ETH)).await.unwrap();
    assert!(rpc.block_number().await.unwrap() > 30);
    let InputsStatus::Waiting(reason) = inputs.frame_inputs(1, frame).await.unwrap() else {
        panic!("signed with a stale price")
    };
    assert!(
        reason.contains("max_age_secs 3600")
            && reason.contains("not signing a guessed price")
            && !reason.contains('\n'),
        "{reason}"
    );

    // The same chain under a genesis that allows a day-old round.
    genesis.ssv_price_source.max_age_secs = 86_400;
    let inputs = MeasuredInputs::new(ReferenceReader::new(beacon, rpc.clone(), &genesis), store);
    let InputsStatus::Ready(file) = inputs.frame_inputs(1, frame).await.unwrap() else { panic!("not ready") };
    let validators: Vec<(u64, Vec<u64>)> =
        file.registry.validators.iter().map(|v| (v.index, v.nodes.clone())).collect();
    assert_eq!(validators, vec![(5, vec![a]), (9, vec![b])]);
    assert_eq!(file.registry.nodes.iter().map(|n| n.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(file.registry.operators.len(), 1);
    assert_eq!(file.registry.operators[0].address.0, keys[1].address().0 .0);
    let truth = chain.consensus_rewards(&[5, 9], 0, 31);
    assert_eq!(file.source.validator_rewards_wei, truth * 1_000_000_000);

    // Execution fees: what the vault received up to block 30, with what was moved out added back.
    let held = rpc.provider().get_balance(addresses.rewards_vault).block_id(30.into()).await.unwrap();
    assert_eq!(U256::from(file.source.execution_fees_wei), held + moved_out);
    assert!(file.source.execution_fees_wei > u128::from(ETH), "the builder's 1 ETH and the priority fees");
    let readings = file.chain.as_ref().unwrap();
    assert_eq!((readings.start_block, readings.end_block, readings.vault_received_start_wei), (0, 30, 0));
    assert_eq!((readings.feed.answer, readings.feed.decimals, readings.agreed_price_from_report), (450_000, 8, 1));
    // Prices: agreed from governance's history, observed from the feed scaled to wei.
    assert_eq!(
        file.ssv_price,
        SsvPrice { agreed_wei_per_ssv: 5_000_000_000_000_000, observed_wei_per_ssv: 4_500_000_000_000_000 }
    );
    // Adjustments: report 1's, as entered by its reference block.
    assert_eq!(
        file.adjustments,
        vec![Adjustment { node: a, amount_wei: -1000, reason: "double payment in an earlier report".into() }]
    );
}

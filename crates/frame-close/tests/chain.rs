//! `MeasuredInputs` against a real anvil (the contracts deployed, operators registered through
//! `Registrar`) and the beacon simulator over HTTP, with the frame accounted by the real
//! follower into RocksDB: the registry is read at the frame's reference block, waits while the
//! chain is behind it, maps pubkeys to beacon indices at the frame's last slot, and ignores
//! everything registered after it; the consensus rewards and facts come from the beacon chain.

use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_beacon_sim::{serve, BeaconModel, Scenario};
use claystack_execution::alloy::primitives::U256;
use claystack_execution::alloy::providers::Provider;
use claystack_execution::{
    predict_addresses, DeployConfig, Deployer, NodeType, Registrar, RegistryReader, Rpc, Transactor, TxConfig,
};
use claystack_frame_close::{InputFiles, InputsSource, InputsStatus, MeasuredInputs, ReferenceReader};
use claystack_genesis::generate_local;
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig};
use claystack_testkit::Anvil;
use std::sync::Arc;
use std::time::Duration;

/// Frame 1 is epochs 0..=3; its reference slot and block are 30 (see the file).
const SCENARIO: &str = include_str!("data/chain.toml");

const FRAMES: &str = r#"{
  "source": { "validator_rewards_wei": "0", "execution_fees_wei": "0" },
  "ssv_price": { "agreed_wei_per_ssv": "1", "observed_wei_per_ssv": "1" }
}"#;

#[tokio::test]
async fn registry_is_read_at_the_reference_block() {
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
    let addresses = predict_addresses(keys[0].address(), 0);
    addresses.apply_to(&mut genesis);
    Deployer::new(tx(0)).deploy(&genesis, &DeployConfig::for_genesis(&genesis, 0, 48).unwrap()).await.unwrap();
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

    let dir = tempfile::tempdir().unwrap();
    let reader = ReferenceReader::new(beacon, RegistryReader::new(rpc.clone(), addresses.operator_registry));
    let frame = (0, 3);
    assert_eq!(reader.reference(1, frame).await.unwrap(), (30, 30));
    let inputs = MeasuredInputs::new(InputFiles::new(dir.path()), reader, store);

    // No file yet: waiting for it. Then the chain is behind the reference block: waiting.
    let InputsStatus::Waiting(reason) = inputs.frame_inputs(1, frame).await.unwrap() else {
        panic!("ready without a file")
    };
    assert!(reason.contains("frames.json"), "{reason}");
    std::fs::write(dir.path().join("frames.json"), FRAMES).unwrap();
    let latest = rpc.block_number().await.unwrap();
    assert!(latest < 30, "registration took {latest} blocks");
    let InputsStatus::Waiting(reason) = inputs.frame_inputs(1, frame).await.unwrap() else {
        panic!("read ahead of the chain")
    };
    assert!(reason.contains(&format!("at block {latest}")) && reason.contains("block 30"), "{reason}");

    // Past the reference block, a later delegation must not count.
    let blocks = format!("{:#x}", 31 - latest);
    rpc.provider().raw_request::<_, serde_json::Value>("anvil_mine".into(), (blocks,)).await.unwrap();
    owner.add_validator(&chain.pubkey(11), &[a]).await.unwrap();
    assert!(rpc.block_number().await.unwrap() > 30);
    let InputsStatus::Ready(file) = inputs.frame_inputs(1, frame).await.unwrap() else { panic!("not ready") };
    let validators: Vec<(u64, Vec<u64>)> =
        file.registry.validators.iter().map(|v| (v.index, v.nodes.clone())).collect();
    assert_eq!(validators, vec![(5, vec![a]), (9, vec![b])]);
    assert_eq!(file.registry.nodes.iter().map(|n| n.id).collect::<Vec<_>>(), vec![a, b]);
    assert_eq!(file.registry.operators.len(), 1);
    assert_eq!(file.registry.operators[0].address.0, keys[1].address().0 .0);
    let truth = chain.consensus_rewards(&[5, 9], 0, 31);
    assert_eq!(file.source.validator_rewards_wei, truth * 1_000_000_000);

    // A file that also gives what is measured is refused: two sources for one thing.
    for (field, value) in [
        ("registry", serde_json::to_value(&file.registry).unwrap()),
        ("facts", serde_json::json!({ "forced_exits": [{ "validator": 5, "epoch": 1 }] })),
        ("source", serde_json::json!({ "validator_rewards_wei": "1", "execution_fees_wei": "0" })),
    ] {
        let mut given: serde_json::Value = serde_json::from_str(FRAMES).unwrap();
        given[field] = value;
        std::fs::write(dir.path().join("frames.json"), serde_json::to_vec(&given).unwrap()).unwrap();
        let err = inputs.frame_inputs(1, frame).await.unwrap_err().to_string();
        assert!(err.contains("remove them from the file") && err.contains(field), "{field}: {err}");
    }
}

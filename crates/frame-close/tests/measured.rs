//! Measured frames against the beacon simulator's ground truth, over 22 consecutive frames:
//! the real follower accounts the chain into RocksDB, the registry is read on a real anvil at
//! each frame's reference block, and every frame's consensus-layer rewards must equal the
//! simulator's truth to the gwei through top-ups, partial and full withdrawals, a slashing
//! with its correlation penalty and an inactivity leak. The slashing is charged exactly once.

use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_beacon_sim::{serve, BeaconModel, Scenario};
use claystack_execution::alloy::primitives::U256;
use claystack_execution::alloy::providers::Provider;
use claystack_execution::{
    predict_addresses, DeployConfig, Deployer, FeedStandIn, NodeType, Registrar, Rpc, Transactor, TxConfig,
};
use claystack_frame_close::{frame_flows, ReferenceReader};
use claystack_genesis::generate_local;
use claystack_primitives::BeaconSpec;
use claystack_report::frame_of;
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig};
use claystack_testkit::Anvil;
use std::sync::Arc;
use std::time::Duration;

const SCENARIO: &str = include_str!("data/money.toml");
/// The protocol's validators: an offline trio in the leak (3-5), the slashed one (9), a topped-up
/// one (20), one that misses (30), a late one (44) and two that attest well (50, 51).
const PROTOCOL: [u64; 9] = [3, 4, 5, 9, 20, 30, 44, 50, 51];
const FRAMES: u64 = 22; // 4 epochs each: epochs 0..=87

#[tokio::test]
async fn every_frame_measures_the_simulators_truth_and_charges_the_slashing_once() {
    let chain = Arc::new(BeaconModel::new(Scenario::from_toml(SCENARIO).unwrap()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve(chain.clone(), listener));
    let beacon = BeaconClient::new(&[url], ClientConfig::default()).unwrap();
    let spec = BeaconSpec::minimal();
    let data = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(data.path()).unwrap());
    let sync = SyncConfig {
        tracked: (0..64).collect(),
        until_epoch: Some(FRAMES * 4 - 1),
        poll_interval: Duration::from_millis(20),
        ..SyncConfig::default()
    };
    let follower = Follower::new(beacon.clone(), store.clone(), sync).await.unwrap();
    tokio::time::timeout(Duration::from_secs(300), follower.run())
        .await
        .expect("accounting 88 epochs of a local simulator never takes minutes: is the scenario's head far enough?")
        .unwrap();

    // The registry: one operator, a direct node per protocol validator.
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
    assert_eq!(genesis.economics.frame_epochs, 4);
    let addresses = predict_addresses(keys[0].address(), 0);
    addresses.apply_to(&mut genesis);
    let mut config = DeployConfig::for_genesis(&genesis, 0, 48).unwrap();
    config.feed_stand_in = Some(FeedStandIn { decimals: 18, initial_answer: 4_500_000_000_000_000 });
    config.agreed_wei_per_ssv = Some(5_000_000_000_000_000);
    Deployer::new(tx(0)).deploy(&genesis, &config).await.unwrap();
    let operator = Registrar::new(tx(1), &addresses);
    operator.register_operator("alpha", "{}").await.unwrap();
    operator.bond_with_eth(U256::from(4 * PROTOCOL.len() as u64) * U256::from(10u64.pow(18))).await.unwrap();
    let owner = Registrar::new(tx(0), &addresses);
    for v in PROTOCOL {
        let node = operator.add_node(NodeType::Direct, &format!("n{v}")).await.unwrap();
        owner.add_validator(&chain.pubkey(v), &[node]).await.unwrap();
    }
    let registered_at = rpc.block_number().await.unwrap();
    let reader = ReferenceReader::new(beacon, rpc.clone(), &genesis);
    assert!(
        registered_at < reader.reference(1, (0, 3)).await.unwrap().1,
        "registration must end before report 1's reference block"
    );
    let last_reference =
        reader.reference(FRAMES, frame_of(&genesis.economics, genesis.first_epoch, FRAMES).unwrap()).await.unwrap().1;
    let blocks = format!("{:#x}", last_reference + 1 - registered_at);
    rpc.provider().raw_request::<_, serde_json::Value>("anvil_mine".into(), (blocks,)).await.unwrap();

    let (mut total_withdrawn, mut total_deposited, mut slashings, mut negative_frames) = (0u64, 0u64, Vec::new(), 0);
    for number in 1..=FRAMES {
        let frame = frame_of(&genesis.economics, genesis.first_epoch, number).unwrap();
        let flows = frame_flows(&store, number, frame).unwrap();
        let measured =
            reader.read(number, frame, &flows).await.unwrap().expect("the chain is past every reference block");
        let after = if frame.0 == 0 { 0 } else { spec.last_slot(frame.0 - 1) };
        let truth = chain.consensus_rewards(&PROTOCOL, after, spec.last_slot(frame.1));
        assert_eq!(measured.rewards.total_gwei, truth, "report {number}, epochs {}..={}", frame.0, frame.1);
        assert_eq!(measured.registry.validators.len(), PROTOCOL.len());
        total_withdrawn += measured.rewards.validators.iter().map(|v| v.withdrawn_gwei).sum::<u64>();
        total_deposited += measured.rewards.validators.iter().map(|v| v.deposited_gwei).sum::<u64>();
        negative_frames += usize::from(truth < 0);
        for s in &measured.facts.slashings {
            slashings.push((number, s.validator, s.epoch));
        }
        if number == 1 {
            assert!(measured.facts.forced_exits.is_empty());
        }
    }
    // Validator 9, slashed at epoch 10: charged once, in the frame of its withdrawable epoch (79).
    let withdrawable = chain.validator_at(9, spec.last_slot(80)).withdrawable_epoch;
    assert_eq!(slashings, vec![((withdrawable / 4) + 1, 9, withdrawable)]);
    // The frames covered what the test is for: the leak's negative frame, the top-up, the sweep.
    assert!(negative_frames >= 1, "the leak made no frame negative");
    assert_eq!(total_deposited, 1_000_000_000, "validator 20's 1 ETH top-up");
    assert!(
        total_withdrawn > 32_000_000_000,
        "partial withdrawals and validator 9's full withdrawal: {total_withdrawn}"
    );
}

//! What reading the OperatorRegistry at a reference block costs, per contract call.
//!
//! `RegistryReader::snapshot` makes one `eth_call` per operator for `getOperator`, `bondOf`,
//! `bondValueOf` and `bondRequirementOf`, two per node (`getNode`, `nodeLocation`) and one per
//! validator. At mainnet shape (2,000 operators, 3,500 nodes, 10,000 validators) that is
//! 25,000 calls; registering that many on
//! anvil takes longer than this bench should, so it registers `REGISTRY_OPERATORS` operators
//! (default 50; nodes and validators in the proportions of `benches/frame_close.rs`), reads the
//! snapshot `REGISTRY_READS` times (default 5) and prints the time per call, for
//! docs/benchmarks.md to scale up. Real anvil (`claystack-testkit`), real contracts, the
//! node's own reader.
//!
//! `cargo bench -p claystack-oracle --bench registry_read`; under `cargo test` it runs once
//! with 16 operators (the fewest with four Obol nodes for a cluster).

use claystack_execution::alloy::primitives::{B256, U256};
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_execution::{
    predict_addresses, DeployConfig, Deployer, NodeType, Registrar, RegistryReader, Rpc, Transactor, TxConfig,
};
use claystack_genesis::generate_local;
use claystack_testkit::Anvil;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap())
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let operators = if measuring { env("REGISTRY_OPERATORS", 50) } else { 16 };
    let reads = if measuring { env("REGISTRY_READS", 5) } else { 1 };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(run(operators, reads));
}

async fn run(operators: u64, reads: u64) {
    let anvil = Anvil::start().unwrap();
    let rpc = Rpc::connect(&anvil.endpoint(), anvil.chain_id()).await.unwrap();
    let keys = anvil.dev_keys().unwrap();
    let config = TxConfig { poll_interval: Duration::from_millis(2), ..TxConfig::default() };
    let tx = |key: PrivateKeySigner| Transactor::new(rpc.clone(), key, config.clone());
    let (mut genesis, _) = generate_local(4, 3, [9; 32], anvil.chain_id());
    let addresses = predict_addresses(keys[0].address(), 0);
    addresses.apply_to(&mut genesis);
    Deployer::new(tx(keys[0].clone()))
        .deploy(&genesis, &DeployConfig::for_genesis(&genesis, 0, 384).unwrap())
        .await
        .unwrap();
    let owner = Registrar::new(tx(keys[0].clone()), &addresses);

    let setup = Instant::now();
    let mut by_type: Vec<(NodeType, Vec<u64>)> =
        vec![(NodeType::Ssv, Vec::new()), (NodeType::Obol, Vec::new()), (NodeType::Direct, Vec::new())];
    let mut nodes = 0u64;
    for operator in 1..=operators {
        let key = PrivateKeySigner::from_bytes(&B256::left_padding_from(&(1_000 + operator).to_be_bytes())).unwrap();
        owner.transfer(key.address(), U256::from(10u64) * U256::from(10u64.pow(18))).await.unwrap();
        let registrar = Registrar::new(tx(key), &addresses);
        registrar.register_operator(&format!("operator-{operator}"), "{}").await.unwrap();
        registrar.bond_with_eth(U256::from(8u64) * U256::from(10u64.pow(18))).await.unwrap();
        let mut kinds = vec![0usize];
        if operator % 4 == 0 {
            kinds.push(1);
        }
        if operator % 2 == 1 {
            kinds.push(2);
        }
        for k in kinds {
            let id = registrar.add_node(by_type[k].0, "").await.unwrap();
            by_type[k].1.push(id);
            nodes += 1;
        }
    }
    let validators = operators * 5;
    for i in 0..validators {
        let (k, size) = match i % 4 {
            0 | 1 => (0, 5),
            2 => (1, 4),
            _ => (2, 1),
        };
        let pool = &by_type[k].1;
        let mut cluster: Vec<u64> = (0..size).map(|j| pool[((i * 31 + j * 97) % pool.len() as u64) as usize]).collect();
        cluster.sort_unstable();
        cluster.dedup();
        let mut pubkey = [0u8; 48];
        pubkey[..8].copy_from_slice(&(i + 1).to_be_bytes());
        owner.add_validator(&pubkey, &cluster).await.unwrap();
    }
    let block = rpc.block_number().await.unwrap();
    eprintln!(
        "registered {operators} operators, {nodes} nodes, {validators} validators in {:.1} s (block {block})",
        setup.elapsed().as_secs_f64()
    );

    let reader = RegistryReader::new(rpc.clone(), addresses.operator_registry);
    let calls = operators * 4 + nodes * 2 + validators + 3;
    for read in 1..=reads {
        let started = Instant::now();
        let snapshot = reader.snapshot(block).await.unwrap();
        let took = started.elapsed();
        assert_eq!(snapshot.validators.len() as u64, validators);
        assert_eq!(snapshot.nodes.len() as u64, nodes);
        println!(
            "registry_read {read}: {operators} operators, {nodes} nodes, {validators} validators, {calls} calls: \
             {:.1} ms, {:.1} us a call",
            took.as_secs_f64() * 1e3,
            took.as_secs_f64() * 1e6 / calls as f64
        );
    }
}

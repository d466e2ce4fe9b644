//! `claystack-oracle sim beacon`: the simulated beacon node.

use crate::cli::SimBeaconArgs;
use anyhow::Context;
use claystack_beacon_sim::{serve, BeaconModel, Scenario};
use std::sync::Arc;
use tracing::info;

pub async fn beacon(args: SimBeaconArgs) -> anyhow::Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let chain = BeaconModel::new(scenario)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} — is the port in use?", args.listen))?;
    if let Some(path) = &args.truth {
        let head_epoch = chain.initial_head_slot() / chain.spec().slots_per_epoch;
        let through = args.truth_through.unwrap_or(head_epoch.saturating_sub(1));
        let truth = chain.truth(through);
        // Whole or not at all: tests wait for the file to appear, then read it.
        claystack_fs_util::write_atomic(path, &serde_json::to_vec(&truth)?)?;
        info!(path = %path.display(), through, "ground truth written");
    }
    info!(addr = %args.listen, validators = chain.validator_count(), "beacon simulator serving the standard Beacon API");
    serve(Arc::new(chain), listener).await.context("simulator server failed")
}

//! `claystack-oracle run`: follow finality and keep the tallies.

use crate::cli::RunArgs;
use crate::config::NodeConfig;
use anyhow::Context;
use claystack_beacon::{BeaconClient, ClientConfig};
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig};
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
    let follower = Follower::new(client, store, sync).await?;
    info!(tracked = cfg.tracked.len(), data_dir = %cfg.data_dir.display(), slots_per_epoch = follower.spec().slots_per_epoch, "oracle node started");
    tokio::select! {
        r = follower.run() => r?,
        _ = tokio::signal::ctrl_c() => info!("interrupted; stored state is consistent, restart to resume"),
    }
    Ok(())
}

//! The follower against the beacon simulator over real HTTP.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use claystack_beacon::{BeaconClient, BeaconError, ClientConfig};
use claystack_beacon_sim::{router, BeaconModel, Scenario};
use claystack_store::Store;
use claystack_sync::{Follower, SyncConfig, SyncError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The simulator, except that it refuses every attester duties request as a bad request.
async fn refuse_duties(req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/eth/v1/validator/duties/attester/") {
        return (StatusCode::BAD_REQUEST, r#"{"code":400,"message":"refused by the test"}"#).into_response();
    }
    next.run(req).await
}

#[tokio::test]
async fn a_refused_request_ends_the_follower_at_once_instead_of_after_every_round() {
    let scenario = Scenario::from_toml("seed = 1\nvalidators = 64\ntracked = [\"0-7\"]\nhead_epoch = 6\n").unwrap();
    let app = router(Arc::new(BeaconModel::new(scenario).unwrap())).layer(middleware::from_fn(refuse_duties));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    let client = BeaconClient::new(
        &[url],
        ClientConfig { retries: 1, backoff: Duration::from_millis(10), ..Default::default() },
    )
    .unwrap();
    let cfg = SyncConfig {
        tracked: (0..8).collect(),
        until_epoch: Some(3),
        poll_interval: Duration::from_millis(50),
        max_failed_rounds: 8,
        ..Default::default()
    };
    let follower = Follower::new(client, store.clone(), cfg).await.unwrap();

    let started = Instant::now();
    let err = follower.run().await.unwrap_err();
    // Before the classifier, the round was retried 8 times (some 6 s) and ended in GaveUp.
    assert!(matches!(err, SyncError::Beacon(BeaconError::Status { status: 400, .. })), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(store.accounting_cursor().unwrap().is_none(), "nothing accounted");
}

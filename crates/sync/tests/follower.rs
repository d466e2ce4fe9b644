//! The follower against the beacon simulator over real HTTP.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use claystack_beacon::{BeaconClient, BeaconError, ClientConfig};
use claystack_beacon_sim::{router, BeaconModel, Scenario};
use claystack_store::Store;
use claystack_sync::{Follower, FollowerStatus, SyncConfig, SyncError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
        ..Default::default()
    };
    let follower = Follower::new(client, store.clone(), cfg).await.unwrap();

    let started = Instant::now();
    let err = follower.run().await.unwrap_err();
    // Before the classifier, the round was retried 8 times (some 6 s) and ended in GaveUp;
    // now retryable errors are retried for ever, and this one must still end the run.
    assert!(matches!(err, SyncError::Beacon(BeaconError::Status { status: 400, .. })), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(store.accounting_cursor().unwrap().is_none(), "nothing accounted");
}

/// The simulator behind a switch: while `down` is set, every request is a 503.
/// The simulator, answering 503 while `down` (each one counted in `refused`).
fn switchable(down: Arc<AtomicBool>, refused: Arc<AtomicU64>) -> axum::Router {
    let scenario = Scenario::from_toml("seed = 1\nvalidators = 64\ntracked = [\"0-7\"]\nhead_epoch = 8\n").unwrap();
    router(Arc::new(BeaconModel::new(scenario).unwrap())).layer(middleware::from_fn(move |req: Request, next: Next| {
        let (down, refused) = (down.clone(), refused.clone());
        async move {
            if down.load(Ordering::SeqCst) {
                refused.fetch_add(1, Ordering::SeqCst);
                return (StatusCode::SERVICE_UNAVAILABLE, r#"{"code":503,"message":"down for the test"}"#)
                    .into_response();
            }
            next.run(req).await
        }
    }))
}

#[tokio::test]
async fn a_beacon_node_that_is_down_is_waited_for_and_the_status_says_so_once() {
    let down = Arc::new(AtomicBool::new(false));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let refused = Arc::new(AtomicU64::new(0));
    let app = switchable(down.clone(), refused.clone());
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
        until_epoch: Some(4),
        poll_interval: Duration::from_millis(20),
        max_retry_wait: Duration::from_millis(100),
        ..Default::default()
    };
    let follower = Arc::new(Follower::new(client.clone(), store.clone(), cfg).await.unwrap());
    let mut status = follower.status();
    let probe = follower.probe();
    assert_eq!((probe.finalized_epoch(), probe.beacon_errors()), (None, 0));
    assert_eq!(*status.borrow_and_update(), FollowerStatus::Following);

    down.store(true, Ordering::SeqCst);
    let run = tokio::spawn({
        let follower = follower.clone();
        async move { follower.run().await }
    });
    status.changed().await.unwrap();
    let error = match &*status.borrow_and_update() {
        FollowerStatus::Retrying { error } => error.clone(),
        other => panic!("{other:?}"),
    };
    assert!(error.contains("503"), "{error}");
    // Many failed tries later (more than the 8 that used to end the node), still retrying,
    // and the status did not change again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!run.is_finished(), "the follower stopped while the beacon node was down: {:?}", run.await);
    assert!(!status.has_changed().unwrap(), "the status changed while nothing changed");

    // Every refused request was one failed round (one attempt per call, one endpoint, and a
    // round stops at its first error): the metric counts each of them, and nothing else.
    down.store(false, Ordering::SeqCst);
    run.await.unwrap().unwrap();
    assert_eq!(*status.borrow_and_update(), FollowerStatus::Following);
    let refused = refused.load(Ordering::SeqCst);
    assert!(refused > 8, "{refused}");
    assert_eq!(probe.beacon_errors(), refused);
    let finalized = client.finality_checkpoints("head").await.unwrap().finalized.epoch;
    assert_eq!(probe.finalized_epoch(), Some(finalized), "the finalized epoch the beacon node reports");
    assert_eq!(store.accounting_cursor().unwrap().map(|c| c.next_epoch), Some(5), "epochs 0..=4 accounted");
}

/// The simulator, except that a quarter of the requests, spread by a fixed pseudo-random
/// rule, are 500s.
fn quarter_fail() -> axum::Router {
    let scenario = Scenario::from_toml("seed = 1\nvalidators = 64\ntracked = [\"0-7\"]\nhead_epoch = 12\n").unwrap();
    let count = Arc::new(std::sync::atomic::AtomicU64::new(0));
    router(Arc::new(BeaconModel::new(scenario).unwrap())).layer(middleware::from_fn(move |req: Request, next: Next| {
        let count = count.clone();
        async move {
            let n = count.fetch_add(1, Ordering::SeqCst);
            if (n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 62) == 3 {
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    r#"{"code":500,"message":"a quarter of the requests fail"}"#,
                )
                    .into_response();
            }
            next.run(req).await
        }
    }))
}

#[tokio::test]
async fn a_quarter_of_the_answers_failing_slows_accounting_down_but_never_stops_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = quarter_fail();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path()).unwrap());
    // Three attempts a request inside the client, as the node's default: about one request
    // in 64 still fails, and fails the round that asked.
    let client =
        BeaconClient::new(&[url], ClientConfig { retries: 3, backoff: Duration::from_millis(1), ..Default::default() })
            .unwrap();
    let cfg = SyncConfig {
        tracked: (0..8).collect(),
        until_epoch: Some(6),
        poll_interval: Duration::from_millis(10),
        max_retry_wait: Duration::from_millis(20),
        concurrency: 4,
        ..Default::default()
    };
    // Failed rounds are retried from the cursor however many there are (they used to count
    // towards a limit of 8, reset only when an epoch was accounted).
    let follower = loop {
        // `new` reads the spec once, and may draw a failing answer itself.
        if let Ok(f) = Follower::new(client.clone(), store.clone(), cfg.clone()).await {
            break f;
        }
    };
    follower.run().await.unwrap();
    assert_eq!(store.accounting_cursor().unwrap().map(|c| c.next_epoch), Some(7), "epochs 0..=6 accounted");
}

//! Webhooks: each notification POSTed as JSON to every configured URL, signed, retried with
//! backoff, and recorded once delivered so a restart sends it again to no one who has it.
//!
//! # Design decisions
//!
//! - Delivery is per URL and in the list's order (sorted by id); a URL that fails waits out
//!   its backoff (doubling from [`WebhookConfig::backoff`] up to 64 times that) without
//!   holding up the others.
//! - Once per id: a delivery is recorded (`<id> <keccak256 of the URL>`, one line, synced)
//!   after the receiver answered 2xx; the record is read back at start, and every
//!   notification of the list not recorded for a URL is sent to it, so nothing raised while
//!   the node was down is lost. A crash between the receiver's 2xx and the record can send
//!   one notification twice: the `X-Claystack-Notification-Id` header lets a receiver drop
//!   it.
//! - Signed: `X-Claystack-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`.

use crate::view::Snapshot;
use claystack_notify::Notification;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tracing::{info, warn};

/// Where and how notifications are posted.
#[derive(Clone)]
pub struct WebhookConfig {
    pub urls: Vec<String>,
    /// The HMAC key receivers check signatures with.
    pub secret: Vec<u8>,
    /// The delivery record is `<dir>/webhooks-delivered`.
    pub dir: PathBuf,
    /// The first retry's wait; it doubles per failure, up to 64 times this.
    pub backoff: Duration,
}

impl std::fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookConfig").field("urls", &self.urls.len()).field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// The HMAC-SHA256 of `body` under `secret`, as the signature header carries it.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex_lower(&mac.finalize().into_bytes()))
}

fn hex_lower(bytes: &[u8]) -> String {
    claystack_primitives::hex::encode(bytes).trim_start_matches("0x").to_string()
}

/// One URL's state.
struct Target {
    url: String,
    key: String,
    delivered: BTreeSet<String>,
    failures: u32,
    retry_at: tokio::time::Instant,
}

/// Delivers every notification of each snapshot until `stop` flips.
pub(crate) async fn deliver(
    config: WebhookConfig,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let path = config.dir.join("webhooks-delivered");
    let mut record = match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
        Ok(f) => f,
        Err(e) => {
            warn!("webhooks off: cannot open the delivery record {}: {e}", path.display());
            return;
        }
    };
    let lines = std::fs::read_to_string(&path).unwrap_or_default();
    let mut done: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in lines.lines() {
        if let Some((id, key)) = line.split_once(' ') {
            done.entry(key.to_string()).or_default().insert(id.to_string());
        }
    }
    let now = tokio::time::Instant::now();
    let mut targets: Vec<Target> = config
        .urls
        .iter()
        .map(|url| {
            let key = claystack_primitives::hex::encode(&claystack_merkle::keccak256(url.as_bytes()));
            Target {
                url: url.clone(),
                delivered: done.remove(&key).unwrap_or_default(),
                key,
                failures: 0,
                retry_at: now,
            }
        })
        .collect();
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("a plain HTTP client builds");
    info!(urls = targets.len(), "webhooks on");
    loop {
        let list: Vec<Notification> = snapshots.borrow_and_update().notifications.clone();
        let mut waiting = false;
        for t in &mut targets {
            if tokio::time::Instant::now() < t.retry_at {
                waiting = true;
                continue;
            }
            let pending: Vec<&Notification> = list.iter().filter(|n| !t.delivered.contains(&n.id)).collect();
            for n in pending {
                let body = serde_json::to_vec(n).expect("a notification always serializes");
                let sent = client
                    .post(&t.url)
                    .header("content-type", "application/json")
                    .header("x-claystack-notification-id", &n.id)
                    .header("x-claystack-signature", signature(&config.secret, &body))
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        let line = format!("{} {}\n", n.id, t.key);
                        if let Err(e) = record.write_all(line.as_bytes()).and_then(|()| record.sync_data()) {
                            warn!("webhooks: cannot record a delivery in {}: {e}", path.display());
                        }
                        t.delivered.insert(n.id.clone());
                        t.failures = 0;
                    }
                    other => {
                        let why = match other {
                            Ok(r) => format!("it answered {}", r.status()),
                            Err(e) => format!("{}", e.without_url()),
                        };
                        let wait = config.backoff * 2u32.pow(t.failures.min(6));
                        t.failures += 1;
                        t.retry_at = tokio::time::Instant::now() + wait;
                        waiting = true;
                        warn!(
                            failures = t.failures,
                            "webhook {} refused notification {}: {why}; retrying in {wait:?}",
                            claystack_primitives::redact::RedactedUrl::new(&t.url).shown(),
                            n.id
                        );
                        break;
                    }
                }
            }
        }
        let now = tokio::time::Instant::now();
        let next_retry = targets.iter().map(|t| t.retry_at).filter(|at| *at > now).min();
        let waiting = waiting && next_retry.is_some();
        let next_retry = next_retry.unwrap_or(now);
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { return },
            () = tokio::time::sleep_until(next_retry), if waiting => {}
            _ = stop.changed() => return,
        }
    }
}

//! The node's TOML config, merged with flags and environment variables.

use crate::cli::NodeOverrides;
use anyhow::{bail, Context};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    /// Genesis file: with it the node closes rewards reports; without it it only accounts.
    genesis: Option<PathBuf>,
    #[serde(default)]
    beacon: BeaconSection,
    #[serde(default)]
    accounting: AccountingSection,
    #[serde(default)]
    reports: ReportsSection,
    committee: Option<CommitteeSection>,
    #[serde(default)]
    execution: ExecutionSection,
    #[serde(default)]
    api: ApiSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiSection {
    listen: Option<String>,
    #[serde(default)]
    webhooks: Vec<String>,
    webhook_secret_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutionSection {
    rpc_url: Option<String>,
    submitter_key_file: Option<PathBuf>,
    max_fee_per_gas_gwei: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportsSection {
    /// Removed (every frame input is measured); parsed only to say so.
    inputs_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitteeSection {
    keys_dir: Option<PathBuf>,
    password_file: Option<PathBuf>,
    listen: Option<String>,
    #[serde(default)]
    peers: Vec<String>,
    rebroadcast_ms: Option<u64>,
    fallback_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BeaconSection {
    #[serde(default)]
    urls: Vec<String>,
    timeout_ms: Option<u64>,
    retries: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountingSection {
    #[serde(default)]
    tracked_validators: Vec<String>,
    start_epoch: Option<u64>,
    concurrency: Option<usize>,
    poll_interval_ms: Option<u64>,
}

/// Everything `run` needs, resolved.
#[derive(Debug)]
pub struct NodeConfig {
    pub data_dir: PathBuf,
    pub beacon_urls: Vec<String>,
    pub beacon_timeout: Duration,
    pub beacon_retries: u32,
    pub tracked: Vec<u64>,
    pub start_epoch: u64,
    pub concurrency: usize,
    pub poll_interval: Duration,
    /// Set when the node closes reports.
    pub reports: Option<ReportsConfig>,
    /// Where the HTTP API listens; no API when `None`.
    pub api_listen: Option<std::net::SocketAddr>,
    /// URLs every notification is POSTed to, and the file holding their HMAC key.
    pub webhooks: Vec<String>,
    pub webhook_secret_file: Option<PathBuf>,
}

#[derive(Debug)]
pub struct ReportsConfig {
    pub genesis: PathBuf,
    /// Execution RPC: every frame input is measured from it and the beacon chain at the
    /// frame's reference points, and a member with a submitter key submits there.
    pub rpc_url: String,
    /// Set when the node is a committee member.
    pub committee: Option<CommitteeConfig>,
}

#[derive(Debug)]
pub struct CommitteeConfig {
    pub keys_dir: PathBuf,
    /// Keystore password: this file, else the env var [`PASSWORD_ENV`].
    pub password_file: Option<PathBuf>,
    pub listen: String,
    /// Other members' multiaddrs, each ending in `/p2p/<peer id>`.
    pub peers: Vec<String>,
    pub rebroadcast: Duration,
    pub fallback: Duration,
    /// File holding the hex private key this member submits certificates with (never
    /// logged); without it the member signs and gossips but leaves submitting to others.
    pub submitter_key_file: Option<PathBuf>,
    /// The highest max fee per gas a submission bids, in wei (`None`: no cap).
    pub max_fee_per_gas: Option<u128>,
}

/// Environment variable holding the keystore password when no password file is set.
pub const PASSWORD_ENV: &str = "CLAYSTACK_KEYSTORE_PASSWORD";

impl NodeConfig {
    pub fn resolve(o: &NodeOverrides) -> anyhow::Result<NodeConfig> {
        let file = match &o.config {
            Some(path) => load(path)?,
            None => FileConfig::default(),
        };
        let beacon_urls = if o.beacon_urls.is_empty() { file.beacon.urls } else { o.beacon_urls.clone() };
        if beacon_urls.is_empty() {
            bail!(
                "no beacon node configured: set beacon.urls in the config file, CLAYSTACK_BEACON_URLS, or --beacon-url"
            );
        }
        let tracked_src = if o.tracked.is_empty() { file.accounting.tracked_validators } else { o.tracked.clone() };
        let tracked =
            claystack_primitives::ranges::parse_index_ranges(&tracked_src).context("accounting.tracked_validators")?;
        if tracked.is_empty() {
            bail!("no validators to track: set accounting.tracked_validators in the config file, CLAYSTACK_TRACKED, or --tracked");
        }
        let genesis = o.genesis.clone().or(file.genesis);
        let rpc_url = o.rpc_url.clone().or(file.execution.rpc_url);
        let submitter_key_file = o.submitter_key_file.clone().or(file.execution.submitter_key_file);
        let max_fee_gwei = o.max_fee_per_gas_gwei.or(file.execution.max_fee_per_gas_gwei);
        if max_fee_gwei == Some(0) {
            bail!("execution: max_fee_per_gas_gwei is 0; set a cap above the chain's base fee, or leave it out for no cap");
        }
        let max_fee_per_gas = max_fee_gwei.map(|g| u128::from(g) * 1_000_000_000);
        if submitter_key_file.is_some() && rpc_url.is_none() {
            bail!("execution: submitter_key_file is set but rpc_url is not; set execution.rpc_url, CLAYSTACK_RPC_URL or --rpc-url");
        }
        let committee = match (file.committee, o.keys_dir.clone()) {
            (None, None) => None,
            (section, keys_dir) => {
                let c = section.unwrap_or_default();
                let keys_dir = keys_dir.or(c.keys_dir).context(
                    "committee: no keys_dir; set committee.keys_dir, CLAYSTACK_KEYS_DIR or --keys-dir (see `claystack-oracle keys new`)",
                )?;
                Some(CommitteeConfig {
                    keys_dir,
                    password_file: o.password_file.clone().or(c.password_file),
                    listen: o.p2p_listen.clone().or(c.listen).unwrap_or_else(|| "/ip4/127.0.0.1/tcp/9000".into()),
                    peers: if o.peers.is_empty() { c.peers } else { o.peers.clone() },
                    rebroadcast: Duration::from_millis(c.rebroadcast_ms.unwrap_or(15_000).max(1)),
                    fallback: Duration::from_millis(c.fallback_ms.unwrap_or(60_000).max(1)),
                    submitter_key_file: submitter_key_file.clone(),
                    max_fee_per_gas,
                })
            }
        };
        if file.reports.inputs_dir.is_some() {
            bail!(
                "reports.inputs_dir is no longer read: every frame input is measured from the chains; remove the \
                 [reports] section and set execution.rpc_url (docs/rewards.md says what is measured where)"
            );
        }
        if submitter_key_file.is_some() && committee.is_none() {
            bail!("execution: submitter_key_file is set but this node has no committee keys; set committee.keys_dir, or drop the submitter key (observers do not submit)");
        }
        let reports = match (genesis, rpc_url) {
            (Some(genesis), Some(rpc_url)) => Some(ReportsConfig { genesis, rpc_url, committee }),
            (None, None) if committee.is_none() => None,
            (None, _) => bail!("reports need a genesis file: set genesis in the config file, CLAYSTACK_GENESIS or --genesis"),
            (Some(_), None) => bail!(
                "reports need the execution chain: set execution.rpc_url in the config file, CLAYSTACK_RPC_URL or --rpc-url"
            ),
        };
        if !file.api.webhooks.is_empty() && file.api.webhook_secret_file.is_none() {
            bail!("api.webhooks are set but api.webhook_secret_file is not; give a file (mode 0600) holding the key receivers check signatures with");
        }
        let api_listen = match o.api_listen.clone().or(file.api.listen) {
            None => None,
            Some(text) => Some(text.parse().with_context(|| {
                format!("api.listen {text:?} is not an address; give IP:PORT, e.g. 127.0.0.1:8080")
            })?),
        };
        Ok(NodeConfig {
            reports,
            api_listen,
            webhooks: file.api.webhooks,
            webhook_secret_file: file.api.webhook_secret_file,
            data_dir: o.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("data")),
            beacon_urls,
            beacon_timeout: Duration::from_millis(file.beacon.timeout_ms.unwrap_or(10_000)),
            beacon_retries: file.beacon.retries.unwrap_or(3),
            tracked,
            start_epoch: o.start_epoch.or(file.accounting.start_epoch).unwrap_or(0),
            concurrency: file.accounting.concurrency.unwrap_or(16).max(1),
            poll_interval: Duration::from_millis(file.accounting.poll_interval_ms.unwrap_or(6_000)),
        })
    }
}

fn load(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        let msg = e.message().to_string();
        anyhow::anyhow!("config file {} is invalid: {} — see docs/configuration.md", path.display(), msg.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn flags_override_file() {
        let f = write("data_dir = \"a\"\n[beacon]\nurls = [\"http://x\"]\n[accounting]\ntracked_validators = [\"1-3\"]\nstart_epoch = 4\n");
        let mut o = NodeOverrides { config: Some(f.path().into()), ..Default::default() };
        let c = NodeConfig::resolve(&o).unwrap();
        assert_eq!((c.data_dir, c.tracked, c.start_epoch), (PathBuf::from("a"), vec![1, 2, 3], 4));
        o.tracked = vec!["7".into()];
        o.data_dir = Some("b".into());
        let c = NodeConfig::resolve(&o).unwrap();
        assert_eq!((c.data_dir, c.tracked), (PathBuf::from("b"), vec![7]));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let f = write("[beacon]\nurl = \"http://x\"\n");
        let err = NodeConfig::resolve(&NodeOverrides { config: Some(f.path().into()), ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown field `url`"), "{err}");
        let f = write("[beacon]\nurls = [\"http://x\"]\n[accounting]\ntracked_validators = [\"9-1\"]\n");
        let err = format!(
            "{:#}",
            NodeConfig::resolve(&NodeOverrides { config: Some(f.path().into()), ..Default::default() }).unwrap_err()
        );
        assert!(err.contains("9-1"), "{err}");
        let err = NodeConfig::resolve(&NodeOverrides::default()).unwrap_err().to_string();
        assert!(err.contains("no beacon node configured"), "{err}");
    }

    #[test]
    fn chain_settings_by_mode() {
        let base = || NodeOverrides {
            beacon_urls: vec!["http://x".into()],
            tracked: vec!["0-3".into()],
            genesis: Some("g.json".into()),
            ..Default::default()
        };
        // An observer with an RPC measures every input from the chains and submits nothing.
        let o = NodeOverrides { rpc_url: Some("http://rpc".into()), ..base() };
        let reports = NodeConfig::resolve(&o).unwrap().reports.unwrap();
        assert_eq!((reports.rpc_url.as_str(), reports.committee.is_none()), ("http://rpc", true));
        // Reports need the chain: no file stands in for it.
        let err = NodeConfig::resolve(&base()).unwrap_err().to_string();
        assert!(err.contains("reports need the execution chain"), "{err}");
        let f = write("[reports]\ninputs_dir = \"in\"\n");
        let o = NodeOverrides { config: Some(f.path().into()), rpc_url: Some("http://rpc".into()), ..base() };
        let err = NodeConfig::resolve(&o).unwrap_err().to_string();
        assert!(err.contains("reports.inputs_dir is no longer read"), "{err}");
        // A submitter key needs an RPC, and committee keys.
        let o = NodeOverrides { submitter_key_file: Some("k".into()), keys_dir: Some("keys".into()), ..base() };
        let err = NodeConfig::resolve(&o).unwrap_err().to_string();
        assert!(err.contains("rpc_url is not"), "{err}");
        let o = NodeOverrides { submitter_key_file: Some("k".into()), rpc_url: Some("http://rpc".into()), ..base() };
        let err = NodeConfig::resolve(&o).unwrap_err().to_string();
        assert!(err.contains("no committee keys"), "{err}");
        let o = NodeOverrides {
            submitter_key_file: Some("k".into()),
            rpc_url: Some("http://rpc".into()),
            keys_dir: Some("keys".into()),
            ..base()
        };
        let committee = NodeConfig::resolve(&o).unwrap().reports.unwrap().committee.unwrap();
        assert_eq!(committee.submitter_key_file, Some(PathBuf::from("k")));
        assert_eq!(committee.max_fee_per_gas, None, "no cap unless one is set");
    }

    #[test]
    fn the_api_listens_only_where_it_is_told() {
        let base = || NodeOverrides {
            beacon_urls: vec!["http://x".into()],
            tracked: vec!["0-3".into()],
            ..Default::default()
        };
        assert_eq!(NodeConfig::resolve(&base()).unwrap().api_listen, None, "no API unless configured");
        let f = write("[beacon]\nurls = [\"http://x\"]\n[accounting]\ntracked_validators = [\"0-3\"]\n[api]\nlisten = \"127.0.0.1:8080\"\n");
        let mut o = NodeOverrides { config: Some(f.path().into()), ..Default::default() };
        assert_eq!(NodeConfig::resolve(&o).unwrap().api_listen, Some("127.0.0.1:8080".parse().unwrap()));
        o.api_listen = Some("127.0.0.1:9090".into());
        assert_eq!(NodeConfig::resolve(&o).unwrap().api_listen, Some("127.0.0.1:9090".parse().unwrap()));
        let o = NodeOverrides { api_listen: Some("localhost".into()), ..base() };
        let err = format!("{:#}", NodeConfig::resolve(&o).unwrap_err());
        assert!(err.contains("api.listen \"localhost\" is not an address; give IP:PORT"), "{err}");
        let f = write("[beacon]\nurls = [\"http://x\"]\n[accounting]\ntracked_validators = [\"0-3\"]\n[api]\nwebhooks = [\"http://127.0.0.1:9/h\"]\n");
        let err = NodeConfig::resolve(&NodeOverrides { config: Some(f.path().into()), ..Default::default() })
            .unwrap_err()
            .to_string();
        assert!(err.contains("api.webhook_secret_file is not"), "{err}");
    }

    #[test]
    fn the_fee_cap_comes_in_gwei_from_the_file_or_the_flag() {
        let f = write(
            "genesis = \"g.json\"\n[beacon]\nurls = [\"http://x\"]\n[accounting]\ntracked_validators = [\"0-3\"]\n\
             [committee]\nkeys_dir = \"keys\"\n\
             [execution]\nrpc_url = \"http://rpc\"\nsubmitter_key_file = \"k\"\nmax_fee_per_gas_gwei = 500\n",
        );
        let mut o = NodeOverrides { config: Some(f.path().into()), ..Default::default() };
        let cap =
            |o: &NodeOverrides| NodeConfig::resolve(o).map(|c| c.reports.unwrap().committee.unwrap().max_fee_per_gas);
        assert_eq!(cap(&o).unwrap(), Some(500_000_000_000));
        o.max_fee_per_gas_gwei = Some(40);
        assert_eq!(cap(&o).unwrap(), Some(40_000_000_000));
        o.max_fee_per_gas_gwei = Some(0);
        assert!(cap(&o).unwrap_err().to_string().contains("max_fee_per_gas_gwei is 0"));
    }
}

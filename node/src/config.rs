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
    #[serde(default)]
    beacon: BeaconSection,
    #[serde(default)]
    accounting: AccountingSection,
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
}

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
        Ok(NodeConfig {
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
}

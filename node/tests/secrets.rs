//! Secrets and wrong networks (issue 15, item 11), through the real binary: `--help` never
//! prints an environment variable's value, an RPC URL's credentials never reach an error,
//! and a beacon node of another network than genesis pins is refused in one line.

use crate::support::*;
use std::process::Command;

const SECRET_URL: &str = "http://alice:topsecret@127.0.0.1:9/apikey123?token=zz9988";

#[test]
fn help_names_the_variables_but_never_prints_their_values() {
    for args in [&["run", "--help"][..], &["report", "verify", "--help"][..]] {
        let out = Command::new(bin())
            .args(args)
            .env("CLAYSTACK_RPC_URL", SECRET_URL)
            .env("CLAYSTACK_BEACON_URLS", SECRET_URL)
            .output()
            .unwrap();
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("CLAYSTACK_RPC_URL"), "{help}");
        for secret in ["topsecret", "apikey123", "zz9988"] {
            assert!(!help.contains(secret), "{args:?} printed {secret}:\n{help}");
        }
    }
}

/// A genesis (no keys needed: the node stops before it would sign).
fn genesis(dir: &std::path::Path, extra: &[&str]) -> std::path::PathBuf {
    let g = dir.join("genesis");
    let password_file = write_file(dir, "password", "secrets-test-password");
    std::fs::set_permissions(&password_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let out = Command::new(bin())
        .args(["genesis", "new", "--members", "1", "--threshold", "1", "--out"])
        .arg(&g)
        .arg("--password-file")
        .arg(&password_file)
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    g.join("genesis.json")
}

/// `run` with a genesis, so with an RPC: every frame input is measured from both chains.
fn run_against_sim(dir: &std::path::Path, genesis: &std::path::Path, url: &str, rpc: &str) -> (bool, String) {
    let mut args = run_args(&dir.join("data"), url, "0-24", 4);
    args.extend(["--genesis".into(), genesis.display().to_string(), "--rpc-url".into(), rpc.into()]);
    run_to_end(&args, &[])
}

#[test]
fn a_beacon_node_of_another_network_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let other_network = format!("0x{}", "11".repeat(32));
    let genesis = genesis(dir.path(), &["--beacon-genesis-validators-root", &other_network]);
    let (_sim, url) = start_sim(&data_file("committee.toml"), None);
    let anvil = claystack_testkit::Anvil::builder().start().unwrap();
    let (ok, stderr) = run_against_sim(dir.path(), &genesis, &url, &anvil.endpoint());
    assert!(!ok, "{stderr}");
    let line = stderr.lines().find(|l| l.contains("wrong beacon network")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(line.contains(&other_network) && line.contains("point the beacon URL"), "{line}");
    // Nothing was accounted for the wrong network.
    let store = claystack_store::Store::open(&dir.path().join("data")).unwrap();
    assert_eq!(store.accounting_cursor().unwrap(), None);
}

#[test]
fn rpc_url_credentials_never_reach_an_error_or_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let genesis = genesis(dir.path(), &[]);
    let (_sim, url) = start_sim(&data_file("committee.toml"), None);
    // Port 9 (discard) is closed on loopback: the connection is refused.
    let (ok, stderr) = run_against_sim(dir.path(), &genesis, &url, SECRET_URL);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("http://***@127.0.0.1:9/***?***") && stderr.contains("eth_chainId"), "{stderr}");
    for secret in ["alice", "topsecret", "apikey123", "zz9988"] {
        assert!(!stderr.contains(secret), "{secret} printed:\n{stderr}");
    }
}

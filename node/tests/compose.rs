//! The compose committee (docker/compose.yaml) on this machine's Docker engine: images built
//! from Debian's packages and this build's binary (`scripts/docker.sh`), every container on
//! the host's network (127.0.0.1 only). Each member container makes its own keys; the
//! conductor assembles the genesis from their entries, every member approves it, and the
//! committee runs to accepted roots and a claim. Checked here from the shared volume, the
//! members' APIs and the chain's word as the conductor recorded it; then torn down.

use crate::support::{bin, http_get};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Report 1's root in the compose committee. The conductor's accounts are fixed keys (not
/// anvil's dev keys, which it cannot know), so the operators' addresses, and with them the
/// leaves, differ from the process devnet's (`DEVNET_REPORT_1_ROOT`); every other input is
/// the same, and the members' own keys are in no report: every run accepts this root.
const COMPOSE_REPORT_1_ROOT: &str = "0x6a6df37cde8c4ea3e7040a6e4ce92eba3935455db8fa3487e0a08e81d4ce2100";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn docker_sh(args: &[&str]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(repo().join("scripts/docker.sh")).args(args);
    cmd
}

/// `n` consecutive ports free on 127.0.0.1 now (the compose file numbers members from a base).
fn consecutive_free_ports(n: u16) -> u16 {
    let seed = std::process::id() as u16;
    (0..200u16)
        .map(|k| 20_000 + (seed.wrapping_mul(31).wrapping_add(k * 97)) % 30_000)
        .find(|base| (0..n).all(|i| TcpListener::bind(("127.0.0.1", base + i)).is_ok()))
        .expect("no free port range")
}

/// A compose project: `down -v` and the engine stopped (if this test started it) on drop.
struct Project {
    name: String,
    env: Vec<(String, String)>,
}

impl Project {
    fn compose(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("docker-compose");
        cmd.current_dir(repo())
            .args(["-p", &self.name, "-f", "docker/compose.yaml"])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    fn container(&self, service: &str) -> String {
        let out = run(&mut self.compose(&["ps", "-q", service]));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn inspect(&self, service: &str, format: &str) -> String {
        let id = self.container(service);
        let out = run(Command::new("docker").args(["inspect", "-f", format, &id]));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn shared_dir(&self) -> PathBuf {
        let volume = format!("{}_shared", self.name);
        let out = run(Command::new("docker").args(["volume", "inspect", "-f", "{{.Mountpoint}}", &volume]));
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    }

    fn logs(&self) -> String {
        self.compose(&["logs", "--no-color", "--tail", "40"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "--timeout", "10"]).output();
        let _ = docker_sh(&["engine-stop"]).output();
    }
}

#[test]
fn the_compose_committee_makes_its_own_keys_and_reaches_accepted_roots_and_a_claim() {
    run(&mut docker_sh(&["engine-start"]));
    // anvil, the simulator, then four libp2p ports and four API ports.
    let base = consecutive_free_ports(10);
    let (rpc, beacon, p2p, api) = (base, base + 1, base + 2, base + 6);
    let project = Project {
        name: format!("claystack-test-{}", std::process::id()),
        env: [
            ("CLAYSTACK_IMAGE", "claystack-oracle:local".to_string()),
            ("ANVIL_IMAGE", "claystack-anvil:local".to_string()),
            ("RPC_PORT", rpc.to_string()),
            ("BEACON_PORT", beacon.to_string()),
            ("P2P_BASE_PORT", p2p.to_string()),
            ("API_BASE_PORT", api.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect(),
    };
    run(&mut docker_sh(&["images", bin()]));
    run(&mut project.compose(&["up", "-d"]));

    // The conductor is a one-shot job: it exits 0 once every report is accepted and checked.
    let deadline = Instant::now() + Duration::from_secs(600);
    let state = loop {
        let state = project.inspect("conductor", "{{.State.Status}} {{.State.ExitCode}}");
        if state.starts_with("exited") || Instant::now() > deadline {
            break state;
        }
        std::thread::sleep(Duration::from_secs(2));
    };
    assert_eq!(state, "exited 0", "the conductor did not finish\n{}", project.logs());

    let shared = project.shared_dir();
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(shared.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["merkle_root"], COMPOSE_REPORT_1_ROOT, "{summary:#}");
    let reports = summary["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 3, "{summary:#}");
    for r in reports {
        assert!(r["gas_used"].as_u64().unwrap() > 0, "{r}");
        assert!(r["signers"].as_array().unwrap().len() >= 3, "{r}");
    }
    let claim = &summary["claim"];
    assert!(claim["amount_wei"].as_str().unwrap().parse::<u128>().unwrap() > 0, "{claim}");
    assert_eq!(summary["exits"]["round_1"]["published"].as_array().map(Vec::len), Some(4), "{summary:#}");
    // After the last report every operator claimed its leaf; one transaction per report.
    assert_eq!(summary["claims"].as_array().map(Vec::len), Some(4), "{summary:#}");
    let submissions = summary["submissions"].as_object().unwrap();
    assert_eq!(submissions.len(), 4, "3 rewards reports and exits round 1: {submissions:?}");
    assert!(submissions.values().all(|txs| txs.as_array().unwrap().len() == 1), "{submissions:?}");

    // The ceremony: four entries, the genesis assembled from them, four approvals that verify
    // with the host's binary; no secret ever reached the shared volume.
    let approvals = shared.join("approvals");
    let verify = run(Command::new(bin())
        .args(["genesis", "verify", "--genesis"])
        .arg(shared.join("genesis.json"))
        .arg("--approvals")
        .arg(&approvals));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("valid"), "{verify:?}");
    assert_eq!(std::fs::read_dir(shared.join("entries")).unwrap().count(), 4);
    let mut stack = vec![shared.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                !(name.ends_with(".keystore.json")
                    || name == "submitter.key"
                    || name == "p2p.key"
                    || name == "password"),
                "a secret in the shared volume: {}",
                p.display()
            );
            if p.is_dir() {
                stack.push(p);
            }
        }
    }

    // Every member still runs, healthy, and serves report 1 with the accepted root.
    for m in 0..4 {
        let service = format!("member-{m}");
        assert_eq!(project.inspect(&service, "{{.State.Health.Status}}"), "healthy", "{service}");
        let index: u16 =
            std::fs::read_to_string(shared.join(format!("names/{service}"))).unwrap().trim().parse().unwrap();
        let (status, body) = http_get(&format!("127.0.0.1:{}", api + index), "/v1/reports");
        assert_eq!(status, 200, "{service}: {body}");
        assert!(body.contains(COMPOSE_REPORT_1_ROOT), "{service}: {body}");
    }
}

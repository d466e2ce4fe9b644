//! Starting and stopping real `claystack-oracle` processes for cross-process tests (free
//! ports and child processes come from `claystack-testkit`).
#![allow(dead_code)]

pub use claystack_testkit::free_port;
pub use claystack_testkit::ChildProcess;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_claystack-oracle")
}

/// Starts the beacon simulator on a free port and waits until it answers.
pub fn start_sim(scenario: &Path, truth: Option<&Path>) -> (ChildProcess, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bin());
    cmd.args(["sim", "beacon", "--scenario"]).arg(scenario).args(["--listen", &addr]);
    if let Some(t) = truth {
        cmd.arg("--truth").arg(t);
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let sim = ChildProcess::spawn("sim", cmd).expect("spawn simulator");
    let url = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(&addr).is_ok() && truth.is_none_or(|t| t.exists()) {
            return (sim, url);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("simulator did not start on {addr}");
}

/// `claystack-oracle run` arguments for a data dir, beacon and tracked set.
pub fn run_args(data: &Path, url: &str, tracked: &str, until: u64) -> Vec<String> {
    vec![
        "run".into(),
        "--data-dir".into(),
        data.display().to_string(),
        "--beacon-url".into(),
        url.into(),
        "--tracked".into(),
        tracked.into(),
        "--until-epoch".into(),
        until.to_string(),
    ]
}

/// Runs the oracle to completion (at most two minutes); returns (success, stderr).
pub fn run_to_end(args: &[String], extra_env: &[(&str, &str)]) -> (bool, String) {
    let (mut proc, lines) = spawn_with_lines(args, extra_env);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = proc.try_wait().unwrap() {
            // The reader thread ends with the pipe; collect what it read.
            std::thread::sleep(Duration::from_millis(50));
            return (status.success(), lines.try_iter().collect::<Vec<_>>().join("\n"));
        }
        if Instant::now() > deadline {
            proc.kill();
            panic!("oracle did not finish in time: {}", lines.try_iter().collect::<Vec<_>>().join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the oracle and returns it with a channel of its stderr lines.
pub fn spawn_with_lines(args: &[String], extra_env: &[(&str, &str)]) -> (ChildProcess, mpsc::Receiver<String>) {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .envs(extra_env.iter().copied())
        .env("CLAYSTACK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut oracle = ChildProcess::spawn("oracle", cmd).expect("spawn oracle");
    let stderr = oracle.child().stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (oracle, rx)
}

/// `claystack-oracle tallies --format json` as parsed JSON.
pub fn tallies_json(data: &Path, to: u64) -> serde_json::Value {
    let out = Command::new(bin())
        .args(["tallies", "--format", "json", "--to", &to.to_string(), "--data-dir"])
        .arg(data)
        .output()
        .expect("tallies");
    assert!(out.status.success(), "tallies failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("tallies json")
}

/// The simulator's ground truth, cut to epochs `..=to`.
pub fn truth_json(path: &Path, to: u64) -> serde_json::Value {
    let mut text = String::new();
    std::fs::File::open(path).unwrap().read_to_string(&mut text).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let epochs = v["epochs"].as_array_mut().unwrap();
    epochs.retain(|e| e["epoch"].as_u64().unwrap() <= to);
    v
}

/// A file of `node/tests/data/` (the simulator scenarios of these tests).
pub fn data_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

/// Writes `text` to `dir/name`; returns the path.
pub fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A committee member's process settings: its key dir, p2p port and peer id.
pub struct Member {
    pub dir: PathBuf,
    pub port: u16,
    pub peer_id: String,
}

/// Waits for a line containing every needle; returns it (lines before it are dropped).
pub fn wait_for(lines: &mpsc::Receiver<String>, needles: &[&str], timeout: Duration, log: &mut Vec<String>) -> String {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(100)) {
            log.push(line.clone());
            if needles.iter().all(|n| line.contains(n)) {
                return line;
            }
        }
    }
    panic!("no line with {needles:?} within {timeout:?}; log:\n{}", log.join("\n"));
}

/// The `key=value` field of a tracing line.
pub fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(&format!("{key}=")).unwrap_or_else(|| panic!("no {key} in {line}")) + key.len() + 1;
    line[start..].split_whitespace().next().unwrap()
}

/// `run` arguments of a committee member (tracking validators 0-24), peers from `all`.
pub fn node_args(m: &Member, all: &[Member], data: &Path, url: &str, genesis: &Path, inputs: &Path) -> Vec<String> {
    let mut args = vec![
        "run".into(),
        "--data-dir".into(),
        data.display().to_string(),
        "--beacon-url".into(),
        url.into(),
        "--tracked".into(),
        "0-24".into(),
        "--genesis".into(),
        genesis.display().to_string(),
        "--inputs-dir".into(),
        inputs.display().to_string(),
        "--keys-dir".into(),
        m.dir.display().to_string(),
        "--p2p-listen".into(),
        format!("/ip4/127.0.0.1/tcp/{}", m.port),
    ];
    for other in all.iter().filter(|o| o.port != m.port) {
        args.push("--peer".into());
        args.push(format!("/ip4/127.0.0.1/tcp/{}/p2p/{}", other.port, other.peer_id));
    }
    args
}

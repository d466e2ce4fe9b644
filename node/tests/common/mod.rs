//! Starting and stopping real `claystack-oracle` processes for cross-process tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_claystack-oracle")
}

/// A free 127.0.0.1 port (bound and released; good enough for tests on one machine).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    pub fn kill9(&mut self) {
        // SIGKILL: the process gets no chance to clean up.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Starts the beacon simulator on a free port and waits until it answers.
pub fn start_sim(scenario: &Path, truth: Option<&Path>) -> (Proc, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut cmd = Command::new(bin());
    cmd.args(["sim", "beacon", "--scenario"]).arg(scenario).args(["--listen", &addr]);
    if let Some(t) = truth {
        cmd.arg("--truth").arg(t);
    }
    // Owned by a `Proc` at once, so a simulator that never answers is killed when we panic.
    let sim = Proc {
        child: cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn simulator"),
        name: "sim".into(),
    };
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
        if let Some(status) = proc.child.try_wait().unwrap() {
            // The reader thread ends with the pipe; collect what it read.
            std::thread::sleep(Duration::from_millis(50));
            return (status.success(), lines.try_iter().collect::<Vec<_>>().join("\n"));
        }
        if Instant::now() > deadline {
            proc.kill9();
            panic!("oracle did not finish in time: {}", lines.try_iter().collect::<Vec<_>>().join("\n"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts the oracle and returns it with a channel of its stderr lines.
pub fn spawn_with_lines(args: &[String], extra_env: &[(&str, &str)]) -> (Proc, mpsc::Receiver<String>) {
    let mut child = Command::new(bin())
        .args(args)
        .envs(extra_env.iter().copied())
        .env("CLAYSTACK_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oracle");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Proc { child, name: "oracle".into() }, rx)
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

pub fn scenario_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

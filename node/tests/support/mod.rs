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

/// `claystack-oracle devnet --hold`: anvil, the beacon simulator, genesis, member keys, the
/// contracts and each member's `node.toml` for report 1, with no member running; the test
/// starts, kills and restarts the members. Stopped (Ctrl-C, so it stops its chains) on drop.
pub struct HeldDevnet {
    process: ChildProcess,
    pub dir: PathBuf,
    /// What `--hold` wrote: URLs, addresses, config paths (node/src/commands/devnet).
    pub summary: serde_json::Value,
}

impl HeldDevnet {
    /// `reports` frames of chain activity are played at once (report 1's root is the devnet's).
    pub fn start(root: &Path, members: usize, reports: u64) -> HeldDevnet {
        let dir = root.join("devnet");
        let summary_path = root.join("devnet-hold.json");
        let log_path = root.join("devnet-hold.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = Command::new(bin());
        cmd.args(["devnet", "--hold", "--reports", &reports.to_string(), "--members", &members.to_string(), "--dir"])
            .arg(&dir)
            .arg("--summary")
            .arg(&summary_path)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        let mut process = ChildProcess::spawn("devnet --hold", cmd).unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        while !summary_path.exists() {
            let exited = process.try_wait().unwrap().is_some();
            if exited || Instant::now() > deadline {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("devnet --hold did not get ready (exited: {exited}):\n{log}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let summary = serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
        HeldDevnet { process, dir, summary }
    }

    /// Member `i`'s directory: `node.toml`, `keys/`, `data/`, `submitter.key`.
    pub fn member(&self, i: usize) -> PathBuf {
        self.dir.join(format!("member-{i}"))
    }

    /// `run` arguments of member `i`, as its `node.toml` says.
    pub fn run_args(&self, i: usize) -> Vec<String> {
        vec!["run".into(), "--config".into(), self.member(i).join("node.toml").display().to_string()]
    }

    /// The libp2p port member `i` listens on.
    pub fn p2p_port(&self, i: usize) -> u16 {
        let config = std::fs::read_to_string(self.member(i).join("node.toml")).unwrap();
        let line = config.lines().find(|l| l.starts_with("listen = ")).unwrap();
        line.trim_end_matches('"').rsplit('/').next().unwrap().parse().unwrap()
    }

    pub fn password(&self) -> String {
        std::fs::read_to_string(self.dir.join("password")).unwrap().trim_end().to_string()
    }

    pub fn genesis_path(&self) -> PathBuf {
        self.dir.join("genesis.json")
    }

    pub fn str(&self, key: &str) -> String {
        self.summary[key].as_str().unwrap_or_else(|| panic!("no {key} in {}", self.summary)).to_string()
    }

    /// One JSON-RPC call to anvil; the result.
    pub fn rpc(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        let url = self.str("rpc_url");
        let addr = url.trim_start_matches("http://").trim_end_matches('/');
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        use std::io::Write;
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (_, body) = out.split_once("\r\n\r\n").unwrap();
        let answer: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{method}: {e}: {body}"));
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// A second beacon simulator on the same chain and clock whose answers carry `faults`
    /// (TOML lines appended to the devnet's scenario), e.g. a wrong balance.
    pub fn faulty_beacon(&self, name: &str, faults: &str) -> (ChildProcess, String) {
        let scenario = std::fs::read_to_string(self.str("scenario")).unwrap();
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, format!("{scenario}\n{faults}\n")).unwrap();
        start_sim(&path, None)
    }
}

impl Drop for HeldDevnet {
    fn drop(&mut self) {
        self.process.stop(Duration::from_secs(15));
    }
}

/// `GET path` over HTTP/1.1 with `Connection: close` (the node's API); (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (head.split_whitespace().nth(1).unwrap().parse().unwrap(), body.to_string())
}

/// Runs the oracle with `env`; returns (success, stdout, stderr) and appends both to `seen`
/// (the tests check that no secret is in anything it printed).
pub fn oracle(args: &[&str], env: &[(&str, &str)], seen: &mut String) -> (bool, String, String) {
    let out = Command::new(bin()).args(args).envs(env.iter().copied()).output().unwrap();
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    seen.push_str(&stdout);
    seen.push_str(&stderr);
    (out.status.success(), stdout, stderr)
}

/// [`oracle`] with no extra environment.
pub fn oracle_in(args: &[&str], seen: &mut String) -> (bool, String, String) {
    oracle(args, &[], seen)
}

/// A path as the `&str` a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

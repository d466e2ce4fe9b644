//! A private anvil for tests and the local testnet: `--hardfork prague` (the EIP-2537 BLS
//! precompiles the NodeManager needs), chain id 31337, on a free loopback port.
//!
//! [`Anvil::start`] waits until the node answers JSON-RPC, and dropping the [`Anvil`] kills
//! it — also when a test panics (drop runs while unwinding). It is a [`ChildProcess`]: should
//! the test process itself be killed, the kernel kills anvil too (start it from a thread
//! that outlives it, as a test's own thread does).
//!
//! The binary is the one `scripts/setup.sh` installs from npm (`tools/js`, `@foundry-rs/anvil`):
//! the native executable inside the platform package when it is there (one process to
//! kill), else the `node_modules/.bin/anvil` wrapper (drop kills anvil's whole process
//! group, so the wrapper's child goes too). `CLAYSTACK_ANVIL` overrides the path.
//! Output goes to a log file kept when the anvil dies early, for the error message.

use crate::ports::free_port;
use crate::process::ChildProcess;
use alloy::signers::local::PrivateKeySigner;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Environment variable naming the anvil binary to use instead of the npm one.
pub const ANVIL_ENV: &str = "CLAYSTACK_ANVIL";

/// The chain id the harness gives anvil unless told otherwise.
pub const ANVIL_CHAIN_ID: u64 = 31337;

#[derive(Debug, Error)]
pub enum AnvilError {
    #[error(
        "anvil not found at {0}; run `bash scripts/setup.sh` (it installs anvil into tools/js), or set {ANVIL_ENV}"
    )]
    Missing(PathBuf),
    #[error("anvil: cannot start {binary}: {source}")]
    Spawn { binary: PathBuf, source: std::io::Error },
    #[error("anvil exited before answering ({status}); last output: {last_line}")]
    Exited { status: String, last_line: String },
    #[error("anvil on port {port} did not answer within {seconds} s; see its log {log}")]
    Timeout { port: u16, seconds: u64, log: PathBuf },
    #[error("anvil: {0}")]
    Io(#[from] std::io::Error),
    #[error("anvil: cannot read its accounts from {path}: {message}")]
    Accounts { path: PathBuf, message: String },
}

/// How to start an anvil.
#[derive(Debug, Clone)]
pub struct AnvilBuilder {
    binary: Option<PathBuf>,
    chain_id: u64,
    args: Vec<String>,
    timeout: Duration,
}

impl Default for AnvilBuilder {
    fn default() -> AnvilBuilder {
        AnvilBuilder { binary: None, chain_id: ANVIL_CHAIN_ID, args: Vec::new(), timeout: Duration::from_secs(30) }
    }
}

impl AnvilBuilder {
    pub fn chain_id(mut self, chain_id: u64) -> AnvilBuilder {
        self.chain_id = chain_id;
        self
    }

    /// Mine only on `evm_mine` (no automine, no interval mining).
    pub fn no_mining(self) -> AnvilBuilder {
        self.arg("--no-mining")
    }

    /// Any other anvil argument.
    pub fn arg(mut self, arg: impl Into<String>) -> AnvilBuilder {
        self.args.push(arg.into());
        self
    }

    pub fn binary(mut self, path: impl Into<PathBuf>) -> AnvilBuilder {
        self.binary = Some(path.into());
        self
    }

    /// Starts anvil and waits until it answers. A port taken between choosing it and anvil
    /// binding it is retried on another.
    pub fn start(&self) -> Result<Anvil, AnvilError> {
        let binary = match &self.binary {
            Some(b) => b.clone(),
            None => default_binary()?,
        };
        if !binary.exists() {
            return Err(AnvilError::Missing(binary));
        }
        let mut last = None;
        for _ in 0..3 {
            match self.try_start(&binary) {
                Err(AnvilError::Exited { status, last_line }) if last_line.contains("in use") => {
                    last = Some(AnvilError::Exited { status, last_line });
                }
                other => return other,
            }
        }
        Err(last.expect("three attempts failed"))
    }

    fn try_start(&self, binary: &Path) -> Result<Anvil, AnvilError> {
        let port = free_port();
        let dir = std::env::temp_dir();
        let tag = format!("claystack-anvil-{}-{port}", std::process::id());
        let log = dir.join(format!("{tag}.log"));
        let config = dir.join(format!("{tag}.json"));
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new(binary);
        cmd.args(["--hardfork", "prague", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .arg("--chain-id")
            .arg(self.chain_id.to_string())
            .arg("--config-out")
            .arg(&config)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone()?))
            .stderr(Stdio::from(out));
        // Its own process group, so drop ends the npm wrapper and the anvil it starts.
        let child = ChildProcess::spawn_group("anvil", cmd)
            .map_err(|source| AnvilError::Spawn { binary: binary.to_path_buf(), source })?;
        let mut anvil = Anvil { child, port, chain_id: self.chain_id, log, config, keep_log: false };
        let deadline = Instant::now() + self.timeout;
        loop {
            if let Some(status) = anvil.child.try_wait()? {
                anvil.keep_log = true;
                return Err(AnvilError::Exited { status: status.to_string(), last_line: anvil.last_log_line() });
            }
            if answers(port) && anvil.config.exists() {
                return Ok(anvil);
            }
            if Instant::now() >= deadline {
                anvil.keep_log = true;
                return Err(AnvilError::Timeout { port, seconds: self.timeout.as_secs(), log: anvil.log.clone() });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The npm anvil of this workspace: the native binary of the platform package, or the
/// `.bin` wrapper.
fn default_binary() -> Result<PathBuf, AnvilError> {
    if let Some(path) = std::env::var_os(ANVIL_ENV) {
        return Ok(PathBuf::from(path));
    }
    let modules = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/js/node_modules");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let native = modules.join(format!("@foundry-rs/anvil-{}-{arch}/bin/anvil", std::env::consts::OS));
    if native.exists() {
        return Ok(native);
    }
    let wrapper = modules.join(".bin/anvil");
    if wrapper.exists() {
        return Ok(wrapper);
    }
    Err(AnvilError::Missing(wrapper))
}

/// True if a JSON-RPC `eth_chainId` on `port` gets a result.
fn answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.contains("\"result\"")
}

/// A running anvil; killed on drop.
#[derive(Debug)]
pub struct Anvil {
    child: ChildProcess,
    port: u16,
    chain_id: u64,
    log: PathBuf,
    config: PathBuf,
    keep_log: bool,
}

impl Anvil {
    /// `anvil --hardfork prague --chain-id 31337` on a free port.
    pub fn start() -> Result<Anvil, AnvilError> {
        AnvilBuilder::default().start()
    }

    pub fn builder() -> AnvilBuilder {
        AnvilBuilder::default()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id, e.g. to check that drop ended it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where anvil writes its output.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The keys of anvil's funded dev accounts (10,000 ETH each), from its `--config-out`
    /// file. Test keys: public, never for real funds.
    pub fn dev_keys(&self) -> Result<Vec<PrivateKeySigner>, AnvilError> {
        let err = |message: String| AnvilError::Accounts { path: self.config.clone(), message };
        let text = std::fs::read_to_string(&self.config).map_err(|e| err(e.to_string()))?;
        let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        let keys = json["private_keys"].as_array().ok_or_else(|| err("no private_keys list".into()))?;
        keys.iter()
            .map(|k| {
                let s = k.as_str().ok_or_else(|| err("a private key is not a string".into()))?;
                s.parse::<PrivateKeySigner>().map_err(|_| err("a private key does not parse".into()))
            })
            .collect()
    }

    fn last_log_line(&self) -> String {
        std::fs::read_to_string(&self.log)
            .ok()
            .and_then(|s| s.lines().rev().find(|l| !l.trim().is_empty()).map(str::to_string))
            .unwrap_or_else(|| "(none)".into())
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        self.child.kill();
        let _ = std::fs::remove_file(&self.config);
        if self.keep_log || std::thread::panicking() {
            eprintln!("anvil log kept at {}", self.log.display());
        } else {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

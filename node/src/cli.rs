//! The command line. Every `run` setting can come from the config file, an
//! environment variable or a flag; the flag wins, then the variable, then the file.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "claystack-oracle",
    version,
    about = "ClayStack oracle committee node: counts operators' attestations from the Beacon API and keeps the tallies"
)]
pub struct Cli {
    /// Log filter (tracing EnvFilter syntax; RUST_LOG overrides it).
    #[arg(long, global = true, hide_env_values = true, env = "CLAYSTACK_LOG", default_value = "info")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run an oracle node: follow finalized beacon epochs and account the tracked validators.
    Run(RunArgs),
    /// Print the stored attestation tallies.
    Tallies(TalliesArgs),
    /// Committee member keys: EIP-2335 BLS keystore with proof of possession, and libp2p identity.
    Keys(KeysArgs),
    /// The committee and economics genesis file: assemble and approve a committee's, write a local one, or check one.
    #[command(subcommand)]
    Genesis(GenesisCommand),
    /// Rewards reports: compute one offline, or verify one against a root.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Print what an operator needs to claim: cumulative amount and Merkle proof.
    Proof(ProofArgs),
    /// Simulators for local testing.
    #[command(subcommand)]
    Sim(SimCommand),
    /// The member's signing record (every report it signed): export it from a data dir, or
    /// import it into a new one before the node runs there (moving machines).
    #[command(subcommand)]
    SigningRecord(SigningRecordCommand),
    /// A local committee end to end: beacon simulator, anvil with the contracts, one node
    /// process per member, until a rewards root is accepted on chain and an operator claimed.
    Devnet(DevnetArgs),
}

#[derive(Args)]
pub struct DevnetArgs {
    /// Working directory (genesis, keys, configs, logs, data); replaced on each run.
    #[arg(long, default_value = "devnet")]
    pub dir: PathBuf,
    /// Committee members (1 to 32); the threshold is more than two thirds. Members past
    /// anvil's ten dev keys submit from fresh keys funded with `anvil_setBalance`.
    #[arg(long, default_value_t = 4)]
    pub members: usize,
    /// Rewards reports to run through (each frame's fees, prices and adjustments measured).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=20))]
    pub reports: u64,
    /// Give up if a report is not accepted on chain within this many seconds.
    #[arg(long, default_value_t = 180)]
    pub timeout_secs: u64,
    /// Also write what happened (roots, transactions, claim) as JSON to this file.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// Leave this member's node off (a crashed member): the others must still reach the
    /// quorum, and if it is the member whose turn it is, the next one submits after fallback.
    #[arg(long)]
    pub offline_member: Option<usize>,
    /// Fault injection: once the members run, stop the beacon simulator for this many
    /// seconds, then start it again on the same port with the same seed. Every member must
    /// keep running, and report 1 must still be accepted.
    #[arg(long)]
    pub beacon_outage_secs: Option<u64>,
    /// Fault injection: `kill -9` the member whose turn it is to submit report 1 right after
    /// it sent its transaction (anvil holds it unmined), start it again, then mine. The
    /// restarted member must resume that transaction, not send a second one.
    #[arg(long)]
    pub crash_submitter: bool,
    /// Prepare everything for `--reports` reports (chains, genesis, keys, contracts, every
    /// frame's activity up front, each member's `node.toml`), start no member, write the
    /// summary, and keep both chains up until interrupted: run the members yourself with
    /// `run --config <dir>/member-<i>/node.toml` (the cross-process tests do, to kill, restart
    /// or replace them).
    #[arg(long, conflicts_with_all = ["offline_member", "beacon_outage_secs", "crash_submitter", "kill_member", "liar_member", "flaky_beacon_member", "replace_member"])]
    pub hold: bool,
    /// Also run an exits round: a withdrawal queue with unmet demand, a voluntary exit request,
    /// exits round 1 accepted and published, the simulator's validators exiting on time, late
    /// and never, and report 3 showing the score and penalty effects (needs `--reports 3` or more).
    #[arg(long, conflicts_with = "hold")]
    pub exits: bool,
    /// Fault injection: `kill -9` this member once report 1 is accepted and start it again at
    /// once; it must catch up and compute every later report's root.
    #[arg(long)]
    pub kill_member: Option<usize>,
    /// Fault injection: this member's beacon node lies (validator 12's balance 1000 gwei too
    /// high from slot 140 on): it computes and gossips another root; the others reach the
    /// quorum without it and the chain accepts their root.
    #[arg(long)]
    pub liar_member: Option<usize>,
    /// Fault injection: this member's beacon node fails (15 % of answers 500/503) and is slow
    /// (20 % of answers 300 ms late); the member must still compute every accepted root.
    #[arg(long)]
    pub flaky_beacon_member: Option<usize>,
    /// Committee change: once report 1 is accepted, governance replaces this member's key
    /// (a fresh key directory, proof of possession and peer id) and raises the threshold by
    /// one, from report 3 on; the new member's node starts, the replaced one keeps running and
    /// no longer counts (needs `--reports 3` or more).
    #[arg(long)]
    pub replace_member: Option<usize>,
    /// Once every check passed, keep the chains and the members running (their APIs and
    /// operator pages stay up) until Ctrl-C; the summary is written first.
    #[arg(long, conflicts_with_all = ["hold", "external_members"])]
    pub keep_running: bool,
    /// Use this anvil (JSON-RPC URL) instead of starting one. Its own keys are not used: the
    /// devnet's accounts are fresh keys it funds with `anvil_setBalance`.
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,
    /// Use the beacon simulator at this URL instead of starting one. It must serve the scenario
    /// this command writes to `<dir>/scenario.toml` (its genesis time is on anvil's clock): the
    /// compose file's simulator waits for that file (docs/docker.md).
    #[arg(long, value_name = "URL", requires = "rpc_url")]
    pub beacon_url: Option<String>,
    /// The members run themselves (each in its own container, docs/docker.md): this command
    /// waits for `--members` public entries in `<dir>/entries/<name>.json` (`keys new
    /// --new-submitter-key`), assembles the genesis from them, funds their submitters, writes
    /// member i's `<dir>/member-<i>/node.toml` and `<dir>/names/<name>` (= i), and checks what
    /// they do. No member secret is made or read here. `--dir` is kept, not replaced.
    #[arg(long, requires = "beacon_url", conflicts_with_all = ["offline_member", "beacon_outage_secs", "crash_submitter", "hold", "kill_member", "liar_member", "flaky_beacon_member", "replace_member"])]
    pub external_members: bool,
    /// Member i's libp2p port is this plus i (default: free ports).
    #[arg(long, required_if_eq("external_members", "true"))]
    pub p2p_base_port: Option<u16>,
    /// Member i's HTTP API (and operator page) port is this plus i (default: free ports).
    #[arg(long, required_if_eq("external_members", "true"))]
    pub api_base_port: Option<u16>,
}

#[derive(Args, Clone, Default)]
pub struct NodeOverrides {
    /// Node config file (TOML); see docs/configuration.md.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (RocksDB).
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Beacon node URLs, comma separated; later ones are fallbacks.
    #[arg(long = "beacon-url", hide_env_values = true, env = "CLAYSTACK_BEACON_URLS", value_delimiter = ',')]
    pub beacon_urls: Vec<String>,
    /// Validators to account, comma separated indices or ranges ("0-63,100").
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_TRACKED", value_delimiter = ',')]
    pub tracked: Vec<String>,
    /// First beacon epoch to account when the data directory is empty.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_START_EPOCH")]
    pub start_epoch: Option<u64>,
    /// Genesis file; with it (and --rpc-url) the node closes rewards reports.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_GENESIS")]
    pub genesis: Option<PathBuf>,
    /// Committee member key directory (`claystack-oracle keys new`); makes the node sign and gossip.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_KEYS_DIR")]
    pub keys_dir: Option<PathBuf>,
    /// File holding the keystore password (else the CLAYSTACK_KEYSTORE_PASSWORD env var).
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// HTTP API listen address, e.g. 127.0.0.1:8080 (no API unless set here or in [api]).
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_API_LISTEN")]
    pub api_listen: Option<String>,
    /// libp2p listen address, e.g. /ip4/127.0.0.1/tcp/9000.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_P2P_LISTEN")]
    pub p2p_listen: Option<String>,
    /// Other committee members, comma separated multiaddrs ending in /p2p/<peer id>.
    #[arg(long = "peer", hide_env_values = true, env = "CLAYSTACK_PEERS", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Execution-chain JSON-RPC URL of the NodeManager (a member then submits certificates).
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_RPC_URL")]
    pub rpc_url: Option<String>,
    /// File holding the submitter account's hex private key.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_SUBMITTER_KEY_FILE")]
    pub submitter_key_file: Option<PathBuf>,
    /// Never bid more than this max fee per gas (gwei) for a submission; no cap by default.
    #[arg(long, env = "CLAYSTACK_MAX_FEE_PER_GAS_GWEI")]
    pub max_fee_per_gas_gwei: Option<u64>,
}

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub node: NodeOverrides,
    /// Exit once this beacon epoch is accounted (for scripts and tests).
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_UNTIL_EPOCH")]
    pub until_epoch: Option<u64>,
}

#[derive(Args)]
pub struct TalliesArgs {
    /// Data directory (RocksDB) of a node.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// First beacon epoch to print (default: the first stored).
    #[arg(long)]
    pub from: Option<u64>,
    /// Last beacon epoch to print (default: the last accounted).
    #[arg(long)]
    pub to: Option<u64>,
    /// `table` (sums per validator), or `json` (every epoch, the simulator's truth format).
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Subcommand)]
pub enum SigningRecordCommand {
    /// Write every own signature of the data dir to a JSON file (docs/keys.md has the format).
    Export(SigningRecordArgs),
    /// Add a JSON signing record to the data dir; refuses another network, member or root.
    Import(SigningRecordArgs),
}

#[derive(Args)]
pub struct SigningRecordArgs {
    /// Data directory (RocksDB) of the node; the node must not be running.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Genesis file of the committee.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_GENESIS")]
    pub genesis: PathBuf,
    /// The member's key directory (only its public member.json is read).
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_KEYS_DIR")]
    pub keys_dir: PathBuf,
    /// The JSON file to write (export) or read (import).
    #[arg(long)]
    pub file: PathBuf,
}

#[derive(Subcommand)]
pub enum SimCommand {
    /// Serve a deterministic simulated beacon chain over the standard Beacon API.
    Beacon(SimBeaconArgs),
}

#[derive(Args)]
pub struct SimBeaconArgs {
    /// Scenario file (TOML); see crates/beacon-sim/README.md.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5052")]
    pub listen: SocketAddr,
    /// Write the ground truth of the tracked validators' tallies to this file and continue serving.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// Last beacon epoch of the ground truth (default: the last one whose inclusion window is complete).
    #[arg(long)]
    pub truth_through: Option<u64>,
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// Compute rewards report N from stored tallies; write report.json, tree.json and frame-log.json, print the root.
    Compute(ReportArgs),
    /// Recompute rewards report N and compare its root with --root (or the one accepted on chain).
    Verify(VerifyArgs),
    /// Recompute exits round N from the chains and compare it with the NodeManager's exits report N.
    VerifyExits(VerifyExitsArgs),
    /// Print one operator's lines of a report and its frame log, for a person to read.
    Explain(ExplainArgs),
}

#[derive(Args)]
pub struct ExplainArgs {
    /// Operator address (0x-hex).
    #[arg(long)]
    pub operator: String,
    /// A report's directory: report.json and frame-log.json (a node's `<data_dir>/reports/rewards-N`,
    /// or the --out of `report compute`).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Report number N, counted from 1; its frame (beacon epochs) is fixed by the genesis.
    #[arg(long, value_name = "N")]
    pub number: u64,
    /// Genesis file (its economics fix the rewards rules and the frame length).
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_GENESIS")]
    pub genesis: PathBuf,
    /// Frame inputs file (a report's exported `inputs.json`): registry, facts, rewards source, SSV
    /// price, adjustments, previous carry. Instead of --rpc-url.
    #[arg(long, conflicts_with = "rpc_url")]
    pub inputs: Option<PathBuf>,
    /// Data directory whose accounted tallies cover the frame.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Directory for report.json, tree.json and frame-log.json (compute only).
    #[arg(long, default_value = ".")]
    pub out: PathBuf,
    /// JSON-RPC of the genesis execution chain: measure every frame input as the committee does
    /// (contracts at the reference blocks; consensus rewards and facts from --beacon-url);
    /// `verify` without --root compares with the root the NodeManager accepted.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_RPC_URL")]
    pub rpc_url: Option<String>,
    /// Beacon node(s), with --rpc-url: the frame's reference block, validator records and balances.
    #[arg(long = "beacon-url", hide_env_values = true, env = "CLAYSTACK_BEACON_URLS", value_delimiter = ',')]
    pub beacon_urls: Vec<String>,
}

#[derive(Args)]
pub struct VerifyExitsArgs {
    /// Exits round N, counted from 1; its reference epoch is fixed by the genesis `exits` section.
    #[arg(long, value_name = "N")]
    pub number: u64,
    /// Genesis file with an `exits` section.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_GENESIS")]
    pub genesis: PathBuf,
    /// Data directory of a node: its accounting cursor and the rewards report the round's scores come from.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_DATA_DIR")]
    pub data_dir: PathBuf,
    /// JSON-RPC of the genesis execution chain: the withdrawal queue, the registry, the NodeManager.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_RPC_URL")]
    pub rpc_url: String,
    /// Beacon node(s): the round's reference block and validator records.
    #[arg(
        long = "beacon-url",
        hide_env_values = true,
        env = "CLAYSTACK_BEACON_URLS",
        value_delimiter = ',',
        required = true
    )]
    pub beacon_urls: Vec<String>,
}

#[derive(Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub report: ReportArgs,
    /// The root to compare with (0x-hex, 32 bytes); default with --rpc-url: the one accepted on chain.
    #[arg(long)]
    pub root: Option<String>,
}

#[derive(Args)]
pub struct ProofArgs {
    /// Operator address (0x-hex).
    #[arg(long)]
    pub operator: String,
    /// Tree dump written by `report compute` (OpenZeppelin standard-v1 JSON).
    #[arg(long, default_value = "tree.json")]
    pub tree: PathBuf,
}

#[derive(Subcommand)]
pub enum GenesisCommand {
    /// Local networks only: write a genesis and every member's secret keys, all in one place.
    /// A real committee uses `keys new` on each member's machine, then `genesis assemble`.
    New(GenesisNewArgs),
    /// Build a genesis from a template and the members' public entries (no secret is read).
    Assemble(GenesisAssembleArgs),
    /// Sign this member's approval of a genesis's hash with the member's BLS key.
    Approve(GenesisApproveArgs),
    /// Check a genesis file and, with --approvals, that every member approved it; print its
    /// hash, or every problem on its own line.
    Verify(GenesisVerifyArgs),
}

#[derive(Args)]
pub struct GenesisAssembleArgs {
    /// Genesis template: a genesis file whose `committee.members` is empty or absent.
    #[arg(long)]
    pub template: PathBuf,
    /// A member's entry (their key directory's member.json, with a submitter); repeat per member.
    #[arg(long = "member", value_name = "FILE")]
    pub members: Vec<PathBuf>,
    /// A directory whose every `*.json` file is a member's entry.
    #[arg(long, value_name = "DIR")]
    pub members_dir: Option<PathBuf>,
    /// The genesis file to write; an existing file is only accepted if identical.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct GenesisApproveArgs {
    /// The genesis file to approve.
    #[arg(long)]
    pub genesis: PathBuf,
    /// This member's key directory (its BLS key must be in the genesis committee).
    #[arg(long)]
    pub keys_dir: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// The approval file to write (public: genesis hash, BLS public key, signature).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args)]
pub struct GenesisNewArgs {
    /// Committee size.
    #[arg(long, default_value_t = 4)]
    pub members: usize,
    /// Signatures needed for a quorum (more than half the members).
    #[arg(long, default_value_t = 3)]
    pub threshold: u32,
    /// EVM chain id (31337 is anvil's).
    #[arg(long, default_value_t = 31337)]
    pub chain_id: u64,
    /// Beacon epoch where the frame of report 1 starts.
    #[arg(long, default_value_t = 0)]
    pub first_epoch: u64,
    /// The beacon chain's genesis validators root (0x-hex, `GET /eth/v1/beacon/genesis`):
    /// nodes then refuse a beacon node of another network.
    #[arg(long, value_name = "ROOT")]
    pub beacon_genesis_validators_root: Option<String>,
    /// 32-byte hex seed for reproducible keys (local testnets only); random if absent.
    #[arg(long)]
    pub seed: Option<String>,
    /// Output directory: genesis.json, member-<i>/ key directories and (unless
    /// --password-file is given) the keystores' password in `password`.
    #[arg(long, default_value = "genesis/local")]
    pub out: PathBuf,
    /// Encrypt the members' keystores with this password instead of a fresh one.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Production-cost scrypt for the keystores (default: the fast local-testnet cost).
    #[arg(long)]
    pub production_kdf: bool,
}

#[derive(Args)]
pub struct GenesisVerifyArgs {
    /// The genesis file.
    #[arg(long, hide_env_values = true, env = "CLAYSTACK_GENESIS")]
    pub genesis: PathBuf,
    /// A directory of approval files (`genesis approve`): succeed only if every member approved.
    #[arg(long, value_name = "DIR")]
    pub approvals: Option<PathBuf>,
}

#[derive(Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Create a key directory: a new BLS key in an EIP-2335 keystore, a libp2p identity and member.json.
    New(NewArgs),
    /// Create a key directory around an existing EIP-2335 keystore (the password must open it).
    Import(ImportArgs),
    /// Print the public key, proof of possession and peer id of a key directory, or of each one under a directory.
    List(ListArgs),
}

/// Exactly one of the two must be given.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct PasswordArgs {
    /// File holding the keystore password (one trailing newline is not part of it).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// Name of an environment variable holding the keystore password.
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

#[derive(Args)]
pub struct NewArgs {
    /// Key directory to create; it must not hold keys already.
    #[arg(long)]
    pub dir: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Cheap scrypt (n=2^14 instead of 2^18) for tests and local testnets only: 16 times faster to brute-force.
    #[arg(long)]
    pub fast_kdf: bool,
    /// The execution-layer address this member's node submits reports from (recorded in member.json).
    #[arg(long, value_name = "ADDRESS", conflicts_with = "new_submitter_key")]
    pub submitter: Option<String>,
    /// Make a fresh submitter key in DIR/submitter.key (mode 0600, the `run --submitter-key-file`
    /// format) and record its address in member.json.
    #[arg(long)]
    pub new_submitter_key: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    /// The EIP-2335 keystore (version 4) holding the member's BLS secret key.
    #[arg(long)]
    pub keystore: PathBuf,
    /// Key directory to create; it must not hold keys already.
    #[arg(long)]
    pub dir: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
}

#[derive(Args)]
pub struct ListArgs {
    /// A key directory, or a directory whose subdirectories are key directories.
    #[arg(long)]
    pub dir: PathBuf,
    /// `table` for people; `json`, an array of genesis member entries (with `submitter` if recorded) and their directories.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

//! Sending one transaction until it is mined: the rules every write of this crate follows
//! (deployments, reports, claims).
//!
//! 1. Simulate it (`eth_call` from the sender at the latest block): a call the contract
//!    rejects is never sent, and its revert is decoded by name.
//! 2. Gas limit: the node's estimate plus a margin. Fees: EIP-1559, from the node's fee
//!    history (`max_fee`, `max_priority_fee`). Nonce: explicit, the sender's count of
//!    *mined* transactions, so a transaction of this key left pending by an earlier run is
//!    replaced rather than queued behind.
//! 3. Sign locally and send the raw transaction; poll for a receipt of any of the hashes
//!    sent for this nonce until a timeout.
//! 4. Not mined in time (dropped, or stuck under-priced): ask the caller whether it is
//!    still wanted, then replace it — same nonce, both fees raised by at least 12.5%
//!    (nodes refuse replacements below +10%) and never below the node's current estimate.
//!    After `max_replacements` replacements, give up with [`ChainError::Stuck`].
//! 5. A configured fee cap (`TxConfig::max_fee_per_gas_cap`) is never exceeded: above it
//!    the transaction bids the cap, and a replacement that the cap leaves no room for is
//!    not sent (the one already sent keeps waiting). Hitting the cap is one warn line per
//!    transaction.
//! 6. With a journal ([`Transactor::send_journaled`]), the transaction's nonce, gas limit,
//!    fees and hashes are saved *before* each is sent, so a process killed with a
//!    transaction in flight resumes it ([`InFlight`]): it looks the hashes up, and re-sends
//!    or replaces with the same nonce, instead of estimating and sending a second one.
//!
//! The private key stays inside the [`EthereumWallet`]; nothing here formats it.

use crate::bindings::{decode_revert, ContractError};
use crate::error::ChainError;
use alloy::eips::eip1559::Eip1559Estimation;
use alloy::eips::{BlockId, Encodable2718};
use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::{Address, Bytes, TxKind, B256, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{Filter, Log, TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use claystack_primitives::redact::RedactedUrl;
use std::future::Future;
use std::time::Duration;
use tracing::{debug, info, warn};

/// Blocks per `eth_getLogs` request: public nodes cap the range (often at 10,000).
pub const LOG_RANGE: u64 = 5_000;

/// The smallest fee increase of a replacement, in basis points: 12.5%.
pub const MIN_FEE_BUMP_BPS: u32 = 1250;

/// How transactions are sent and replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxConfig {
    /// How long to wait for a receipt before replacing the transaction.
    pub receipt_timeout: Duration,
    /// How often to ask for a receipt.
    pub poll_interval: Duration,
    /// Replacements (same nonce, higher fees) before giving up.
    pub max_replacements: u32,
    /// Fee increase of each replacement, in basis points; at least [`MIN_FEE_BUMP_BPS`].
    pub fee_bump_bps: u32,
    /// Never offer a max fee per gas above this (wei); `None` for no cap.
    pub max_fee_per_gas_cap: Option<u128>,
    /// Added to the node's gas estimate, in basis points.
    pub gas_margin_bps: u32,
}

impl Default for TxConfig {
    fn default() -> TxConfig {
        TxConfig {
            receipt_timeout: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            max_replacements: 5,
            fee_bump_bps: MIN_FEE_BUMP_BPS,
            max_fee_per_gas_cap: None,
            gas_margin_bps: 2000,
        }
    }
}

/// EIP-7825 (Osaka): the most gas one transaction may use, 2^24.
pub const TX_GAS_CAP: u64 = 16_777_216;

/// A mined transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mined {
    pub tx: B256,
    pub block: u64,
    pub gas_used: u64,
    /// False if it reverted.
    pub success: bool,
    pub contract_address: Option<Address>,
    pub logs: Vec<Log>,
    /// Replacements sent before one of the transactions was mined.
    pub replacements: u32,
}

/// What became of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    Mined(Mined),
    /// The caller no longer wanted it before a replacement; these hashes may still be pending.
    Abandoned {
        pending: Vec<B256>,
    },
}

/// EIP-1559 fees of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fees {
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

impl From<Eip1559Estimation> for Fees {
    fn from(e: Eip1559Estimation) -> Fees {
        Fees { max_fee_per_gas: e.max_fee_per_gas, max_priority_fee_per_gas: e.max_priority_fee_per_gas }
    }
}

/// Clamps `fees` to `cap` (wei per gas): `(fees, true)` when the cap lowered them.
pub fn cap_fees(fees: Fees, cap: Option<u128>) -> (Fees, bool) {
    match cap {
        Some(cap) if fees.max_fee_per_gas > cap => {
            (Fees { max_fee_per_gas: cap, max_priority_fee_per_gas: fees.max_priority_fee_per_gas.min(cap) }, true)
        }
        _ => (fees, false),
    }
}

/// The fees of a replacement under `cap`: [`bump_fees`], clamped to the cap, or `None`
/// when the cap leaves no room for a replacement nodes would take (both fees at least
/// `MIN_FEE_BUMP_BPS` above the previous attempt). The bool says whether the cap bit.
pub fn replacement_fees(previous: Fees, estimate: Fees, bump_bps: u32, cap: Option<u128>) -> (Option<Fees>, bool) {
    let (next, capped) = cap_fees(bump_fees(previous, estimate, bump_bps), cap);
    let least_max = raise(previous.max_fee_per_gas, MIN_FEE_BUMP_BPS);
    let least_priority = raise(previous.max_priority_fee_per_gas, MIN_FEE_BUMP_BPS);
    if next.max_fee_per_gas < least_max || next.max_priority_fee_per_gas < least_priority {
        return (None, capped);
    }
    (Some(next), capped)
}

/// A transaction sent and not yet known to be mined, as a journal keeps it: enough to find
/// it again after a crash, and to re-send or replace it with the same nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub nonce: u64,
    pub gas_limit: u64,
    /// The fees of the last attempt.
    pub fees: Fees,
    /// Every hash sent for this nonce, oldest first (replacements, or a changed call).
    pub hashes: Vec<B256>,
    /// Replacements so far.
    pub attempt: u32,
    /// When the last attempt was sent, in Unix milliseconds (for operators; nothing waits on it).
    pub sent_at_ms: u64,
}

const IN_FLIGHT_V1: u8 = 1;
const IN_FLIGHT_HEAD: usize = 1 + 8 + 8 + 16 + 16 + 4 + 8 + 4;

impl InFlight {
    /// Version byte, then big-endian fixed-width fields, then the hashes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(IN_FLIGHT_HEAD + 32 * self.hashes.len());
        out.push(IN_FLIGHT_V1);
        out.extend_from_slice(&self.nonce.to_be_bytes());
        out.extend_from_slice(&self.gas_limit.to_be_bytes());
        out.extend_from_slice(&self.fees.max_fee_per_gas.to_be_bytes());
        out.extend_from_slice(&self.fees.max_priority_fee_per_gas.to_be_bytes());
        out.extend_from_slice(&self.attempt.to_be_bytes());
        out.extend_from_slice(&self.sent_at_ms.to_be_bytes());
        out.extend_from_slice(&(self.hashes.len() as u32).to_be_bytes());
        for h in &self.hashes {
            out.extend_from_slice(h.as_slice());
        }
        out
    }

    /// `None` when the bytes are not a version-1 record.
    pub fn decode(b: &[u8]) -> Option<InFlight> {
        if b.len() < IN_FLIGHT_HEAD || b[0] != IN_FLIGHT_V1 {
            return None;
        }
        let u64_at = |at: usize| u64::from_be_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let u128_at = |at: usize| u128::from_be_bytes(b[at..at + 16].try_into().expect("16 bytes"));
        let u32_at = |at: usize| u32::from_be_bytes(b[at..at + 4].try_into().expect("4 bytes"));
        let count = u32_at(IN_FLIGHT_HEAD - 4) as usize;
        let rest = &b[IN_FLIGHT_HEAD..];
        if rest.len() != count.checked_mul(32)? {
            return None;
        }
        Some(InFlight {
            nonce: u64_at(1),
            gas_limit: u64_at(9),
            fees: Fees { max_fee_per_gas: u128_at(17), max_priority_fee_per_gas: u128_at(33) },
            attempt: u32_at(49),
            sent_at_ms: u64_at(53),
            hashes: rest.chunks_exact(32).map(B256::from_slice).collect(),
        })
    }
}

/// Saves an [`InFlight`] record durably; called before each attempt is sent.
pub(crate) type SaveInFlight<'a> = &'a (dyn Fn(&InFlight) -> Result<(), ChainError> + Send + Sync);

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn raise(value: u128, bump_bps: u32) -> u128 {
    let bps = u128::from(bump_bps.max(MIN_FEE_BUMP_BPS));
    // ceil(value * (1 + bps/10000)), and at least one more, so a tiny fee still grows.
    let raised = value.saturating_mul(10_000 + bps).div_ceil(10_000);
    raised.max(value.saturating_add(1))
}

/// The fees of a replacement: both raised by at least `bump_bps` (at least 12.5%) over the
/// previous attempt, and never below what the node estimates now.
pub fn bump_fees(previous: Fees, estimate: Fees, bump_bps: u32) -> Fees {
    let priority = raise(previous.max_priority_fee_per_gas, bump_bps).max(estimate.max_priority_fee_per_gas);
    let max_fee = raise(previous.max_fee_per_gas, bump_bps).max(estimate.max_fee_per_gas).max(priority);
    Fees { max_fee_per_gas: max_fee, max_priority_fee_per_gas: priority }
}

/// A provider, its URL as messages show it (credentials, path and query redacted) and the
/// chain id.
#[derive(Debug, Clone)]
pub struct Rpc {
    pub(crate) provider: RootProvider,
    pub(crate) url: String,
    /// Scrubs the URL's secret parts out of the transport's error messages.
    pub(crate) redacted: RedactedUrl,
    pub(crate) chain_id: u64,
    /// Calls that failed through [`Rpc::err`], shared by every clone: a metric.
    pub(crate) errors: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Rpc {
    /// Connects to `url` over HTTP and checks that it serves chain `expected_chain_id`.
    /// The URL never appears in a message or log as given: see [`Rpc::url`].
    pub async fn connect(url: &str, expected_chain_id: u64) -> Result<Rpc, ChainError> {
        let redacted = RedactedUrl::new(url);
        let shown = redacted.shown().to_string();
        let parsed = url.parse().map_err(|e| ChainError::Invalid {
            what: format!("execution RPC URL `{shown}`"),
            message: format!("not a URL ({}); use e.g. http://127.0.0.1:8545", redacted.scrub(&format!("{e}"))),
        })?;
        let provider = RootProvider::new_http(parsed);
        let rpc = Rpc { provider, url: shown, redacted, chain_id: 0, errors: Default::default() };
        let chain_id = rpc.provider.get_chain_id().await.map_err(|e| rpc.err("eth_chainId", e))?;
        if chain_id != expected_chain_id {
            return Err(ChainError::WrongChain { url: rpc.url, got: chain_id, expected: expected_chain_id });
        }
        Ok(Rpc { chain_id, ..rpc })
    }

    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }

    /// The URL as messages show it: `scheme://[***@]host[:port][/***][?***]`.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The number of the node's latest block.
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.provider.get_block_number().await.map_err(|e| self.err("eth_blockNumber", e))
    }

    /// Failed calls over this connection and its clones so far: transport errors, error
    /// answers and reverted calls alike (every failure becomes a [`ChainError`] here).
    pub fn errors(&self) -> u64 {
        self.errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every log `filter` matches in blocks `from..=to`, in chain order, asked in ranges of
    /// [`LOG_RANGE`] blocks. `name` says what is read in an error (e.g. the event's name).
    pub(crate) async fn logs(&self, filter: Filter, name: &str, from: u64, to: u64) -> Result<Vec<Log>, ChainError> {
        let mut out = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(LOG_RANGE - 1));
            let chunk = filter.clone().from_block(start).to_block(end);
            let logs = self
                .provider
                .get_logs(&chunk)
                .await
                .map_err(|e| self.err(format!("eth_getLogs {name} {start}..={end}"), e))?;
            out.extend(logs);
            if end == u64::MAX {
                break;
            }
            start = end + 1;
        }
        Ok(out)
    }

    pub(crate) fn err(&self, what: impl Into<String>, e: impl std::fmt::Display) -> ChainError {
        self.errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        ChainError::rpc(&self.url, what, self.redacted.scrub(&e.to_string()))
    }

    /// Fails with [`ChainError::NoCode`] unless `address` holds code at `block`.
    pub(crate) async fn require_code(
        &self,
        contract: &'static str,
        field: &'static str,
        address: Address,
        block: BlockId,
    ) -> Result<(), ChainError> {
        let code = self
            .provider
            .get_code_at(address)
            .block_id(block)
            .await
            .map_err(|e| self.err(format!("eth_getCode of {contract} {address}"), e))?;
        if code.is_empty() {
            let block = match block {
                BlockId::Number(n) => n.to_string(),
                BlockId::Hash(h) => h.block_hash.to_string(),
            };
            return Err(ChainError::NoCode { contract, field, address, block });
        }
        Ok(())
    }

    /// `eth_call` of `input` to `to` from `from` at `block`: `Ok(Err(..))` is the contract's
    /// decoded rejection, `Err` an RPC failure.
    pub(crate) async fn simulate(
        &self,
        what: &str,
        from: Address,
        to: TxKind,
        input: &Bytes,
        value: U256,
        block: BlockId,
    ) -> Result<Result<Bytes, ContractError>, ChainError> {
        let req =
            TransactionRequest::default().with_from(from).with_kind(to).with_input(input.clone()).with_value(value);
        match self.provider.call(req).block(block).await {
            Ok(out) => Ok(Ok(out)),
            Err(e) => match e.as_error_resp().and_then(|p| p.as_revert_data()) {
                Some(data) => Ok(Err(decode_revert(&data))),
                // Some nodes answer a revert without data as a plain "execution reverted".
                None if e.to_string().contains("revert") => Ok(Err(decode_revert(&[]))),
                None => Err(self.err(format!("{what}: eth_call"), e)),
            },
        }
    }
}

/// A local key that sends transactions by the rules of this module.
#[derive(Clone)]
pub struct Transactor {
    rpc: Rpc,
    wallet: EthereumWallet,
    from: Address,
    config: TxConfig,
}

impl std::fmt::Debug for Transactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transactor").field("from", &self.from).field("rpc", &self.rpc.url).finish_non_exhaustive()
    }
}

/// One transaction to send.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    /// What it is, for logs and errors ("submitReport rewards 3").
    pub what: String,
    pub to: TxKind,
    pub input: Bytes,
    pub value: U256,
}

impl Transactor {
    pub fn new(rpc: Rpc, signer: PrivateKeySigner, config: TxConfig) -> Transactor {
        let from = signer.address();
        Transactor { rpc, wallet: EthereumWallet::from(signer), from, config }
    }

    pub fn address(&self) -> Address {
        self.from
    }

    pub fn rpc(&self) -> &Rpc {
        &self.rpc
    }

    pub fn config(&self) -> &TxConfig {
        &self.config
    }

    /// Sends `call` (never abandoned) and fails unless it was mined and succeeded.
    pub(crate) async fn mined(&self, call: &Call) -> Result<Mined, ChainError> {
        let m = match self.send(call, || async { Ok(true) }).await? {
            Sent::Mined(m) => m,
            Sent::Abandoned { .. } => unreachable!("a transaction that is always still wanted is never abandoned"),
        };
        if !m.success {
            return Err(ChainError::Reverted { what: call.what.clone(), tx: m.tx, block: m.block });
        }
        Ok(m)
    }

    /// Simulates `call`, then sends it and waits until it is mined. Before each replacement
    /// `still_wanted` is asked; `Ok(false)` abandons the transaction.
    pub(crate) async fn send<W, F>(&self, call: &Call, still_wanted: W) -> Result<Sent, ChainError>
    where
        W: FnMut() -> F,
        F: Future<Output = Result<bool, ChainError>>,
    {
        self.send_journaled(call, None, &|_| Ok(()), still_wanted).await
    }

    /// [`send`](Transactor::send), saving each attempt with `save` before it is sent. With
    /// `resume` (what a previous run saved), nothing is simulated or estimated: the saved
    /// hashes are looked up, and the call is sent again with the saved nonce, gas limit and
    /// fees — the node answers "already known" if it still holds it, takes it again if it
    /// dropped it, or asks for higher fees if the call changed (a replacement).
    pub(crate) async fn send_journaled<W, F>(
        &self,
        call: &Call,
        resume: Option<InFlight>,
        save: SaveInFlight<'_>,
        mut still_wanted: W,
    ) -> Result<Sent, ChainError>
    where
        W: FnMut() -> F,
        F: Future<Output = Result<bool, ChainError>>,
    {
        let what = call.what.as_str();
        let request = TransactionRequest::default()
            .with_from(self.from)
            .with_kind(call.to)
            .with_input(call.input.clone())
            .with_value(call.value);
        let mut cap_warned = false;
        let mut state = match resume {
            Some(saved) => {
                info!(what, nonce = saved.nonce, tx = ?saved.hashes.last(), attempt = saved.attempt, "resuming the transaction an earlier run sent");
                if let Some(m) = self.find_mined(what, &saved.hashes, saved.attempt).await? {
                    return Ok(Sent::Mined(m));
                }
                // Still pending at the node: wait for it as it was sent. Sending the call now
                // would replace it for nothing when the call changed meanwhile (a restarted
                // member may hold a certificate with other signers, just as valid).
                if let Some(&last) = saved.hashes.last() {
                    let pending = self
                        .rpc
                        .provider
                        .get_transaction_by_hash(last)
                        .await
                        .map_err(|e| self.rpc.err(format!("{what}: eth_getTransactionByHash"), e))?;
                    if pending.is_some() {
                        info!(what, tx = %last, "the execution node still holds it; waiting for it to be mined");
                        if let Some(m) = self.wait(what, &saved.hashes, saved.attempt).await? {
                            return Ok(Sent::Mined(m));
                        }
                    }
                }
                saved
            }
            None => self.first_attempt(call, &request, &mut cap_warned).await?,
        };
        loop {
            let (nonce, fees, attempt) = (state.nonce, state.fees, state.attempt);
            let tx = request
                .clone()
                .with_chain_id(self.rpc.chain_id)
                .with_nonce(nonce)
                .with_gas_limit(state.gas_limit)
                .with_max_fee_per_gas(fees.max_fee_per_gas)
                .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
            let envelope = tx.build(&self.wallet).await.map_err(|e| ChainError::Invalid {
                what: what.to_string(),
                message: format!("cannot sign the transaction: {e}"),
            })?;
            let hash = *envelope.tx_hash();
            let raw = envelope.encoded_2718();
            let again = state.hashes.contains(&hash);
            if !again {
                state.hashes.push(hash);
            }
            state.sent_at_ms = unix_ms();
            // On disk before it can be on the network: a crash after this line resumes it.
            save(&state)?;
            match self.rpc.provider.send_raw_transaction(&raw).await {
                Ok(_) => {}
                Err(e) => {
                    let text = e.to_string().to_lowercase();
                    if text.contains("already known") || text.contains("already imported") {
                        // The node has exactly this transaction: nothing to do.
                    } else if text.contains("nonce too low") {
                        // Mined meanwhile: one of ours, or someone else's with our key.
                        if let Some(m) = self.find_mined(what, &state.hashes, attempt).await? {
                            return Ok(Sent::Mined(m));
                        }
                        return Err(ChainError::NonceTaken { what: what.to_string(), from: self.from, nonce });
                    } else if text.contains("underpriced") && attempt < self.config.max_replacements {
                        // A pending transaction with this nonce pays more: outbid it.
                        match self.next_fees(what, fees, &mut cap_warned).await? {
                            Some(next) => {
                                state.attempt += 1;
                                state.fees = next;
                                warn!(
                                    what,
                                    nonce,
                                    attempt = state.attempt,
                                    max_fee = next.max_fee_per_gas,
                                    "replacement underpriced; raising fees"
                                );
                                continue;
                            }
                            None => return Err(self.rpc.err(format!("{what}: eth_sendRawTransaction"), e)),
                        }
                    } else {
                        return Err(self.rpc.err(format!("{what}: eth_sendRawTransaction"), e));
                    }
                }
            }
            if again {
                // The very transaction sent before (a resume, or a wait at the fee cap).
                info!(what, %hash, nonce, attempt, "transaction sent again, unchanged");
            } else {
                info!(what, %hash, nonce, attempt, max_fee = fees.max_fee_per_gas, priority_fee = fees.max_priority_fee_per_gas, "transaction sent");
            }

            if let Some(m) = self.wait(what, &state.hashes, attempt).await? {
                return Ok(Sent::Mined(m));
            }
            // Not mined in time. Mined by someone else's transaction with our nonce?
            let mined_count = self
                .rpc
                .provider
                .get_transaction_count(self.from)
                .latest()
                .await
                .map_err(|e| self.rpc.err(format!("{what}: eth_getTransactionCount"), e))?;
            if mined_count > nonce {
                if let Some(m) = self.find_mined(what, &state.hashes, attempt).await? {
                    return Ok(Sent::Mined(m));
                }
                return Err(ChainError::NonceTaken { what: what.to_string(), from: self.from, nonce });
            }
            if attempt >= self.config.max_replacements {
                return Err(ChainError::Stuck {
                    what: what.to_string(),
                    nonce,
                    attempts: attempt + 1,
                    tx: hash,
                    max_fee_per_gas: fees.max_fee_per_gas,
                });
            }
            if !still_wanted().await? {
                info!(what, nonce, "transaction no longer needed; not replacing it");
                return Ok(Sent::Abandoned { pending: state.hashes });
            }
            state.attempt += 1;
            match self.next_fees(what, fees, &mut cap_warned).await? {
                Some(next) => {
                    state.fees = next;
                    warn!(what, nonce, attempt = state.attempt, %hash, "not mined in time; replacing with higher fees");
                }
                // At the cap: send the same transaction again (the node may have dropped it)
                // and keep waiting for it.
                None => debug!(what, nonce, %hash, "not mined in time; at the fee cap, waiting on"),
            }
        }
    }

    /// Simulation, gas limit, nonce and fees of a transaction not sent before.
    async fn first_attempt(
        &self,
        call: &Call,
        request: &TransactionRequest,
        cap_warned: &mut bool,
    ) -> Result<InFlight, ChainError> {
        let what = call.what.as_str();
        if let Err(error) =
            self.rpc.simulate(what, self.from, call.to, &call.input, call.value, BlockId::latest()).await?
        {
            return Err(ChainError::Rejected { what: what.to_string(), error });
        }
        let estimate = self
            .rpc
            .provider
            .estimate_gas(request.clone())
            .await
            .map_err(|e| self.rpc.err(format!("{what}: eth_estimateGas"), e))?;
        if estimate > TX_GAS_CAP {
            return Err(ChainError::Invalid {
                what: what.to_string(),
                message: format!(
                    "needs {estimate} gas, above EIP-7825's per-transaction cap of {TX_GAS_CAP}; split it into smaller transactions"
                ),
            });
        }
        // The margin never takes a transaction past the cap a chain with EIP-7825 enforces.
        let gas_limit = estimate
            .saturating_add(estimate.saturating_mul(u64::from(self.config.gas_margin_bps)) / 10_000)
            .min(TX_GAS_CAP);
        let nonce = self
            .rpc
            .provider
            .get_transaction_count(self.from)
            .latest()
            .await
            .map_err(|e| self.rpc.err(format!("{what}: eth_getTransactionCount of {}", self.from), e))?;
        let wanted = self.estimate_fees(what).await?;
        let (fees, capped) = cap_fees(wanted, self.config.max_fee_per_gas_cap);
        if capped {
            self.warn_cap(what, wanted.max_fee_per_gas, cap_warned);
        }
        Ok(InFlight { nonce, gas_limit, fees, hashes: Vec::new(), attempt: 0, sent_at_ms: 0 })
    }

    fn warn_cap(&self, what: &str, needed: u128, warned: &mut bool) {
        if !std::mem::replace(warned, true) {
            let cap = self.config.max_fee_per_gas_cap.unwrap_or_default();
            warn!(what, needed, cap, "fee cap reached: bidding the cap of {cap} wei/gas instead of {needed}; the transaction waits until fees fall below it");
        }
    }

    async fn estimate_fees(&self, what: &str) -> Result<Fees, ChainError> {
        let e = self
            .rpc
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| self.rpc.err(format!("{what}: fee estimate (eth_feeHistory)"), e))?;
        Ok(e.into())
    }

    /// The next replacement's fees, or `None` when the fee cap leaves no room for one.
    async fn next_fees(&self, what: &str, previous: Fees, cap_warned: &mut bool) -> Result<Option<Fees>, ChainError> {
        let estimate = self.estimate_fees(what).await?;
        let cap = self.config.max_fee_per_gas_cap;
        let (next, capped) = replacement_fees(previous, estimate, self.config.fee_bump_bps, cap);
        if capped {
            let wanted = bump_fees(previous, estimate, self.config.fee_bump_bps);
            self.warn_cap(what, wanted.max_fee_per_gas, cap_warned);
        }
        Ok(next)
    }

    /// Polls for a receipt of any hash in `sent` until the receipt timeout.
    async fn wait(&self, what: &str, sent: &[B256], replacements: u32) -> Result<Option<Mined>, ChainError> {
        let deadline = tokio::time::Instant::now() + self.config.receipt_timeout;
        loop {
            if let Some(m) = self.find_mined(what, sent, replacements).await? {
                return Ok(Some(m));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(self.config.poll_interval).await;
        }
    }

    /// The receipt of the first of `sent` that is mined, if one is.
    pub(crate) async fn find_mined(
        &self,
        what: &str,
        sent: &[B256],
        replacements: u32,
    ) -> Result<Option<Mined>, ChainError> {
        for hash in sent {
            let receipt = self
                .rpc
                .provider
                .get_transaction_receipt(*hash)
                .await
                .map_err(|e| self.rpc.err(format!("{what}: eth_getTransactionReceipt {hash}"), e))?;
            if let Some(r) = receipt {
                let m = mined(r, replacements);
                debug!(what, tx = %m.tx, block = m.block, gas_used = m.gas_used, success = m.success, "mined");
                return Ok(Some(m));
            }
        }
        Ok(None)
    }
}

fn mined(r: TransactionReceipt, replacements: u32) -> Mined {
    Mined {
        tx: r.transaction_hash,
        block: r.block_number.unwrap_or_default(),
        gas_used: r.gas_used,
        success: r.status(),
        contract_address: r.contract_address,
        logs: r.inner.logs().to_vec(),
        replacements,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replacement_fees_rise_at_least_an_eighth() {
        let prev = Fees { max_fee_per_gas: 2_000_000_000, max_priority_fee_per_gas: 1_000_000_000 };
        let low = Fees { max_fee_per_gas: 1, max_priority_fee_per_gas: 1 };
        let next = bump_fees(prev, low, MIN_FEE_BUMP_BPS);
        assert_eq!(next, Fees { max_fee_per_gas: 2_250_000_000, max_priority_fee_per_gas: 1_125_000_000 });
        // A smaller configured bump is raised to 12.5%.
        assert_eq!(bump_fees(prev, low, 100), next);
        // The node's estimate wins when it is higher.
        let high = Fees { max_fee_per_gas: 9_000_000_000, max_priority_fee_per_gas: 3_000_000_000 };
        assert_eq!(bump_fees(prev, high, MIN_FEE_BUMP_BPS), high);
    }

    #[test]
    fn tiny_fees_still_grow_and_rounding_goes_up() {
        let prev = Fees { max_fee_per_gas: 1, max_priority_fee_per_gas: 0 };
        let zero = Fees { max_fee_per_gas: 0, max_priority_fee_per_gas: 0 };
        let next = bump_fees(prev, zero, MIN_FEE_BUMP_BPS);
        assert_eq!(next, Fees { max_fee_per_gas: 2, max_priority_fee_per_gas: 1 });
        // 9 * 1.125 = 10.125 -> 11.
        assert_eq!(raise(9, MIN_FEE_BUMP_BPS), 11);
        assert_eq!(raise(u128::MAX, MIN_FEE_BUMP_BPS), u128::MAX);
    }

    const GWEI: u128 = 1_000_000_000;

    #[test]
    fn the_cap_bounds_the_first_bid_and_every_replacement() {
        // The numbers: a 1,600 gwei base fee made the node bid 3,200 gwei, then
        // replace up to 5 times above it. With a 500 gwei cap it bids 500, once.
        let estimate = Fees { max_fee_per_gas: 3_200 * GWEI, max_priority_fee_per_gas: 2 * GWEI };
        let cap = Some(500 * GWEI);
        let (first, capped) = cap_fees(estimate, cap);
        assert!(capped);
        assert_eq!(first, Fees { max_fee_per_gas: 500 * GWEI, max_priority_fee_per_gas: 2 * GWEI });
        // At the cap there is no room for a replacement nodes would take: none is sent.
        assert_eq!(replacement_fees(first, estimate, MIN_FEE_BUMP_BPS, cap), (None, true));
        // Without a cap nothing changes.
        assert_eq!(cap_fees(estimate, None), (estimate, false));
        assert_eq!(
            replacement_fees(first, estimate, MIN_FEE_BUMP_BPS, None),
            (Some(bump_fees(first, estimate, MIN_FEE_BUMP_BPS)), false)
        );
    }

    #[test]
    fn below_the_cap_replacements_rise_until_it_and_no_further() {
        let low = Fees { max_fee_per_gas: 10 * GWEI, max_priority_fee_per_gas: GWEI };
        let cap = Some(13 * GWEI);
        let (second, capped) = replacement_fees(low, low, MIN_FEE_BUMP_BPS, cap);
        assert_eq!(second, Some(Fees { max_fee_per_gas: 11_250_000_000, max_priority_fee_per_gas: 1_125_000_000 }));
        assert!(!capped);
        let (third, capped) = replacement_fees(second.unwrap(), low, MIN_FEE_BUMP_BPS, cap);
        assert_eq!(third, Some(Fees { max_fee_per_gas: 12_656_250_000, max_priority_fee_per_gas: 1_265_625_000 }));
        assert!(!capped);
        // 12.66 * 1.125 = 14.24 > 13: clamped to 13, less than +12.5%: no replacement.
        assert_eq!(replacement_fees(third.unwrap(), low, MIN_FEE_BUMP_BPS, cap), (None, true));
        // A priority fee above the cap is clamped too.
        let (fees, _) = cap_fees(Fees { max_fee_per_gas: 20 * GWEI, max_priority_fee_per_gas: 20 * GWEI }, cap);
        assert_eq!(fees, Fees { max_fee_per_gas: 13 * GWEI, max_priority_fee_per_gas: 13 * GWEI });
    }

    #[test]
    fn in_flight_records_round_trip_and_garbage_is_refused() {
        let record = InFlight {
            nonce: 7,
            gas_limit: 310_000,
            fees: Fees { max_fee_per_gas: 3_200 * GWEI, max_priority_fee_per_gas: 2 * GWEI },
            hashes: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
            attempt: 1,
            sent_at_ms: 1_764_000_000_000,
        };
        let bytes = record.encode();
        assert_eq!(bytes.len(), IN_FLIGHT_HEAD + 64);
        assert_eq!(InFlight::decode(&bytes), Some(record.clone()));
        assert_eq!(InFlight::decode(&bytes[..bytes.len() - 1]), None);
        assert_eq!(InFlight::decode(b"settled"), None);
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert_eq!(InFlight::decode(&bad), None);
        let empty = InFlight { hashes: vec![], ..record };
        assert_eq!(InFlight::decode(&empty.encode()), Some(empty));
    }

    #[test]
    fn max_fee_never_below_priority_fee() {
        let prev = Fees { max_fee_per_gas: 10, max_priority_fee_per_gas: 10 };
        let est = Fees { max_fee_per_gas: 0, max_priority_fee_per_gas: 100 };
        let next = bump_fees(prev, est, MIN_FEE_BUMP_BPS);
        assert!(next.max_fee_per_gas >= next.max_priority_fee_per_gas);
        assert_eq!(next.max_priority_fee_per_gas, 100);
    }
}

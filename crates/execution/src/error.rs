//! What can go wrong talking to the execution chain. Every message is one line that says
//! what failed, with the value that was wrong, and what to do about it. No message ever
//! carries a private key: signers are only ever named by their address.

use crate::bindings::ContractError;
use alloy::primitives::{Address, B256};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainError {
    /// The execution RPC call failed.
    #[error("execution RPC {url}: {what} failed: {message}; check that the node is up, synced and reachable")]
    Rpc { url: String, what: String, message: String },

    /// The execution RPC serves another chain than genesis names.
    #[error(
        "execution RPC {url} is chain {got}, but genesis chain_id is {expected}; point the RPC URL at chain {expected}"
    )]
    WrongChain { url: String, got: u64, expected: u64 },

    /// No contract code at a genesis contract address.
    #[error("no {contract} code at {address} (block {block}); check genesis contracts.{field} and that the contracts are deployed by then")]
    NoCode { contract: &'static str, field: &'static str, address: Address, block: String },

    /// The contract refuses the call (a custom error or a revert reason).
    #[error("{what}: the contract rejects it: {error}")]
    Rejected { what: String, error: ContractError },

    /// A mined transaction reverted.
    #[error("{what}: transaction {tx} reverted in block {block}; the chain changed under it, check the contract's state and retry")]
    Reverted { what: String, tx: B256, block: u64 },

    /// Another sender used this process's nonce.
    #[error("{what}: nonce {nonce} of {from} was used by a transaction this process did not send; give each process its own key")]
    NonceTaken { what: String, from: Address, nonce: u64 },

    /// A transaction stays unmined after every replacement.
    #[error("{what}: nonce {nonce} not mined after {attempts} attempts (last {tx}, max fee {max_fee_per_gas} wei/gas); raise the fee cap if one is set, or check the node's mempool")]
    Stuck { what: String, nonce: u64, attempts: u32, tx: B256, max_fee_per_gas: u128 },

    /// The record of a transaction in flight cannot be saved or read back.
    #[error("{what}: the record of the transaction in flight: {message}")]
    Journal { what: String, message: String },

    /// An answer or argument that cannot be used (the text says why).
    #[error("{what}: {message}")]
    Invalid { what: String, message: String },

    /// Deploying would put a contract at another address than genesis names.
    #[error("genesis contracts.{field} is {genesis}, but deploying from {deployer} at nonce {nonce} puts it at {predicted}; write the predicted addresses into genesis (predict_addresses) before deploying")]
    GenesisMismatch { field: &'static str, genesis: Address, predicted: Address, deployer: Address, nonce: u64 },
}

impl ChainError {
    pub(crate) fn rpc(url: &str, what: impl Into<String>, err: impl std::fmt::Display) -> ChainError {
        ChainError::Rpc { url: url.to_string(), what: what.into(), message: one_line(&err.to_string()) }
    }
}

/// RPC error texts sometimes span lines (a node's HTML error page); keep the first. A node's
/// text (a revert reason, say) may hold control characters that would rewrite a terminal or
/// forge a log line: they are printed escaped (`\u{1b}`).
fn one_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or_default().trim();
    let cut = match line.char_indices().nth(300) {
        Some((cut, _)) => &line[..cut],
        None => line,
    };
    let mut out: String =
        cut.chars().flat_map(|c| if c.is_control() { c.escape_debug().collect() } else { vec![c] }).collect();
    if cut.len() < line.len() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod one_line_tests {
    use super::one_line;

    #[test]
    fn node_texts_are_one_printable_line() {
        assert_eq!(
            one_line("execution reverted: \u{1b}[31mboom\u{7}\nsecond line"),
            "execution reverted: \\u{1b}[31mboom\\u{7}"
        );
        assert_eq!(one_line(&"x".repeat(400)).len(), 303);
        assert_eq!(one_line("  plain  "), "plain");
    }
}

//! The oracle's edge to the execution chain (alloy over HTTP JSON-RPC):
//!
//! - [`bindings`]: `sol!` bindings of the contracts in `contracts/artifacts` from the
//!   committed artifacts, and [`decode_revert`], which names a revert by its custom error;
//! - [`deploy`]: [`Deployer`] deploys the contracts for a genesis; [`predict_addresses`]
//!   tells where they will land, so a genesis can name them first;
//! - [`registry`]: [`RegistryReader`] reads the operator registry pinned at a block number
//!   into a [`RegistrySnapshot`]; [`to_rewards_registry`] turns it into the engine's input;
//! - [`inputs`]: [`RewardsInputsReader`] reads the other report inputs kept on chain (fees the
//!   RewardsVault received, the agreed SSV price and adjustments in RewardsGovernance, the SSV
//!   price feed's latest round), pinned at a block number;
//! - [`exits`]: [`WithdrawalQueueReader`] (unmet withdrawal demand and buffer at a block),
//!   [`ExitEventsReader`] (voluntary exit requests, published exits, beacon indices) and
//!   [`ExitsLeaf`], what `NodeManager.publishExit` takes;
//! - [`registration`]: [`Registrar`] registers operators, nodes, bonds and validators as
//!   their owners do (the local testnet sets up its chain with it);
//! - [`node_manager`]: [`ReportReader`] (accepted reports, roots, events) and [`Submitter`]
//!   (submit a quorum certificate once, claim rewards);
//! - [`committee`]: the committee version that verifies a report, the whole schedule of
//!   versions, and governance's [`schedule_committee_change`];
//! - [`tx`]: how every transaction is sent: simulated first, explicit nonce, EIP-1559 fees
//!   from the node, replaced with higher fees when stuck.
//!
//! Tests start their anvil with `claystack-testkit` (a dev-dependency), not with this crate.
//!
//! What it must never do: read report inputs at `latest` (registry reads take a block
//! number), send a report the chain already accepted, or print a private key.

pub mod bindings;
pub mod committee;
pub mod deploy;
pub mod error;
pub mod exits;
pub mod inputs;
pub mod node_manager;
pub mod registration;
pub mod registry;
pub mod tx;

pub use bindings::{decode_revert, ContractError};
pub use committee::{schedule_committee_change, ChainCommittee, CommitteeChange, NewMember, ScheduledChange};
pub use deploy::{
    predict_addresses, CommitteeArgs, ContractAddresses, DeployConfig, Deployer, Deployment, FeedStandIn,
    MEMBERS_PER_BATCH,
};
pub use error::ChainError;
pub use exits::{ExitEventsReader, ExitsLeaf, Liquidity, PublishedExit, VoluntaryExitRequest, WithdrawalQueueReader};
pub use inputs::{ChainAdjustment, FeedAnswer, RewardsInputsReader};
pub use node_manager::{
    AcceptedReport, Claimed, PublishedExitTx, ReportReader, RewardsLeaf, SubmissionJournal, SubmitOutcome, Submitter,
    Withdrawn,
};
pub use registration::Registrar;
pub use registry::{
    exit_groups, to_rewards_registry, ExitGroups, NodeEntry, NodeType, OperatorEntry, RegistryReader, RegistrySnapshot,
    RewardsRegistry, ValidatorEntry, ValidatorStatus,
};
pub use tx::{
    bump_fees, cap_fees, replacement_fees, Fees, InFlight, Mined, Rpc, Transactor, TxConfig, MIN_FEE_BUMP_BPS,
    TX_GAS_CAP,
};

/// Re-exported so callers name the same alloy types (addresses, hashes, signers).
pub use alloy;

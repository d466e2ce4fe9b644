//! Exits: how many validators must exit for liquidity, which ones (balanced against the
//! genesis targets), when operators' voluntary exits happen, the exits report's leaves and
//! tree, and whether each exit asked for was made in time.
//!
//! Pure: plain data in, plain data out. No I/O, clock or randomness, integer arithmetic
//! only, and every output list in a documented canonical order, so every committee member
//! computes the same exits report byte for byte. It must never read a chain, a file or a
//! clock: the I/O layer reads the withdrawal queue, the registry and the beacon states at
//! the reference point and passes them in.
//!
//! # Layout
//!
//! - [`demand`]: unmet withdrawal demand, buffer and exits under way → number of exits;
//! - [`selection`]: which active validators exit, most over-represented group first;
//! - [`voluntary`]: operators' requests → exit slots, fast track first, within capacity;
//! - [`compliance`]: timely, late, never or forced, from beacon records;
//! - [`facts`]: the rewards engine's exit facts of a frame, from the compliance;
//! - [`report`]: the leaf `(validator, operator, kind, exit-by epoch)` and its tree;
//! - [`round`]: the four steps of one exits round, in order.
//!
//! Every rule, its rounding and its tie-breaks are in `docs/exits.md`.

pub mod compliance;
pub mod demand;
mod error;
pub mod facts;
pub mod report;
pub mod round;
pub mod selection;
pub mod voluntary;

pub use compliance::{classify, classify_all, Compliance, ExitAsked, Outcome};
pub use demand::{exits_needed, Demand, DemandRules, Liquidity, UnderWay};
pub use error::ExitsError;
pub use facts::frame_facts;
pub use report::{leaf_values, tree_of, ExitKind, ExitLeaf, EXITS_LEAF_ENCODING};
pub use round::{exits_report, ExitRules, ExitsInputs, ExitsReport};
pub use selection::{loads, select, status_of, Candidate, Group, Load, Pick, Selection, Status, Targets};
pub use voluntary::{assign_slots, ExitSlot, Slots, VoluntaryRequest, VoluntaryRules};

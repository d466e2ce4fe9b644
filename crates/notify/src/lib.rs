//! What operators see, derived from the node's stored data: the notification list and the
//! running frame.
//!
//! Pure: plain data in (stored reports with their frame logs, stored exits reports, epoch
//! tallies, the accounting cursor, what the chain said), plain data out. No I/O, no clock, no randomness. Every
//! point in time is a beacon epoch or a report number, never wall-clock time, and every
//! list is sorted, so a committee member and an observer (a node without committee keys)
//! holding the same stored data give the same bytes.
//!
//! # Layout
//!
//! - [`closed`]: a stored report parsed with its frame log, and the registry it implies; a
//!   stored exits report parsed.
//! - [`running`]: the frame accounting is in, projected by the same engine as a report.
//! - [`notification`]: the notification type, its kinds and its stable id.
//! - [`derive`]: every kind's rule, from the data above to the sorted list.
//!
//! # What it must never do
//!
//! Read a clock, a file or the network, or iterate a hash map into its output.

pub mod closed;
pub mod derive;
pub mod notification;
pub mod running;

pub use closed::{registry_of, Closed, ClosedError, ExitsClosed};
pub use derive::{notifications, tally_window, Inputs, Params};
pub use notification::{Kind, Notification, Point, Severity};
pub use running::{running_frame, RunningError, RunningFrame};

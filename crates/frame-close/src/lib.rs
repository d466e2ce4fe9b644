//! Closes frames. Once accounting has passed the last epoch of report `n`'s
//! frame, the reporter computes report `n` from the stored tallies, the frame's inputs
//! and the stored report `n - 1`, and stores it (report, tree dump, root, hash).
//!
//! Reports are closed strictly in order, each from the previous one's carry, so a node
//! that starts late computes every report from 1 and reaches the same bytes as a node
//! that ran all along. The pure work is `claystack_report::build`; this crate is the
//! I/O around it: the store and the source of the frame inputs.

use claystack_genesis::Genesis;
use claystack_primitives::{Epoch, ReportKind};
use claystack_report::{build, frame_of, report_bytes, report_hash, BondHeld, Built, ExternalInputs};
use claystack_rewards::RewardsReport;
use claystack_store::{Store, StoredReport};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use thiserror::Error;

mod exits;
mod registry;
pub use exits::{stored_exits, ClosedExits, ComputedExits, ExitsCloser, ExitsReader, ExitsWaiting};
pub use registry::{compliance_lines, exits_asked, frame_flows, Measured, MeasuredInputs, ReferenceReader};

/// Why a frame could not be closed. Messages name the report, the file or the epochs and
/// what to do in this crate's terms; the binary adds its flags and config keys. Causes are
/// fields named `error` (as in `claystack-keys`): printed once, never also a `source`.
#[derive(Debug, Error)]
pub enum FrameCloseError {
    /// The data directory failed.
    #[error(transparent)]
    Store(#[from] claystack_store::StoreError),
    /// The report engine refused the frame inputs and tallies.
    #[error("report {number}: {error}")]
    Build { number: u64, error: claystack_report::ReportError },
    /// A frame inputs file cannot be read or parsed, or lacks what it must hold.
    #[error("frame inputs {path}: {message}")]
    Inputs { path: PathBuf, message: String },
    /// The frame inputs from the execution chain or the beacon node are unusable.
    #[error("inputs of report {number}: {message}")]
    Source { number: u64, message: String },
    /// An exits round's inputs from the chains are unusable, or the round cannot be computed.
    #[error("exits round {number}: {message}")]
    ExitsSource { number: u64, message: String },
    /// The exported report file cannot be written.
    #[error("cannot write the exported report file {path}: {error}; check the data directory's disk and permissions")]
    Export { path: PathBuf, error: std::io::Error },
    /// Registry validators the accounting did not track, so the report would miss their duties.
    #[error(
        "report {number}: registry validator(s) {shown} ({count} in all) were not tracked by this node's accounting \
         from epoch {from}, so their duties were not counted; track them too and account the frame again, \
         from an empty data directory and a start epoch at or before {first_epoch}"
    )]
    Untracked { number: u64, shown: String, count: usize, from: Epoch, first_epoch: Epoch },
    /// A stored report does not decode.
    #[error("stored report {number} cannot be read back: {message}")]
    StoredReport { number: u64, message: String },
    /// The tallies start after the frame's first epoch.
    #[error(
        "report {number} covers beacon epochs {from}..={to}, but this node's tallies start at epoch {first_tally}: \
         account from the genesis first_epoch ({first_epoch}) — start with an empty data directory and \
         a start epoch at or before {from}"
    )]
    MissingTallies { number: u64, from: Epoch, to: Epoch, first_tally: Epoch, first_epoch: Epoch },
}

/// Where a frame's inputs (registry, facts, rewards source, SSV price, adjustments) come
/// from. The one seam between the report and the outside world besides the tallies.
pub trait InputsSource: Send + Sync {
    /// The inputs of report `number`, or why they are not available yet.
    fn frame_inputs(&self, number: u64, frame: (Epoch, Epoch)) -> BoxFuture<'_, Result<InputsStatus, FrameCloseError>>;
}

/// A boxed, sendable future: what [`InputsSource`] returns, so sources can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A frame's inputs, or what they wait for (in words a node operator can act on).
#[derive(Debug, Clone)]
pub enum InputsStatus {
    /// Boxed: the inputs are some hundred bytes, the waiting reason a pointer.
    Ready(Box<ExternalInputs>),
    Waiting(String),
}

/// Frame inputs from fixture files, for tests of the closer and the service in one process:
/// `<dir>/frame-<n>.json` when it exists, else `<dir>/frames.json` (one file for every frame:
/// its slashings and forced exits are each applied in the frame that holds their epoch). The
/// files' `previous` is ignored: the reporter takes the carry from its own stored report
/// `n - 1`. `run` never reads it: a node measures every input ([`MeasuredInputs`]).
pub struct InputFiles {
    dir: PathBuf,
}

impl InputFiles {
    pub fn new(dir: &Path) -> InputFiles {
        InputFiles { dir: dir.to_path_buf() }
    }
}

impl InputsSource for InputFiles {
    fn frame_inputs(&self, number: u64, frame: (Epoch, Epoch)) -> BoxFuture<'_, Result<InputsStatus, FrameCloseError>> {
        Box::pin(std::future::ready(self.read(number, frame).and_then(|file| match file {
            Some(file) if file.registry.operators.is_empty() => Err(FrameCloseError::Inputs {
                path: self.dir.clone(),
                message: format!(
                    "report {number}'s frame inputs have no registry; add \"registry\" to the file, or give \
                     an execution RPC to read it from the OperatorRegistry"
                ),
            }),
            Some(file) => Ok(InputsStatus::Ready(Box::new(file))),
            None => Ok(InputsStatus::Waiting(self.missing(number))),
        })))
    }
}

impl InputFiles {
    /// The file for report `number`, as written (its registry may be empty).
    pub fn read(&self, number: u64, frame: (Epoch, Epoch)) -> Result<Option<ExternalInputs>, FrameCloseError> {
        for (path, shared) in
            [(self.dir.join(format!("frame-{number}.json")), false), (self.dir.join("frames.json"), true)]
        {
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(FrameCloseError::Inputs { path, message: e.to_string() }),
            };
            let mut file: ExternalInputs =
                serde_json::from_slice(&bytes).map_err(|e| FrameCloseError::Inputs { path, message: e.to_string() })?;
            if shared {
                let in_frame = |epoch: Epoch| (frame.0..=frame.1).contains(&epoch);
                file.facts.slashings.retain(|s| in_frame(s.epoch));
                file.facts.forced_exits.retain(|f| in_frame(f.epoch));
            }
            return Ok(Some(file));
        }
        Ok(None)
    }

    /// What to do when report `number` has no file.
    pub fn missing(&self, number: u64) -> String {
        format!("frame inputs missing: add {}/frame-{number}.json or frames.json", self.dir.display())
    }
}

/// Writes an exported file whole or not at all (a reader sees the old file or the new one).
fn write_export(path: &Path, bytes: &[u8]) -> Result<(), FrameCloseError> {
    claystack_fs_util::write_atomic(path, bytes).map_err(|e| FrameCloseError::Export { path: e.path, error: e.source })
}

/// A report the reporter just stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedReport {
    pub number: u64,
    pub frame: (Epoch, Epoch),
    pub merkle_root: [u8; 32],
    pub report_hash: [u8; 32],
    pub operators: usize,
    pub t_wei: u128,
    /// Why its files could not be exported, if they could not. The report is stored (and
    /// is signed) all the same: the files are a copy, rewritten by
    /// [`FrameCloser::check_exports`] on the next start.
    pub export_error: Option<String>,
}

/// What stops the next report from closing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waiting {
    /// Accounting has not passed the frame's last epoch yet.
    Accounting { number: u64, last_epoch: Epoch, next_epoch: Epoch },
    /// The frame's inputs are not available; `reason` says what they wait for.
    Inputs { number: u64, reason: String },
}

pub struct FrameCloser {
    genesis: Genesis,
    store: Arc<Store>,
    inputs: Box<dyn InputsSource>,
    export: Option<PathBuf>,
}

impl FrameCloser {
    pub fn new(genesis: Genesis, store: Arc<Store>, inputs: Box<dyn InputsSource>) -> FrameCloser {
        FrameCloser { genesis, store, inputs, export: None }
    }

    /// Also write each closed report as files, `<dir>/rewards-<n>/{report.json,tree.json,frame-log.json,root}`,
    /// for operators and tools that cannot open the store while the node runs (the tree
    /// dump is what `claystack-oracle proof` and claim front-ends read), and, when the
    /// report is closed, `inputs.json`: the frame inputs it was built from (registry and
    /// previous carry included), so anyone with tallies can recompute it offline.
    pub fn with_export_dir(mut self, dir: PathBuf) -> FrameCloser {
        self.export = Some(dir);
        self
    }

    /// Writes stored report `number`'s files into the export dir, if one is set; atomic per
    /// file (written aside, then renamed), so a reader never sees half a file.
    pub fn export(&self, number: u64) -> Result<(), FrameCloseError> {
        self.export_files(number, false).map(|_| ())
    }

    /// Compares every stored report's exported files with the store and rewrites the ones
    /// that are missing or differ (a crash between storing and exporting, a failed export,
    /// a file edited or damaged on disk). Returns the numbers of the reports it rewrote.
    /// (`inputs.json` is not in the store and is not checked.)
    pub fn check_exports(&self) -> Result<Vec<u64>, FrameCloseError> {
        let latest = self.store.latest_report(ReportKind::Rewards)?.map_or(0, |(n, _)| n);
        let mut rewritten = Vec::new();
        for number in 1..=latest {
            if self.export_files(number, true)? {
                rewritten.push(number);
            }
        }
        Ok(rewritten)
    }

    /// Writes report `number`'s files (with `only_differing`, only those whose bytes on disk
    /// are not the stored ones); whether it wrote any.
    fn export_files(&self, number: u64, only_differing: bool) -> Result<bool, FrameCloseError> {
        let Some(dir) = &self.export else { return Ok(false) };
        let Some(stored) = self.store.report(ReportKind::Rewards, number)? else {
            if only_differing {
                return Ok(false); // a gap in the store is frame-close's to refuse, not this check's
            }
            return Err(FrameCloseError::StoredReport { number, message: "it is not in the store".into() });
        };
        let dir = dir.join(format!("rewards-{number}"));
        std::fs::create_dir_all(&dir).map_err(|error| FrameCloseError::Export { path: dir.clone(), error })?;
        let root = format!("{}\n", claystack_primitives::hex::encode(&stored.merkle_root));
        let mut wrote = false;
        for (name, bytes) in [
            ("report.json", &stored.report[..]),
            ("tree.json", &stored.tree[..]),
            ("frame-log.json", &stored.log[..]),
            ("root", root.as_bytes()),
        ] {
            let path = dir.join(name);
            if only_differing && std::fs::read(&path).is_ok_and(|on_disk| on_disk == bytes) {
                continue;
            }
            write_export(&path, bytes)?;
            wrote = true;
        }
        Ok(wrote)
    }

    fn export_inputs(&self, number: u64, inputs: &[u8]) -> Result<(), FrameCloseError> {
        let Some(dir) = &self.export else { return Ok(()) };
        let path = dir.join(format!("rewards-{number}")).join("inputs.json");
        write_export(&path, inputs)
    }

    /// The number of the next report to close.
    pub fn next_number(&self) -> Result<u64, FrameCloseError> {
        Ok(self.store.latest_report(ReportKind::Rewards)?.map_or(1, |(n, _)| n + 1))
    }

    /// Closes every report that is ready, in order; returns them and what the next one waits for.
    pub async fn close_ready(&self) -> Result<(Vec<ClosedReport>, Waiting), FrameCloseError> {
        let mut closed = Vec::new();
        loop {
            match self.close_next().await? {
                Ok(report) => closed.push(report),
                Err(waiting) => return Ok((closed, waiting)),
            }
        }
    }

    /// Closes the next report if it is ready.
    pub async fn close_next(&self) -> Result<Result<ClosedReport, Waiting>, FrameCloseError> {
        let economics = &self.genesis.economics;
        let number = self.next_number()?;
        let frame = frame_of(economics, self.genesis.first_epoch, number)
            .map_err(|error| FrameCloseError::Build { number, error })?;
        let next_epoch = self.store.accounting_cursor()?.map_or(0, |c| c.next_epoch);
        if next_epoch <= frame.1 {
            return Ok(Err(Waiting::Accounting { number, last_epoch: frame.1, next_epoch }));
        }
        let first_tally = self.store.first_tally_epoch()?.filter(|&e| e <= frame.1);
        match first_tally {
            Some(e) if e <= frame.0 => {}
            other => {
                return Err(FrameCloseError::MissingTallies {
                    number,
                    from: frame.0,
                    to: frame.1,
                    first_tally: other.unwrap_or(next_epoch),
                    first_epoch: self.genesis.first_epoch,
                })
            }
        }
        let mut file = match self.inputs.frame_inputs(number, frame).await? {
            InputsStatus::Ready(file) => *file,
            InputsStatus::Waiting(reason) => return Ok(Err(Waiting::Inputs { number, reason })),
        };
        self.check_tracked(number, frame, &file)?;
        file.previous = match number {
            1 => None,
            n => Some(self.stored_report(n - 1)?.carry()),
        };
        let mut inputs = serde_json::to_vec_pretty(&file).expect("frame inputs always serialize");
        inputs.push(b'\n');
        // Not a computation input (kept out of the log and the report hash): stored beside the
        // report, first, so a stored report always has its bonds when they were read.
        let bonds = std::mem::take(&mut file.bonds);
        if !bonds.is_empty() {
            self.store.put_report_bonds(ReportKind::Rewards, number, &BondHeld::list_bytes(&bonds))?;
        }
        let tallies = self.store.sum_tallies(frame.0, frame.1)?;
        let Built { report, tree, log } =
            build(economics, file, number, frame, tallies).map_err(|error| FrameCloseError::Build { number, error })?;
        let bytes = report_bytes(&report);
        let mut dump = serde_json::to_vec_pretty(&tree.dump()).expect("a tree dump always serializes");
        dump.push(b'\n');
        let stored =
            StoredReport { merkle_root: tree.root(), report_hash: report_hash(&bytes), report: bytes, tree: dump, log };
        self.store.put_report(ReportKind::Rewards, number, &stored)?;
        // From here the report is closed: a failed export must not keep it from being
        // returned (and signed), or it would never be offered again.
        let export_error = self.export(number).and_then(|()| self.export_inputs(number, &inputs)).err();
        Ok(Ok(ClosedReport {
            number,
            frame,
            merkle_root: stored.merkle_root,
            report_hash: stored.report_hash,
            operators: report.operators.len(),
            t_wei: report.totals.t_wei,
            export_error: export_error.map(|e| e.to_string()),
        }))
    }

    /// Every registry validator must have been tracked over the whole frame: a validator the
    /// accounting skipped would silently earn nothing, and members tracking different sets
    /// would never agree. (Stores from before the tracked-set record skip this check.)
    fn check_tracked(&self, number: u64, frame: (Epoch, Epoch), file: &ExternalInputs) -> Result<(), FrameCloseError> {
        for (from, set) in self.store.tracked_sets(frame.0, frame.1)? {
            let missing: Vec<u64> =
                file.registry.validators.iter().map(|v| v.index).filter(|i| set.binary_search(i).is_err()).collect();
            if !missing.is_empty() {
                let mut shown: Vec<String> = missing.iter().take(5).map(u64::to_string).collect();
                if missing.len() > 5 {
                    shown.push("...".into());
                }
                return Err(FrameCloseError::Untracked {
                    number,
                    shown: shown.join(", "),
                    count: missing.len(),
                    from: from.max(frame.0),
                    first_epoch: frame.0,
                });
            }
        }
        Ok(())
    }

    /// A stored report, parsed.
    pub fn stored_report(&self, number: u64) -> Result<RewardsReport, FrameCloseError> {
        let stored = self
            .store
            .report(ReportKind::Rewards, number)?
            .ok_or_else(|| FrameCloseError::StoredReport { number, message: "it is not in the store".into() })?;
        serde_json::from_slice(&stored.report)
            .map_err(|e| FrameCloseError::StoredReport { number, message: e.to_string() })
    }
}

//! Reports close in order once accounting passes their frame, chain to each other,
//! and come out byte-identical from two stores with the same tallies.

use claystack_accounting::{EpochFlows, EpochTally, Tally};
use claystack_frame_close::{FrameCloseError, FrameCloser, InputFiles, InputsSource, Waiting};
use claystack_genesis::generate_local;
use claystack_primitives::ReportKind;
use claystack_store::{AccountingCursor, Store};
use std::path::Path;
use std::sync::Arc;

fn inputs_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data"))
}

/// Accounts epochs `from..to` with tallies that vary by epoch and validator.
fn account(store: &Store, from: u64, to: u64) {
    for epoch in from..to {
        let tallies = (0..25u64)
            .map(|v| {
                let included = u32::from((v + epoch) % 7 != 0);
                Tally { validator: v, duties: 1, included, timely: included }
            })
            .collect();
        let cursor = AccountingCursor { next_epoch: epoch + 1, anchor: None, tracked_hash: [0; 32] };
        store.commit_epoch(&EpochTally { epoch, tallies }, &cursor).unwrap();
    }
}

fn reporter(dir: &Path, from: u64, to: u64) -> (FrameCloser, Arc<Store>) {
    let (genesis, _) = generate_local(4, 3, [7; 32], 31337);
    assert_eq!(genesis.economics.frame_epochs, 4);
    let store = Arc::new(Store::open(dir).unwrap());
    account(&store, from, to);
    (FrameCloser::new(genesis, store.clone(), Box::new(InputFiles::new(inputs_dir()))), store)
}

#[tokio::test]
async fn reports_close_in_order_and_chain() {
    let dir = tempfile::tempdir().unwrap();
    let (r, store) = reporter(dir.path(), 0, 10);
    let (closed, waiting) = r.close_ready().await.unwrap();
    assert_eq!(closed.iter().map(|c| (c.number, c.frame)).collect::<Vec<_>>(), vec![(1, (0, 3)), (2, (4, 7))]);
    assert_eq!(waiting, Waiting::Accounting { number: 3, last_epoch: 11, next_epoch: 10 });
    assert_ne!(closed[0].merkle_root, closed[1].merkle_root);

    // Report 2 carries report 1's cumulative amounts forward.
    let (one, two) = (r.stored_report(1).unwrap(), r.stored_report(2).unwrap());
    for o in &two.operators {
        let prev = one.operators.iter().find(|p| p.address == o.address).map_or(0, |p| p.cumulative_wei);
        assert_eq!(o.cumulative_wei, prev + o.epoch_amount_wei);
    }
    assert!(two.operators.iter().any(|o| o.cumulative_wei > o.epoch_amount_wei));

    // Nothing more until accounting moves; then report 3 closes.
    assert!(r.close_ready().await.unwrap().0.is_empty());
    account(&store, 10, 12);
    let (closed, _) = r.close_ready().await.unwrap();
    assert_eq!(closed.iter().map(|c| c.number).collect::<Vec<_>>(), vec![3]);
}

#[tokio::test]
async fn two_stores_give_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (ra, sa) = reporter(a.path(), 0, 12);
    ra.close_ready().await.unwrap();
    // The second node closes report by report, reopening its store in between.
    {
        let (rb, _) = reporter(b.path(), 0, 12);
        assert!(rb.close_next().await.unwrap().is_ok());
    }
    let sb = Arc::new(Store::open(b.path()).unwrap());
    let (genesis, _) = generate_local(4, 3, [7; 32], 31337);
    let rb = FrameCloser::new(genesis, sb.clone(), Box::new(InputFiles::new(inputs_dir())));
    rb.close_ready().await.unwrap();
    for n in 1..=3 {
        assert_eq!(
            sa.report(ReportKind::Rewards, n).unwrap(),
            sb.report(ReportKind::Rewards, n).unwrap(),
            "report {n}"
        );
    }
}

#[tokio::test]
async fn missing_inputs_wait_and_late_tallies_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, _) = generate_local(4, 3, [7; 32], 31337);
    let store = Arc::new(Store::open(dir.path()).unwrap());
    account(&store, 0, 5);
    let empty = tempfile::tempdir().unwrap();
    let r = FrameCloser::new(genesis.clone(), store, Box::new(InputFiles::new(empty.path())));
    let waiting = r.close_ready().await.unwrap().1;
    let Waiting::Inputs { number: 1, reason } = waiting else { panic!("{waiting:?}") };
    assert!(reason.contains("frame-1.json or frames.json"), "{reason}");

    // A file without a registry, with no chain to read it from, is refused in words.
    let frames: serde_json::Value =
        serde_json::from_slice(&std::fs::read(inputs_dir().join("frames.json")).unwrap()).unwrap();
    let mut no_registry = frames.clone();
    no_registry.as_object_mut().unwrap().remove("registry");
    std::fs::write(empty.path().join("frames.json"), serde_json::to_vec(&no_registry).unwrap()).unwrap();
    let err = r.close_ready().await.unwrap_err();
    assert!(err.to_string().contains("no registry") && err.to_string().contains("execution RPC"), "{err}");

    let late = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(late.path()).unwrap());
    account(&store, 2, 5);
    let r = FrameCloser::new(genesis, store, Box::new(InputFiles::new(inputs_dir())));
    let err = r.close_ready().await.unwrap_err();
    assert!(matches!(err, FrameCloseError::MissingTallies { number: 1, first_tally: 2, .. }), "{err}");
    assert!(err.to_string().contains("a start epoch at or before 0"), "{err}");
}

#[tokio::test]
async fn closed_reports_are_exported_as_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let (r, store) = reporter(dir.path(), 0, 5);
    let r = r.with_export_dir(out.path().to_path_buf());
    assert_eq!(r.close_ready().await.unwrap().0.len(), 1);
    let stored = store.report(ReportKind::Rewards, 1).unwrap().unwrap();
    let files = out.path().join("rewards-1");
    assert_eq!(std::fs::read(files.join("report.json")).unwrap(), stored.report);
    // The tree file is a standard-v1 dump of the stored root.
    let dump = std::fs::read(files.join("tree.json")).unwrap();
    let tree = claystack_merkle::StandardMerkleTree::load(&serde_json::from_slice(&dump).unwrap()).unwrap();
    assert_eq!(tree.root(), stored.merkle_root);
    let root = std::fs::read_to_string(files.join("root")).unwrap();
    assert_eq!(root.trim(), claystack_primitives::hex::encode(&stored.merkle_root));
    assert!(!out.path().join("rewards-2").exists());
    // The inputs it was built from: rebuilding from them and the same tallies gives the root.
    let inputs: claystack_report::ExternalInputs =
        serde_json::from_slice(&std::fs::read(files.join("inputs.json")).unwrap()).unwrap();
    let inputs_validators = inputs.registry.validators.len();
    let frame = (0, 3);
    let again = claystack_report::build(
        &generate_local(4, 3, [7; 32], 31337).0.economics,
        inputs,
        1,
        frame,
        store.sum_tallies(frame.0, frame.1).unwrap(),
    )
    .unwrap();
    assert_eq!(again.tree.root(), stored.merkle_root);
    // The frame log is exported beside them, and the stored report names its hash.
    let log = std::fs::read(files.join("frame-log.json")).unwrap();
    assert_eq!(log, again.log);
    assert_eq!(log, stored.log);
    let report: claystack_rewards::RewardsReport = serde_json::from_slice(&stored.report).unwrap();
    assert_eq!(report.frame_log_hash, Some(claystack_merkle::keccak256(&log)));
    let parsed: claystack_report::FrameLog = serde_json::from_slice(&log).unwrap();
    assert_eq!(parsed.validators.len(), inputs_validators);
    assert!(!parsed.t.consensus_measured, "the file gave the consensus rewards");
}

#[tokio::test]
async fn a_registry_validator_the_accounting_skipped_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (genesis, _) = generate_local(4, 3, [7; 32], 31337);
    let store = Arc::new(Store::open(dir.path()).unwrap());
    // The frames.json registry delegates validators 0-3 and 9-14; this node tracked 0-12 only.
    let tracked: Vec<u64> = (0..=12).collect();
    for epoch in 0..5 {
        let tallies = tracked.iter().map(|&v| Tally { validator: v, duties: 1, included: 1, timely: 1 }).collect();
        let cursor = AccountingCursor { next_epoch: epoch + 1, anchor: None, tracked_hash: [5; 32] };
        store
            .commit_epoch_tracked(
                &EpochTally { epoch, tallies },
                &EpochFlows { epoch, ..Default::default() },
                &cursor,
                &tracked,
            )
            .unwrap();
    }
    let r = FrameCloser::new(genesis, store.clone(), Box::new(InputFiles::new(inputs_dir())));
    let err = r.close_ready().await.unwrap_err();
    assert!(matches!(err, FrameCloseError::Untracked { number: 1, count: 2, from: 0, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("13, 14") && text.contains("track them too"), "{text}");
    assert!(store.latest_report(ReportKind::Rewards).unwrap().is_none(), "nothing stored");
}

#[tokio::test]
async fn a_failed_export_still_closes_the_report_and_the_check_rewrites_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (r, store) = reporter(&dir.path().join("data"), 0, 8);
    let export = dir.path().join("reports");
    let r = r.with_export_dir(export.clone());
    // Report 1's export directory cannot be made: a file stands where it belongs.
    std::fs::create_dir_all(&export).unwrap();
    std::fs::write(export.join("rewards-1"), b"in the way").unwrap();
    let (closed, _) = r.close_ready().await.unwrap();
    assert_eq!(closed.iter().map(|c| c.number).collect::<Vec<_>>(), vec![1, 2], "report 1 is closed all the same");
    let error = closed[0].export_error.as_deref().expect("report 1's export failed");
    assert!(error.contains("rewards-1"), "{error}");
    assert_eq!(closed[1].export_error, None);

    // Report 2's files are damaged meanwhile; the check finds both reports and rewrites them.
    std::fs::remove_file(export.join("rewards-1")).unwrap();
    std::fs::write(export.join("rewards-2/root"), b"0xdamaged\n").unwrap();
    assert_eq!(r.check_exports().unwrap(), vec![1, 2]);
    for n in [1u64, 2] {
        let stored = store.report(ReportKind::Rewards, n).unwrap().unwrap();
        let files = export.join(format!("rewards-{n}"));
        assert_eq!(std::fs::read(files.join("report.json")).unwrap(), stored.report, "report {n}");
        assert_eq!(std::fs::read(files.join("tree.json")).unwrap(), stored.tree, "report {n}");
        let root = std::fs::read_to_string(files.join("root")).unwrap();
        assert_eq!(root.trim(), claystack_primitives::hex::encode(&stored.merkle_root), "report {n}");
    }
    // Nothing differs now: nothing is rewritten.
    assert_eq!(r.check_exports().unwrap(), Vec::<u64>::new());
}

/// The file inputs with the bonds a node reads at the reference block added.
struct WithBonds(InputFiles, Vec<claystack_report::BondHeld>);

impl InputsSource for WithBonds {
    fn frame_inputs(
        &self,
        number: u64,
        frame: (u64, u64),
    ) -> claystack_frame_close::BoxFuture<'_, Result<claystack_frame_close::InputsStatus, FrameCloseError>> {
        Box::pin(async move {
            match self.0.frame_inputs(number, frame).await? {
                claystack_frame_close::InputsStatus::Ready(mut file) => {
                    file.bonds = self.1.clone();
                    Ok(claystack_frame_close::InputsStatus::Ready(file))
                }
                waiting => Ok(waiting),
            }
        })
    }
}

#[tokio::test]
async fn bonds_are_stored_beside_the_report_and_change_none_of_its_bytes() {
    use claystack_report::BondHeld;
    use claystack_rewards::Address;
    let bonds = vec![
        BondHeld { operator: Address([0x22; 20]), cs_eth: 3, wei: 4 },
        BondHeld { operator: Address([0x11; 20]), cs_eth: 8_000, wei: 10_000 },
    ];
    let (plain_dir, bonded_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (plain, plain_store) = reporter(plain_dir.path(), 0, 8);
    let (genesis, _) = generate_local(4, 3, [7; 32], 31337);
    let bonded_store = Arc::new(Store::open(bonded_dir.path()).unwrap());
    account(&bonded_store, 0, 8);
    let source = WithBonds(InputFiles::new(inputs_dir()), bonds.clone());
    assert!(matches!(
        source.frame_inputs(1, (0, 3)).await.unwrap(),
        claystack_frame_close::InputsStatus::Ready(f) if f.bonds.len() == 2
    ));
    let bonded = FrameCloser::new(genesis, bonded_store.clone(), Box::new(source));
    let (a, _) = plain.close_ready().await.unwrap();
    let (b, _) = bonded.close_ready().await.unwrap();
    assert_eq!(b.len(), 2);
    for n in 1..=2 {
        let (x, y) = (
            plain_store.report(ReportKind::Rewards, n).unwrap().unwrap(),
            bonded_store.report(ReportKind::Rewards, n).unwrap().unwrap(),
        );
        assert_eq!(x, y, "report {n}: root, hash, report, tree and log are the same with bonds read");
        assert_eq!(plain_store.report_bonds(ReportKind::Rewards, n).unwrap(), None);
        let stored = bonded_store.report_bonds(ReportKind::Rewards, n).unwrap().expect("bonds stored");
        let parsed: Vec<BondHeld> = serde_json::from_slice(&stored).unwrap();
        assert_eq!(parsed, vec![bonds[1], bonds[0]], "sorted by operator");
    }
    assert_eq!(
        a.iter().map(|c| c.report_hash).collect::<Vec<_>>(),
        b.iter().map(|c| c.report_hash).collect::<Vec<_>>()
    );
}

//! `report compute|verify` and `proof`: offline and reproducible.

use crate::cli::{ProofArgs, ReportArgs, VerifyArgs};
use anyhow::{bail, Context};
use claystack_merkle::{StandardMerkleTree, Value};
use claystack_primitives::hex;
use claystack_report::{build, frame_of, report_bytes, FrameFile, REWARDS_LEAF_ENCODING};
use claystack_rewards::Report;
use claystack_store::Store;
use std::path::Path;

fn read_json<T: serde::de::DeserializeOwned>(path: &Path, what: &str) -> anyhow::Result<T> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    serde_json::from_slice(&text).map_err(|e| anyhow::anyhow!("{what} {} is invalid: {e}", path.display()))
}

/// Computes the report and its tree from the files and the store.
fn compute_from(args: &ReportArgs) -> anyhow::Result<(Report, StandardMerkleTree)> {
    let genesis = super::genesis::load_verified(&args.genesis)?;
    let economics = genesis.economics;
    let file: FrameFile = read_json(&args.inputs, "frame inputs file")?;
    let frame = frame_of(&economics, genesis.first_epoch, args.epoch)?;
    if !args.data_dir.exists() {
        bail!("data directory {} does not exist — run `claystack-oracle run` first", args.data_dir.display());
    }
    let store = Store::open(&args.data_dir)?;
    let accounted = store.accounting_cursor()?.map_or(0, |c| c.next_epoch);
    let first_stored = store.epoch_tallies(0, frame.1)?.first().map(|e| e.epoch);
    if accounted <= frame.1 || first_stored.is_none_or(|e| e > frame.0) {
        bail!(
            "rewards epoch {} covers beacon epochs {}..={}, but {} holds accounted epochs {}..{}: wait for the node to account them",
            args.epoch,
            frame.0,
            frame.1,
            args.data_dir.display(),
            first_stored.map_or("-".into(), |e| e.to_string()),
            accounted
        );
    }
    let tallies = store.sum_tallies(frame.0, frame.1)?;
    Ok(build(&economics, file, args.epoch, frame, tallies)?)
}

pub fn compute(args: ReportArgs) -> anyhow::Result<()> {
    let (report, tree) = compute_from(&args)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let report_path = args.out.join("report.json");
    let tree_path = args.out.join("tree.json");
    std::fs::write(&report_path, report_bytes(&report))
        .with_context(|| format!("cannot write {}", report_path.display()))?;
    let mut dump = serde_json::to_vec_pretty(&tree.dump())?;
    dump.push(b'\n');
    std::fs::write(&tree_path, dump).with_context(|| format!("cannot write {}", tree_path.display()))?;
    println!(
        "rewards epoch {} (beacon epochs {}..={}): root {} — {} operators, T {} wei; wrote {} and {}",
        report.number,
        report.frame.0,
        report.frame.1,
        hex::encode(&tree.root()),
        report.operators.len(),
        report.totals.t_wei,
        report_path.display(),
        tree_path.display()
    );
    Ok(())
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let expected = hex::decode_fixed::<32>(&args.root).map_err(|e| anyhow::anyhow!("--root {}: {e}", args.root))?;
    let (report, tree) = compute_from(&args.report)?;
    if tree.root() != expected {
        bail!(
            "rewards epoch {}: recomputed root {} differs from {} — the inputs, the tallies or the report differ",
            report.number,
            hex::encode(&tree.root()),
            args.root
        );
    }
    println!("rewards epoch {}: root {} verified", report.number, args.root);
    Ok(())
}

pub fn proof(args: ProofArgs) -> anyhow::Result<()> {
    let address = hex::decode_fixed::<20>(&args.operator.to_ascii_lowercase())
        .map_err(|e| anyhow::anyhow!("--operator {}: {e}", args.operator))?;
    let dump = read_json(&args.tree, "tree dump")?;
    let tree =
        StandardMerkleTree::load(&dump).map_err(|e| anyhow::anyhow!("tree dump {}: {e}", args.tree.display()))?;
    let Some(i) = tree.values().iter().position(|v| v.value.first() == Some(&Value::Address(address))) else {
        bail!("operator {} has no leaf in {}", args.operator, args.tree.display());
    };
    let proof = tree.proof(i)?;
    let value = &tree.values()[i].value;
    let encoding = tree.leaf_encoding();
    let wei = |k: usize| match value.get(k) {
        Some(Value::Uint256(word)) if word[..16] == [0; 16] => {
            Ok(u128::from_be_bytes(word[16..].try_into().expect("16 bytes")).to_string())
        }
        _ => Err(anyhow::anyhow!(
            "tree dump {} does not have the rewards leaf encoding {:?}",
            args.tree.display(),
            REWARDS_LEAF_ENCODING
        )),
    };
    if encoding.names() != REWARDS_LEAF_ENCODING {
        bail!("tree dump {} does not have the rewards leaf encoding {:?}", args.tree.display(), REWARDS_LEAF_ENCODING);
    }
    let out = serde_json::json!({
        "operator": hex::encode(&address),
        "cumulative_wei": wei(1)?,
        "cumulative_bond_penalty_wei": wei(2)?,
        "bond_requirement_wei": wei(3)?,
        "proof": proof.iter().map(|h| hex::encode(h)).collect::<Vec<_>>(),
        "root": hex::encode(&tree.root()),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

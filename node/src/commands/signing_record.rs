//! `signing-record export|import`: the member's signing record as a JSON file, so that a
//! node moving to another machine (or a lost data dir restored from elsewhere) knows what
//! its key signed before it signs anything. The format and the checks are in
//! `claystack_quorum_driver::signing_record`.

use crate::cli::SigningRecordArgs;
use anyhow::Context;
use claystack_keys::KeyDir;
use claystack_quorum::Roster;
use claystack_quorum_driver::signing_record::{self, SigningRecord};
use claystack_store::Store;

/// What both directions need: the store, the committee, the genesis hash, the member's
/// index and its BLS key.
type Parts = (Store, Roster, [u8; 32], u16, [u8; 48]);

fn open(args: &SigningRecordArgs) -> anyhow::Result<Parts> {
    let genesis = super::genesis::load_verified(&args.genesis)?;
    let roster = Roster::from_genesis(&genesis)?;
    let keys = KeyDir::load_public(&args.keys_dir)?;
    let index = roster
        .index_of(&keys.bls_pubkey)
        .with_context(|| format!("the key in {} is not a member of the genesis committee", args.keys_dir.display()))?;
    let store = Store::open(&args.data_dir)?;
    Ok((store, roster, genesis.hash(), index, keys.bls_pubkey))
}

pub fn export(args: SigningRecordArgs) -> anyhow::Result<()> {
    let (store, roster, hash, index, pubkey) = open(&args)?;
    let record = signing_record::export(&store, &roster, hash, index, pubkey)?;
    let mut json = serde_json::to_string_pretty(&record).expect("a record serializes");
    json.push('\n');
    claystack_fs_util::write_atomic(&args.file, json.as_bytes())?;
    println!("{} signed reports of member {index} written to {}", record.signed_reports.len(), args.file.display());
    Ok(())
}

pub fn import(args: SigningRecordArgs) -> anyhow::Result<()> {
    let text = claystack_fs_util::read(&args.file)?;
    let record: SigningRecord = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a signing record (docs/keys.md)", args.file.display()))?;
    let (store, roster, hash, _, pubkey) = open(&args)?;
    let summary = signing_record::import(&store, &roster, hash, pubkey, &record)
        .with_context(|| format!("signing record {}", args.file.display()))?;
    println!(
        "{} signed reports added to {}, {} already held",
        summary.added,
        args.data_dir.display(),
        summary.already_held
    );
    Ok(())
}

//! `keys new|import|list`: a committee member's key directory (layout and formats in
//! docs/keys.md). Passwords come from a file or an environment variable, never from the
//! command line; nothing secret is printed.

use crate::cli::{Format, ImportArgs, KeysArgs, KeysCommand, ListArgs, NewArgs, PasswordArgs};
use anyhow::bail;
use claystack_execution::alloy::signers::local::PrivateKeySigner;
use claystack_genesis::Address;
use claystack_keys::{Kdf, KeyDir, MemberKeys, PasswordSource, Submitter, Zeroizing};
use claystack_primitives::hex;
use std::path::Path;

impl PasswordArgs {
    pub(crate) fn source(&self) -> PasswordSource {
        match (&self.password_file, &self.password_env) {
            (Some(file), _) => PasswordSource::File(file.clone()),
            (None, Some(var)) => PasswordSource::Env(var.clone()),
            (None, None) => unreachable!("clap requires one password source"),
        }
    }
}

pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::New(args) => new(args),
        KeysCommand::Import(args) => import(args),
        KeysCommand::List(args) => list(args),
    }
}

fn new(args: NewArgs) -> anyhow::Result<()> {
    let submitter = match &args.submitter {
        Some(text) => Submitter::Address(parse_submitter(text)?),
        None if args.new_submitter_key => new_submitter_key(),
        None => Submitter::None,
    };
    let password = args.password.source().read()?;
    let kdf = if args.fast_kdf { Kdf::FAST } else { Kdf::PRODUCTION };
    let new_key = matches!(submitter, Submitter::NewKey { .. });
    let member = KeyDir::create_with_submitter(&args.dir, None, &password, kdf, submitter)?;
    let note = if args.fast_kdf { " (fast KDF: tests and local testnets only)" } else { "" };
    println!("created key directory {}{note}", args.dir.display());
    print_created(&args.dir, &member);
    if new_key {
        println!(
            "submitter key: {} (owner-only; `run --submitter-key-file` reads it); fund {} with gas",
            KeyDir::submitter_key_path(&args.dir).display(),
            member.submitter.expect("a new key has an address")
        );
    }
    Ok(())
}

/// `--submitter`: a 20-byte `0x` hex address, not zero.
fn parse_submitter(text: &str) -> anyhow::Result<Address> {
    let bytes = hex::decode_fixed::<20>(text).map_err(|e| {
        anyhow::anyhow!("--submitter {text}: not an address ({e}); give the 0x-hex address your node submits from")
    })?;
    if bytes == [0; 20] {
        bail!("--submitter: is the zero address; give the address your node submits from");
    }
    Ok(Address(bytes))
}

/// A fresh secp256k1 key (alloy's, from the operating system's randomness) and its address.
fn new_submitter_key() -> Submitter {
    let signer = PrivateKeySigner::random();
    let secret = Zeroizing::new(signer.to_bytes().0);
    Submitter::NewKey { secret, address: Address(signer.address().0 .0) }
}

fn import(args: ImportArgs) -> anyhow::Result<()> {
    let password = args.password.source().read()?;
    let member = KeyDir::import(&args.dir, &args.keystore, &password)?;
    println!("imported {} into key directory {}", args.keystore.display(), args.dir.display());
    print_created(&args.dir, &member);
    Ok(())
}

fn print_created(dir: &Path, member: &MemberKeys) {
    print_table_entry(member);
    match member.submitter {
        Some(_) => {
            println!(
                "genesis entry: {} (send it to whoever assembles the genesis)",
                KeyDir::member_path(dir).display()
            );
        }
        None => println!(
            "genesis entry: {} plus the member's \"submitter\" address (see docs/keys.md)",
            KeyDir::member_path(dir).display()
        ),
    }
}

fn print_table_entry(member: &MemberKeys) {
    println!("  bls_pubkey  {}", hex::encode(&member.bls_pubkey));
    println!("  pop         {}", hex::encode(&member.pop));
    println!("  peer_id     {}", member.peer_id);
    if let Some(address) = member.submitter {
        println!("  submitter   {address}");
    }
}

fn list(args: ListArgs) -> anyhow::Result<()> {
    let dirs = KeyDir::discover(&args.dir)?;
    if dirs.is_empty() {
        bail!(
            "{} holds no key directories; create one with `claystack-oracle keys new --dir {}/<name>`",
            args.dir.display(),
            args.dir.display()
        );
    }
    // Every directory is checked before anything is printed: a listing is all good or an error.
    let members = dirs.iter().map(|d| KeyDir::load_public(d)).collect::<Result<Vec<_>, _>>()?;
    match args.format {
        Format::Table => {
            for (dir, member) in dirs.iter().zip(&members) {
                println!("{}", dir.display());
                print_table_entry(member);
            }
        }
        Format::Json => {
            let entries: Vec<serde_json::Value> = dirs
                .iter()
                .zip(&members)
                .map(|(dir, m)| {
                    let mut entry = serde_json::json!({
                        "dir": dir.display().to_string(),
                        "bls_pubkey": hex::encode(&m.bls_pubkey),
                        "pop": hex::encode(&m.pop),
                        "peer_id": m.peer_id,
                    });
                    if let Some(submitter) = m.submitter {
                        entry["submitter"] = submitter.to_string().into();
                    }
                    entry
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&entries)?);
        }
    }
    Ok(())
}

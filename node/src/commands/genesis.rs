//! `genesis new|verify`.

use crate::cli::{GenesisNewArgs, GenesisVerifyArgs};
use anyhow::{bail, Context};
use claystack_genesis::{generate_local, Genesis};
use claystack_keys::{Kdf, KeyDir, Password, PasswordSource};
use claystack_primitives::hex;
use std::io::Read;
use std::path::Path;

/// Loads a genesis file and refuses it, naming every problem, unless it is valid.
pub fn load_verified(path: &Path) -> anyhow::Result<Genesis> {
    let (genesis, _) = Genesis::load(path)?;
    let problems = genesis.verify();
    if !problems.is_empty() {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        bail!("genesis {} is invalid ({} problems): {}", path.display(), lines.len(), lines.join("; "));
    }
    Ok(genesis)
}

pub fn new(args: GenesisNewArgs) -> anyhow::Result<()> {
    let seed = match &args.seed {
        Some(s) => hex::decode_fixed::<32>(s).map_err(|e| anyhow::anyhow!("--seed: {e}"))?,
        None => {
            let mut seed = [0u8; 32];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut seed))
                .context("cannot read /dev/urandom for a random seed; pass --seed")?;
            seed
        }
    };
    let (mut genesis, secrets) = generate_local(args.members, args.threshold, seed, args.chain_id);
    genesis.first_epoch = args.first_epoch;
    if let Some(root) = &args.beacon_genesis_validators_root {
        let root =
            hex::decode_fixed::<32>(root).map_err(|e| anyhow::anyhow!("--beacon-genesis-validators-root: {e}"))?;
        genesis.beacon_genesis_validators_root = Some(root);
    }
    let problems = genesis.verify();
    if !problems.is_empty() {
        bail!(
            "these settings do not make a valid genesis: {}",
            problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
        );
    }
    let password = match &args.password_file {
        Some(path) => PasswordSource::File(path.clone()).read()?,
        None => {
            // A local testnet's password, beside the keys it opens (owner-only).
            let mut bytes = [0u8; 18];
            std::fs::File::open("/dev/urandom")
                .and_then(|mut f| f.read_exact(&mut bytes))
                .context("cannot read /dev/urandom for a password; pass --password-file")?;
            let text = hex::encode(&bytes)[2..].to_string();
            std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
            write_secret(&args.out.join("password"), &text)?;
            Password::new(text)
        }
    };
    let kdf = if args.production_kdf { Kdf::PRODUCTION } else { Kdf::FAST };
    for (i, secret) in secrets.iter().enumerate() {
        let dir = args.out.join(format!("member-{i}"));
        let keys = KeyDir::create(&dir, Some(*secret), &password, kdf)?;
        // The key dir made the member's libp2p identity; genesis names it.
        genesis.committee.members[i].peer_id = keys.peer_id;
    }
    let path = args.out.join("genesis.json");
    genesis.save(&path)?;
    println!(
        "wrote {} (hash {}) and {} member key directories {}/member-<i> ({} keystores){}",
        path.display(),
        hex::encode(&genesis.hash()),
        secrets.len(),
        args.out.display(),
        if args.production_kdf { "production-cost" } else { "fast-KDF, local use only," },
        if args.password_file.is_none() {
            format!("; their password is in {}", args.out.join("password").display())
        } else {
            String::new()
        }
    );
    Ok(())
}

/// Writes a secret line (a password, a key) readable by its owner only, never replacing a
/// file: the keys beside an existing password must stay readable. Its content is never printed.
pub(crate) fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    Ok(claystack_fs_util::write_new_private(path, format!("{text}\n").as_bytes())?)
}

pub fn verify(args: GenesisVerifyArgs) -> anyhow::Result<()> {
    let (genesis, hash) = Genesis::load(&args.genesis)?;
    let problems = genesis.verify();
    if problems.is_empty() {
        println!("genesis {} is valid; hash {}", args.genesis.display(), hex::encode(&hash));
        return Ok(());
    }
    for p in &problems {
        eprintln!("{}: {p}", args.genesis.display());
    }
    bail!("genesis {} has {} problem(s)", args.genesis.display(), problems.len())
}

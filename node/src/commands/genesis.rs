//! `genesis new|verify`.

use crate::cli::{GenesisNewArgs, GenesisVerifyArgs};
use anyhow::{bail, Context};
use claystack_genesis::{generate_local, Genesis};
use claystack_primitives::hex;
use std::io::{Read, Write};
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
    let problems = genesis.verify();
    if !problems.is_empty() {
        bail!(
            "these settings do not make a valid genesis: {}",
            problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")
        );
    }
    let keys = args.out.join("keys");
    std::fs::create_dir_all(&keys).with_context(|| format!("cannot create {}", keys.display()))?;
    for (i, secret) in secrets.iter().enumerate() {
        write_secret(&keys.join(format!("member-{i}.secret")), secret)?;
    }
    let path = args.out.join("genesis.json");
    genesis.save(&path)?;
    println!(
        "wrote {} (hash {}) and {} secret keys in {} — local use only: keys are plain hex until EIP-2335 keystores land",
        path.display(),
        hex::encode(&genesis.hash()),
        secrets.len(),
        keys.display()
    );
    Ok(())
}

/// Writes a secret readable by its owner only; its value is never printed.
fn write_secret(path: &Path, secret: &[u8; 32]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(f, "{}", hex::encode(secret)).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
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

//! `genesis new|assemble|approve|verify`. `new` is for local networks (every secret in one
//! place); a real committee's ceremony is `keys new` per member, then `assemble`, `approve`
//! per member and `verify --approvals` (docs/genesis.md).

use crate::cli::{GenesisApproveArgs, GenesisAssembleArgs, GenesisNewArgs, GenesisVerifyArgs};
use anyhow::{bail, Context};
use claystack_genesis::ceremony::key_prefix;
use claystack_genesis::{
    assemble as assemble_genesis, check_approvals, generate_local, Approval, Genesis, MemberEntry,
};
use claystack_keys::{Kdf, KeyDir, Password, PasswordSource};
use claystack_primitives::hex;
use std::io::Read;
use std::path::{Path, PathBuf};

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
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{}: {p}", args.genesis.display());
        }
        bail!("genesis {} has {} problem(s)", args.genesis.display(), problems.len())
    }
    println!("genesis {} is valid; hash {}", args.genesis.display(), hex::encode(&hash));
    let Some(dir) = &args.approvals else { return Ok(()) };
    let mut lines = Vec::new();
    let mut approvals = Vec::new();
    for file in json_files(dir).context("--approvals")? {
        let parsed = claystack_fs_util::read(&file)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(Approval::from_json(std::str::from_utf8(&bytes)?)?));
        match parsed {
            Ok(a) => approvals.push((file.display().to_string(), a)),
            Err(e) => lines.push(format!("{}: not an approval file: {e:#}", file.display())),
        }
    }
    lines.extend(check_approvals(&genesis, &approvals).iter().map(|p| p.to_string()));
    if lines.is_empty() {
        println!("every member approved it: {} approvals in {}", approvals.len(), dir.display());
        return Ok(());
    }
    for line in &lines {
        eprintln!("{line}");
    }
    bail!(
        "genesis {} is not approved by every member: {} problem(s) with the approvals in {}",
        args.genesis.display(),
        lines.len(),
        dir.display()
    )
}

/// `genesis assemble`: the template plus every entry, in canonical order. Reads no secret.
pub fn assemble(args: GenesisAssembleArgs) -> anyhow::Result<()> {
    let (template, _) = Genesis::load(&args.template).context("--template")?;
    let mut files = args.members.clone();
    if let Some(dir) = &args.members_dir {
        files.extend(json_files(dir).context("--members-dir")?);
    }
    if files.is_empty() {
        bail!("no member entries: give each member's member.json with --member FILE, or put them in --members-dir DIR");
    }
    let mut lines = Vec::new();
    let mut entries = Vec::new();
    for file in &files {
        let parsed = claystack_fs_util::read(file)
            .map_err(anyhow::Error::from)
            .and_then(|bytes| Ok(serde_json::from_slice::<MemberEntry>(&bytes)?));
        match parsed {
            Ok(entry) => entries.push((file.display().to_string(), entry)),
            Err(e) => {
                lines.push(format!("{}: not a member entry (member.json of a key directory): {e:#}", file.display()))
            }
        }
    }
    let genesis = if lines.is_empty() {
        match assemble_genesis(&template, &entries) {
            Ok(genesis) => Some(genesis),
            Err(problems) => {
                lines.extend(problems.iter().map(|p| p.to_string()));
                None
            }
        }
    } else {
        None
    };
    let Some(genesis) = genesis else {
        for line in &lines {
            eprintln!("{line}");
        }
        bail!(
            "cannot assemble a genesis from {} and {} entries: {} problem(s)",
            args.template.display(),
            files.len(),
            lines.len()
        );
    };
    let written = write_new_or_same(&args.out, genesis.to_pretty_json().as_bytes())?;
    println!(
        "{} {}: {} members, threshold {}; hash {}",
        if written { "wrote" } else { "already written, identical:" },
        args.out.display(),
        genesis.committee.members.len(),
        genesis.committee.threshold,
        hex::encode(&genesis.hash())
    );
    Ok(())
}

/// `genesis approve`: this member's BLS signature of the genesis hash (docs/genesis.md).
pub fn approve(args: GenesisApproveArgs) -> anyhow::Result<()> {
    let genesis = load_verified(&args.genesis)?;
    let hash = genesis.hash();
    // Membership first: no password and no KDF for a key dir of another committee.
    let public = KeyDir::load_public(&args.keys_dir)?;
    let key = key_prefix(&public.bls_pubkey);
    let Some(index) = genesis.committee.members.iter().position(|m| m.bls_pubkey == public.bls_pubkey) else {
        bail!(
            "the BLS key of {} ({key}) is not a member of the committee of {}; approve with the key dir whose member.json went into this genesis",
            args.keys_dir.display(),
            args.genesis.display()
        );
    };
    let password = args.password.source().read()?;
    let keys = KeyDir::unlock(&args.keys_dir, &password)?;
    let approval = Approval::sign(hash, &keys.secret_key);
    let written = write_new_or_same(&args.out, approval.to_json().as_bytes())?;
    println!(
        "member {index} ({key}) approves genesis {} (hash {}); {} {}",
        args.genesis.display(),
        hex::encode(&hash),
        if written { "wrote" } else { "already written, identical:" },
        args.out.display()
    );
    Ok(())
}

/// The `*.json` files directly in `dir`, sorted by name.
fn json_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let read = |e: std::io::Error| anyhow::anyhow!("cannot read directory {}: {e}", dir.display());
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.is_file() && path.extension().is_some_and(|x| x == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Writes `bytes` to `path` unless it exists; an existing file is fine if it holds exactly
/// these bytes (true: written, false: already there) and refused otherwise.
fn write_new_or_same(path: &Path, bytes: &[u8]) -> anyhow::Result<bool> {
    if path.symlink_metadata().is_ok() {
        let existing = claystack_fs_util::read(path)?;
        if existing == bytes {
            return Ok(false);
        }
        bail!(
            "{} exists with other content; it is never overwritten: remove it or choose another --out",
            path.display()
        );
    }
    claystack_fs_util::write_atomic(path, bytes)?;
    Ok(true)
}

//! `claystack-oracle tallies`: print what the accounting stored.

use crate::cli::TalliesArgs;
use anyhow::bail;
use claystack_store::Store;
use std::io::Write;

pub fn tallies(args: TalliesArgs) -> anyhow::Result<()> {
    match print(args) {
        // `tallies | head` closing the pipe early is not an error.
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) => {
            Ok(())
        }
        other => other,
    }
}

fn print(args: TalliesArgs) -> anyhow::Result<()> {
    if !args.data_dir.exists() {
        bail!(
            "data directory {} does not exist — run `claystack-oracle run` first or pass --data-dir",
            args.data_dir.display()
        );
    }
    let store = Store::open(&args.data_dir)?;
    let Some(cursor) = store.accounting_cursor()? else {
        bail!("no epoch accounted yet in {}", args.data_dir.display());
    };
    let Some(last) = cursor.next_epoch.checked_sub(1) else {
        bail!("no epoch accounted yet in {}", args.data_dir.display());
    };
    let to = args.to.unwrap_or(last).min(last);
    let from = args.from.unwrap_or(0);
    let mut out = std::io::stdout().lock();
    match args.format.as_str() {
        "json" => {
            let epochs = store.epoch_tallies(from, to)?;
            serde_json::to_writer(&mut out, &serde_json::json!({ "epochs": epochs }))?;
            writeln!(out)?;
        }
        "table" => {
            let sums = store.sum_tallies(from, to)?;
            writeln!(out, "epochs {from}..={to}: {} validators", sums.len())?;
            writeln!(out, "{:>10} {:>7} {:>9} {:>7} {:>9}", "validator", "duties", "included", "timely", "rate_bps")?;
            for t in &sums {
                let rate = if t.duties == 0 { 0 } else { u64::from(t.included) * 10_000 / u64::from(t.duties) };
                writeln!(out, "{:>10} {:>7} {:>9} {:>7} {:>9}", t.validator, t.duties, t.included, t.timely, rate)?;
            }
        }
        other => bail!("unknown --format {other}: use table or json"),
    }
    Ok(())
}

//! `fathom audit verify [--export-head FILE] [--anchor FILE]` and `fathom audit head`: walk the
//! hash-chained audit log and report the first altered, removed or inserted entry (exit 1), and
//! print or export the head (sequence and hash) to anchor the chain elsewhere. A head anchored
//! earlier (`--anchor`) must still be in the chain: that catches a log rewritten wholesale.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use fathom_store::audit::Verifier;
use fathom_store::{AuditHead, Store};
use serde_json::json;

use crate::app::open_store;
use crate::cli::CommonArgs;

/// Entries read per page while walking.
const PAGE: u32 = 1000;

fn head_json(head: &AuditHead) -> String {
    json!({ "seq": head.seq, "hash": head.hash }).to_string()
}

/// Reads a head exported by `audit head` or `verify --export-head`.
fn read_anchor(path: &Path) -> anyhow::Result<AuditHead> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the anchor file {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|_| {
        anyhow!(
            "{} is not an exported audit head; hint: write it with `fathom audit head > FILE`",
            path.display()
        )
    })?;
    match (value["seq"].as_i64(), value["hash"].as_str()) {
        (Some(seq), Some(hash)) => Ok(AuditHead {
            seq,
            hash: hash.to_owned(),
        }),
        _ => Err(anyhow!(
            "{} lacks `seq` and `hash`; hint: write it with `fathom audit head > FILE`",
            path.display()
        )),
    }
}

pub async fn head(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    println!("{}", head_json(&read_head(&store).await?));
    Ok(ExitCode::SUCCESS)
}

pub async fn verify(
    args: &CommonArgs,
    export_head: Option<&Path>,
    anchor: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let anchor = anchor.map(read_anchor).transpose()?;
    let store = open_store(&config, "fathom.db").await?;
    let head = read_head(&store).await?;
    match walk(&store, &head, anchor.as_ref()).await? {
        Ok((checked, head)) => {
            println!(
                "The audit log verifies: {checked} entries, head {} {}.",
                head.seq, head.hash
            );
            if let Some(path) = export_head {
                std::fs::write(path, head_json(&head) + "\n")
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("Head exported to {}.", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("The audit log does NOT verify: {message}.");
            eprintln!(
                "hint: entries before it are intact; restore the log from a backup or investigate who wrote to the database directly"
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Walks the chain up to `head`; the number of entries checked, or what broke.
async fn walk(
    store: &Store,
    head: &AuditHead,
    anchor: Option<&AuditHead>,
) -> anyhow::Result<Result<(u64, AuditHead), String>> {
    let mut verifier = Verifier::with_head(head.clone());
    let mut after = 0;
    let mut anchor_seen = false;
    loop {
        let page = store
            .audit_chain(after, PAGE)
            .await
            .map_err(|e| anyhow!("reading the audit log: {}", e.detail))?;
        if page.is_empty() {
            break;
        }
        for record in &page {
            if verifier.head.as_ref().is_some_and(|h| record.seq > h.seq) {
                // Appended by a running server during the walk, or put in: the head decides.
                verifier.head = Some(read_head(store).await?);
            }
            if let Err(broken) = verifier.next(record) {
                return Ok(Err(format!(
                    "entry {} is {}: {}",
                    broken.seq,
                    broken.kind.as_str(),
                    broken.message
                )));
            }
            if let Some(anchor) = anchor.filter(|a| a.seq == record.seq) {
                if anchor.hash != record.hash {
                    return Ok(Err(format!(
                        "entry {} does not have the anchored hash {}: the log was rewritten since the anchor",
                        anchor.seq, anchor.hash
                    )));
                }
                anchor_seen = true;
            }
            after = record.seq;
        }
    }
    let head = verifier.head.clone().unwrap_or_else(|| head.clone());
    if let Err(broken) = verifier.finish(&head) {
        return Ok(Err(format!(
            "entry {} is {}: {}",
            broken.seq,
            broken.kind.as_str(),
            broken.message
        )));
    }
    if let Some(anchor) = anchor.filter(|_| !anchor_seen) {
        if anchor.seq > head.seq {
            return Ok(Err(format!(
                "the anchored entry {} is newer than the head {}: entries were removed since the anchor",
                anchor.seq, head.seq
            )));
        }
        println!(
            "Note: the anchored entry {} has been pruned; the chain from the checkpoint on verifies.",
            anchor.seq
        );
    }
    Ok(Ok((verifier.checked, head)))
}

async fn read_head(store: &Store) -> anyhow::Result<AuditHead> {
    store
        .audit_head()
        .await
        .map_err(|e| anyhow!("reading the audit head: {}", e.detail))
}

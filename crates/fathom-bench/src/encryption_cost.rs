//! The cost of encrypted fields: W1 (create, 1 and 32 workers) and W2 (get by id) against two
//! servers of this build started alike, one on the bench schema and one on the same schema with
//! two fields encrypted (`title`, and `team` with a blind index), taking turns round by round as
//! every workload does; then the speed of `fathom keys rotate-data` re-encrypting every record of
//! the encrypted server under a new key while it serves.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow};

use crate::fathom_server::{self, FathomServer, PairSettings, owners, start_async};
use crate::loadgen::Load;
use crate::results::{EncryptionCost, Rotation};

/// The bench schema with `title` encrypted and `team` encrypted with a blind index.
pub fn encrypted_schema() -> anyhow::Result<String> {
    let swaps = [
        (
            "fields.title    = { type = \"text\", required = true, max_length = 200 }",
            "fields.title    = { type = \"text\", required = true, max_length = 200, encrypted = true }",
        ),
        (
            "fields.team     = { type = \"text\", required = true, max_length = 40 }",
            "fields.team     = { type = \"text\", required = true, max_length = 40, encrypted = true, blind_index = true }",
        ),
    ];
    swaps
        .iter()
        .try_fold(fathom_server::SCHEMA.to_owned(), |schema, (from, to)| {
            schema
                .contains(from)
                .then(|| schema.replace(from, to))
                .ok_or_else(|| anyhow!("the bench schema no longer declares `{from}`"))
        })
}

pub async fn run(options: &PairSettings) -> anyhow::Result<EncryptionCost> {
    println!(
        "encryption cost: W1 and W2 on two fields encrypted (one blind-indexed) against the same \
         schema in clear, fresh servers of this build"
    );
    let keys_dir = tempfile::tempdir().context("creating the key file's directory")?;
    let keys = keys_dir.path().join("bench.keys");
    let keys_text = keys.to_string_lossy().into_owned();
    let key_env = vec![("FATHOM_ENCRYPTION__KEY_FILE".to_owned(), keys_text.clone())];
    let plain = start_async(
        options.fathom.clone(),
        fathom_server::SCHEMA.to_owned(),
        Vec::new(),
    )
    .await?;
    // The key file is made by the CLI, as an operator would.
    plain.cli.run(plain.cli.bare(&[
        "keys",
        "new-data-key",
        "--file",
        &keys_text,
        "--id",
        "bench-1",
    ]))?;
    let sealed = start_async(options.fathom.clone(), encrypted_schema()?, key_env).await?;

    let (bench, plain_token) = options.seed_pair(&sealed, &plain).await?;
    let owners = Arc::new(owners());
    let mut rows = Vec::new();
    for concurrency in [1, 32] {
        rows.push(
            bench
                .w1_create_fathoms(concurrency, plain_token.clone(), owners.clone())
                .await,
        );
    }
    let load = Load::Closed {
        concurrency: options.concurrency,
    };
    rows.push(bench.w2_get_fathoms(load, plain_token).await);
    drop(plain);

    let rotation = rotate(&sealed, &keys_text).await?;
    drop(sealed);
    Ok(EncryptionCost { rows, rotation })
}

/// Adds a data key, then times `fathom keys rotate-data` over every record of `server` while it
/// serves.
async fn rotate(server: &FathomServer, keys: &str) -> anyhow::Result<Rotation> {
    let cli = server.cli.clone();
    let keys = keys.to_owned();
    tokio::task::spawn_blocking(move || {
        cli.run(cli.bare(&["keys", "new-data-key", "--file", &keys, "--id", "bench-2"]))?;
        let started = Instant::now();
        let report = cli.run(cli.command(&["keys", "rotate-data", "--batch", "500"]))?;
        let seconds = started.elapsed().as_secs_f64();
        let records = rotated_records(&report)
            .with_context(|| format!("reading the rotation's report: {report}"))?;
        println!("rotation: {records} records re-encrypted in {seconds:.1} s");
        Ok(Rotation {
            records,
            seconds,
            records_per_second: records as f64 / seconds.max(1e-6),
        })
    })
    .await
    .context("the rotation task failed")?
}

/// The record count of `Rotation done: N records re-encrypted …`.
fn rotated_records(report: &str) -> Option<u64> {
    let tail = report.split("Rotation done: ").nth(1)?;
    tail.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_encrypted_schema_differs_in_two_fields_only() {
        let schema = encrypted_schema().expect("both fields found");
        assert_eq!(schema.matches("encrypted = true").count(), 2);
        assert_eq!(schema.matches("blind_index = true").count(), 1);
        assert_eq!(
            schema.lines().count(),
            fathom_server::SCHEMA.lines().count()
        );
    }

    #[test]
    fn reads_the_rotation_report() {
        let report = "items: 500 records re-encrypted\nRotation done: 12345 records re-encrypted under `k2` in 1.0 s (12345 records/s).";
        assert_eq!(rotated_records(report), Some(12_345));
        assert_eq!(rotated_records("nothing"), None);
    }
}

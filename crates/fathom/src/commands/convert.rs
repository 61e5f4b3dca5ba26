//! Running the conversions the schema asks of stored values (see `fathom_store::Conversion`):
//! fields whose encryption was turned on or off, or whose blind index came, with data in them,
//! and values under an older data key. `fathom migrate apply` runs them after the migration
//! commits, `fathom keys rotate-data` runs the same loop; both print progress on stderr and are
//! resumable by running them again, since what remains is found by query.

use anyhow::anyhow;
use fathom_schema::Schema;
use fathom_store::Store;

/// How far a run may go.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records per batch (one transaction each).
    pub batch: u32,
    /// Stop after this many batches (throttling by hand; tests interrupt a conversion with it).
    pub max_batches: Option<u64>,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Records the batches read and brought to their target form.
    pub records: usize,
    /// Values rewritten.
    pub rewritten: usize,
    /// Event record copies in the outbox rewritten.
    pub events: usize,
    /// Values of fields turned off that look like ciphertexts but do not open: left as they are.
    pub unopened: usize,
    /// The run stopped at `max_batches` with records left.
    pub stopped: bool,
    pub batches: u64,
    pub seconds: f64,
}

/// A pass reads every record not yet in the target form once; a record a server still on the
/// previous schema wrote behind it is found by the next pass. Passes go on while one rewrote
/// something, up to this many.
const MAX_PASSES: usize = 4;

/// Runs every pending conversion of `schema` to completion (or to `limits.max_batches`).
pub async fn run(store: &Store, schema: &Schema, limits: Limits) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let mut report = Report::default();
    let pending = store
        .conversions(schema)
        .await
        .map_err(|e| anyhow!("finding values to convert: {}", e.detail))?;
    let pending: Vec<_> = pending.into_iter().filter(|(_, n)| *n > 0).collect();
    if !pending.is_empty() {
        crate::encryption::check_keys(store, schema).await?;
    }
    let mut sealed = false;
    for (conversion, remaining) in pending {
        if store.key_ring().is_none() {
            return Err(anyhow!(
                "{remaining} records of `{}` hold ciphertexts of fields no longer encrypted, and no key file is configured to open them\nhint: set encryption.key_file (or FATHOM_ENCRYPTION__KEY_FILE) to the key file they were written with",
                conversion.collection.name
            ));
        }
        let name = &conversion.collection.name;
        eprintln!("{name}: {remaining} records to convert");
        // The outbox's copies first: a run interrupted here finds the records still pending and
        // goes over the outbox again, while one interrupted later finds it done.
        let mut after = 0i64;
        loop {
            if limits.max_batches.is_some_and(|max| report.batches >= max) {
                report.stopped = true;
                report.seconds = started.elapsed().as_secs_f64();
                return Ok(report);
            }
            let batch = store
                .convert_events_batch(&conversion, after, limits.batch)
                .await
                .map_err(|e| anyhow!("converting the outbox of {name}: {}", e.detail))?;
            report.batches += 1;
            if batch.events == 0 {
                break;
            }
            report.events += batch.rewritten;
            after = batch.last;
        }
        let mut done = 0usize;
        for _ in 0..MAX_PASSES {
            let mut after: Option<String> = None;
            let mut rewritten = 0usize;
            loop {
                if limits.max_batches.is_some_and(|max| report.batches >= max) {
                    report.stopped = true;
                    report.seconds = started.elapsed().as_secs_f64();
                    return Ok(report);
                }
                let batch = store
                    .convert_batch(&conversion, after.as_deref(), limits.batch)
                    .await
                    .map_err(|e| anyhow!("converting {name}: {}", e.detail))?;
                report.batches += 1;
                if batch.records == 0 {
                    break;
                }
                rewritten += batch.rewritten;
                report.unopened += batch.unopened;
                done += batch.records;
                report.records += batch.records;
                after = batch.last;
                eprintln!("{name}: {done} of about {remaining} records converted");
            }
            report.rewritten += rewritten;
            sealed |= (rewritten > 0 || report.events > 0)
                && conversion.collection.has_encrypted_fields();
            if rewritten == 0 {
                break;
            }
        }
    }
    if sealed && store.backend_name() == "sqlite" {
        // The plaintext a sealed value replaced is still in free pages and the write-ahead log.
        let emptied = store
            .scrub()
            .await
            .map_err(|e| anyhow!("scrubbing the replaced values: {}", e.detail))?;
        if !emptied {
            eprintln!(
                "warning: the write-ahead log could not be emptied (a reader held it); replaced plaintext may stay in fathom.db-wal until the next checkpoint"
            );
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Prints what [`run`] did, on stdout; `command` is how to resume.
pub fn print(report: &Report, command: &str) {
    let rate = report.rewritten as f64 / report.seconds.max(1e-6);
    if report.stopped {
        println!(
            "Conversion stopped after {} batch(es): {} values converted; run `{command}` again to resume.",
            report.batches, report.rewritten
        );
    } else if report.rewritten > 0 || report.events > 0 {
        println!(
            "Conversion done: {} values converted in {:.1} s ({rate:.0} values/s), and {} event copies in the outbox.",
            report.rewritten, report.seconds, report.events
        );
    }
    if report.unopened > 0 {
        println!(
            "{} values of fields no longer encrypted look like ciphertexts but do not open with this key file; they were left as they are.",
            report.unopened
        );
    }
}

/// The lines `fathom migrate status` prints for conversions not finished.
pub async fn status_lines(store: &Store, schema: &Schema) -> anyhow::Result<Vec<String>> {
    let pending = store
        .conversions(schema)
        .await
        .map_err(|e| anyhow!("finding values to convert: {}", e.detail))?;
    Ok(pending
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(conversion, n)| {
            let sealed: Vec<&str> = conversion
                .collection
                .fields
                .iter()
                .filter(|f| f.encrypted)
                .map(|f| f.name.as_str())
                .collect();
            let mut parts = Vec::new();
            if !sealed.is_empty() {
                parts.push(format!("encrypted: {}", sealed.join(", ")));
            }
            if !conversion.decrypting.is_empty() {
                parts.push(format!("decrypting: {}", conversion.decrypting.join(", ")));
            }
            format!(
                "conversion pending: {n} records of `{}` not yet in their target form ({}); run `fathom migrate apply` to convert them",
                conversion.collection.name,
                parts.join("; ")
            )
        })
        .collect())
}

//! `fathom advise [--json] [--apply]`: the architect's findings for this deployment (see
//! docs/ARCHITECT.md). It opens the configured database as `fathom migrate plan` does, reads
//! the query shapes the store recorded (or a file of them, `--shapes`), and prints every
//! finding with its evidence, estimated gain and exact change. `--apply` writes the findings'
//! schema patches into the schema file for review; the database is never changed.

mod patch;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use fathom_architect::{Finding, IndexOptions, advise_indexes};
use fathom_store::shapes::ShapeReport;

use crate::app::open_store;
use crate::cli::CommonArgs;

const DATABASE_FILE: &str = "fathom.db";

/// What `fathom advise` was asked.
#[derive(Debug, Clone)]
pub struct AdviseArgs {
    pub json: bool,
    pub apply: bool,
    pub shapes: Option<PathBuf>,
    pub options: IndexOptions,
}

pub async fn run(common: &CommonArgs, args: &AdviseArgs) -> anyhow::Result<ExitCode> {
    let config = common.load_config(None)?;
    let schema_path = config.schema.path.clone();
    // Read before advising, so that `--apply` can tell whether the file changed meanwhile.
    let source = std::fs::read_to_string(&schema_path)
        .with_context(|| format!("cannot read the schema file {}", schema_path.display()))?;
    let store = open_store(&config, DATABASE_FILE).await?;
    // The indexes that exist are those of the applied schema, whatever the file says now.
    let applied = store
        .applied()
        .await
        .map_err(|e| anyhow::anyhow!("reading the applied schema failed: {}", e.detail))?
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the database has no applied schema yet; run `fathom migrate apply` (or serve) first"
            )
        })?;
    let reports: Vec<ShapeReport> = match &args.shapes {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the shapes file {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| {
                format!(
                    "the shapes file {} is not a JSON array of recorded shapes (`shape` and `stats` each)",
                    path.display()
                )
            })?
        }
        None => store
            .query_shapes()
            .await
            .map_err(|e| anyhow::anyhow!("reading the recorded shapes failed: {}", e.detail))?,
    };
    let findings = advise_indexes(&store, &applied.schema, &reports, &args.options)
        .await
        .map_err(|e| anyhow::anyhow!("advising failed: {}", e.detail))?;
    if args.json {
        let document = serde_json::json!({
            "database": store.backend_name(),
            "shapes": reports.len(),
            "findings": findings,
        });
        println!("{}", serde_json::to_string_pretty(&document)?);
    } else {
        print!("{}", render(&findings, reports.len()));
    }
    if args.apply {
        let outcome = patch::apply(&schema_path, &source, &findings)?;
        // With --json, stdout holds the document alone; the report goes to stderr.
        if args.json {
            eprint!("{outcome}");
        } else {
            print!("{outcome}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The findings as text: each with its evidence, gain and change.
fn render(findings: &[Finding], shapes: usize) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if findings.is_empty() {
        let _ = writeln!(
            out,
            "No advice: {shapes} recorded shape(s) read, every index pays its way."
        );
        return out;
    }
    let _ = writeln!(
        out,
        "{} finding(s) from {shapes} recorded shape(s):",
        findings.len()
    );
    for (n, finding) in findings.iter().enumerate() {
        let severity = serde_json::to_value(finding.severity).unwrap_or_default();
        let kind = serde_json::to_value(finding.kind).unwrap_or_default();
        let _ = writeln!(
            out,
            "\n{}. [{}] {}: {}",
            n + 1,
            severity.as_str().unwrap_or("?"),
            kind.as_str().unwrap_or("?"),
            finding.title
        );
        let evidence = serde_json::to_string_pretty(&finding.evidence).unwrap_or_default();
        let _ = writeln!(out, "   evidence:");
        for line in evidence.lines() {
            let _ = writeln!(out, "     {line}");
        }
        if let Some(gain) = &finding.gain {
            let _ = writeln!(out, "   gain: {gain}");
        }
        let _ = writeln!(out, "   change: {}", finding.change.advice);
        if let Some(patch) = &finding.change.schema_patch {
            let _ = writeln!(out, "   schema file:");
            for line in patch.lines() {
                let _ = writeln!(out, "     {line}");
            }
        }
        for sql in &finding.change.sql {
            let _ = writeln!(out, "   sql: {sql}");
        }
    }
    out
}

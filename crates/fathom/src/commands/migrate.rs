//! `fathom migrate plan|apply|status`.

use std::process::ExitCode;

use fathom_architect::migrations::Review;
use fathom_store::StoreErrorKind;

use super::convert::{self, Limits};
use super::migrate_review::api_changes;
use crate::app::open_store;
use crate::cli::CommonArgs;

const DATABASE_FILE: &str = "fathom.db";

/// The exit status of a refused or failed check: unsafe steps, nothing changed.
const UNSAFE: u8 = 2;

/// The exit status of `plan --deny-breaking` when the migration breaks API clients.
const BREAKING: u8 = 3;

/// The flags of `migrate plan`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    /// Exit with [`UNSAFE`] when a step is unsafe.
    pub check: bool,
    /// Exit with [`BREAKING`] when an API change breaks clients or needs review.
    pub deny_breaking: bool,
    /// Print JSON instead of text.
    pub json: bool,
}

/// Prints the plan with its locks and rewrites and its API changes; with `check`, an unsafe
/// plan exits with status 2 (as `apply` refusing it does), so CI can stop a change that would
/// need `--allow-destructive`; with `deny_breaking`, one that breaks API clients exits with 3.
pub async fn plan(args: &CommonArgs, options: PlanOptions) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let store = open_store(&config, DATABASE_FILE).await?;
    let plan = store
        .plan(&schema)
        .await
        .map_err(|e| anyhow::anyhow!("planning failed: {}", e.detail))?;
    let review = Review {
        api: api_changes(&store, &config, &schema).await?,
        plan: &plan,
    };
    if options.json {
        println!("{}", serde_json::to_string_pretty(&review.to_json())?);
    } else {
        print!("{}", review.render());
    }
    if options.check && plan.is_unsafe() {
        eprintln!(
            "\nerror: the plan has unsafe steps (--check); review them and apply with `fathom migrate apply --allow-destructive`."
        );
        return Ok(ExitCode::from(UNSAFE));
    }
    if options.deny_breaking && review.has_breaking() {
        eprintln!(
            "\nerror: the migration changes the API in ways existing clients break on (--deny-breaking); see \"API changes\"."
        );
        return Ok(ExitCode::from(BREAKING));
    }
    Ok(ExitCode::SUCCESS)
}

/// Applies the plan, then runs the conversions it leaves (and any an earlier run or a server's
/// own migration left): see [`super::convert`].
pub async fn apply(
    args: &CommonArgs,
    allow_destructive: bool,
    limits: Limits,
) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let store = open_store(&config, DATABASE_FILE).await?;
    // A schema that encrypts needs the key file before its migration commits: a server would
    // not start on it without one.
    crate::encryption::require_ring(&store, &schema)?;
    // The API changes are judged against the schema applied before this run, and shown with
    // the plan as `migrate plan` shows them.
    let api = api_changes(&store, &config, &schema).await?;
    let shown = |plan| {
        Review {
            plan,
            api: api.clone(),
        }
        .render()
    };
    match store.migrate(&schema, allow_destructive).await {
        Ok(plan) if plan.is_empty() => {
            print!("{}", shown(&plan));
        }
        Ok(plan) => {
            print!("{}", shown(&plan));
            println!(
                "\nApplied: the database is now at version {}.",
                plan.from_version + 1
            );
        }
        Err(e) => {
            return match e.kind {
                StoreErrorKind::UnsafeMigration(plan) => {
                    print!("{}", shown(&plan));
                    eprintln!(
                        "\nerror: refusing to apply unsafe steps; nothing was changed. Re-run with --allow-destructive once you have reviewed them."
                    );
                    Ok(ExitCode::from(UNSAFE))
                }
                _ => Err(anyhow::anyhow!(
                    "the migration failed and was rolled back; nothing was changed: {}",
                    e.detail
                )),
            };
        }
    }
    let report = convert::run(&store, &schema, limits).await?;
    convert::print(&report, "fathom migrate apply");
    Ok(ExitCode::SUCCESS)
}

pub async fn status(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let store = open_store(&config, DATABASE_FILE).await?;
    let history = store
        .history()
        .await
        .map_err(|e| anyhow::anyhow!("reading history failed: {}", e.detail))?;
    if history.is_empty() {
        println!("No migration has been applied yet.");
    }
    for migration in &history {
        println!(
            "version {:>3}  applied {}  {} statement(s), {} collection(s)",
            migration.version,
            migration.applied_at,
            migration.statements.len(),
            migration.schema.collections.len()
        );
    }
    let plan = store
        .plan(&schema)
        .await
        .map_err(|e| anyhow::anyhow!("planning failed: {}", e.detail))?;
    if plan.is_empty() {
        println!("The schema file is applied: nothing pending.");
    } else {
        println!(
            "{} pending step(s){}; run `fathom migrate plan` to see them.",
            plan.steps.len(),
            if plan.is_unsafe() {
                ", some unsafe"
            } else {
                ""
            }
        );
    }
    // What remains of a conversion is judged against the applied schema: the file's may name
    // columns that do not exist yet.
    let applied = store
        .applied()
        .await
        .map_err(|e| anyhow::anyhow!("reading the applied schema failed: {}", e.detail))?;
    if let Some(applied) = applied {
        for line in convert::status_lines(&store, &applied.schema).await? {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `fathom schema check`.

use std::process::ExitCode;

use crate::cli::CommonArgs;

pub fn check(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let config = args.load_config(None)?;
    let schema = super::load_schema(&config.schema.path)?;
    let broken = fathom_api::check_rules(&schema);
    if !broken.is_empty() {
        anyhow::bail!(
            "the schema's access rules have problems:\n  {}",
            broken.join("\n  ")
        );
    }
    let fields: usize = schema.collections.values().map(|c| c.fields.len()).sum();
    println!(
        "{} is valid: {} collection(s), {fields} field(s).",
        config.schema.path.display(),
        schema.collections.len()
    );
    Ok(ExitCode::SUCCESS)
}

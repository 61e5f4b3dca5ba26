//! `fathom init`: a starter schema file and configuration, never overwriting existing files.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

const STARTER_SCHEMA: &str = include_str!("../../templates/fathom.schema.toml");
const STARTER_CONFIG: &str = include_str!("../../templates/fathom.toml");

pub fn run(dir: &Path) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let files = [
        ("fathom.schema.toml", STARTER_SCHEMA),
        ("fathom.toml", STARTER_CONFIG),
    ];
    for (name, _) in &files {
        let path = dir.join(name);
        if path.exists() {
            bail!(
                "{} already exists; init never overwrites files. Remove it or pick another --dir",
                path.display()
            );
        }
    }
    for (name, contents) in &files {
        let path = dir.join(name);
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    println!(
        "\nNext: `fathom schema check`, then `fathom serve` (run them in {}).",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

//! Every ```toml block of the documentation (README.md, SECURITY.md, ARCHITECTURE.md, docs/*.md)
//! is valid TOML, and what it claims to be: a schema passes `fathom_schema::parse_schema`, a
//! configuration loads with `Config::load`. A snippet that is only part of a file says so.
//!
//! The kind comes from the fence's info string, ```toml schema, ```toml config or
//! ```toml fragment; a plain ```toml block is a schema when its top-level keys are
//! `collections` / `users`, a configuration when they are configuration sections, and must be
//! marked otherwise.

use std::path::{Path, PathBuf};

use fathom::Config;
use fathom::config::Overrides;

/// What a snippet is, and so what it must pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Schema,
    Config,
    Fragment,
}

/// One ```toml block: where it starts (for messages), its info string's kind, and its text.
struct Snippet {
    at: String,
    marked: Option<Kind>,
    text: String,
}

/// The documentation files whose snippets are checked.
fn documents() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files: Vec<PathBuf> = ["README.md", "SECURITY.md", "ARCHITECTURE.md"]
        .iter()
        .map(|name| root.join(name))
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("a docs entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The ```toml blocks of one Markdown text. Panics on a block that never ends or an unknown kind.
fn snippets(name: &str, markdown: &str) -> Vec<Snippet> {
    let mut found = Vec::new();
    let mut open: Option<(String, Option<Kind>, Vec<&str>)> = None;
    for (index, line) in markdown.lines().enumerate() {
        let fence = line.trim_start();
        match &mut open {
            Some((_, _, lines)) if !fence.starts_with("```") => lines.push(line),
            Some(_) => {
                let (at, marked, lines) = open.take().expect("a block is open");
                found.push(Snippet {
                    at,
                    marked,
                    text: lines.join("\n") + "\n",
                });
            }
            None => {
                let Some(info) = fence.strip_prefix("```toml") else {
                    continue;
                };
                let marked = match info.trim() {
                    "" => None,
                    "schema" => Some(Kind::Schema),
                    "config" => Some(Kind::Config),
                    "fragment" => Some(Kind::Fragment),
                    other => panic!(
                        "{name}:{}: unknown snippet kind `{other}`; use ```toml schema, config or fragment",
                        index + 1
                    ),
                };
                open = Some((format!("{name}:{}", index + 1), marked, Vec::new()));
            }
        }
    }
    assert!(open.is_none(), "{name}: a ```toml block never ends");
    found
}

/// The sections a configuration file may have.
const CONFIG_SECTIONS: &[&str] = &[
    "server",
    "database",
    "schema",
    "log",
    "auth",
    "mail",
    "events",
    "realtime",
    "idempotency",
    "purge",
    "backup",
    "cache",
    "oauth",
    "architect",
];

/// The kind of an unmarked snippet, from its top-level keys.
fn inferred_kind(snippet: &Snippet, document: &toml_edit::DocumentMut) -> Kind {
    let keys: Vec<&str> = document.iter().map(|(key, _)| key).collect();
    if !keys.is_empty() && keys.iter().all(|k| matches!(*k, "collections" | "users")) {
        Kind::Schema
    } else if !keys.is_empty() && keys.iter().all(|k| CONFIG_SECTIONS.contains(k)) {
        Kind::Config
    } else {
        panic!(
            "{}: cannot tell whether this snippet is a schema or a configuration (top-level keys {keys:?}); mark it ```toml schema, ```toml config or ```toml fragment",
            snippet.at
        )
    }
}

/// Checks one snippet; returns its kind, or a message saying what is wrong.
fn check(snippet: &Snippet, scratch: &Path) -> Result<Kind, String> {
    let document: toml_edit::DocumentMut = snippet
        .text
        .parse()
        .map_err(|e| format!("{}: not valid TOML: {e}", snippet.at))?;
    let kind = snippet
        .marked
        .unwrap_or_else(|| inferred_kind(snippet, &document));
    match kind {
        Kind::Schema => {
            fathom_schema::parse_schema("snippet.toml", &snippet.text)
                .map_err(|e| format!("{}: not a valid schema:\n{e}", snippet.at))?;
        }
        Kind::Config => {
            let file = scratch.join("fathom.toml");
            std::fs::write(&file, &snippet.text).expect("write the snippet");
            match Config::load(Some(&file), Vec::new(), &Overrides::default()) {
                Ok(_) => {}
                // An `[otel]` snippet is valid only for a binary built with traces; without the
                // feature, the refusal that names the feature is the right answer.
                Err(e)
                    if cfg!(not(feature = "otel"))
                        && e.to_string().contains("without the `otel` feature") => {}
                Err(e) => return Err(format!("{}: not a valid configuration: {e}", snippet.at)),
            }
        }
        Kind::Fragment => {}
    }
    Ok(kind)
}

#[test]
fn every_toml_snippet_in_the_docs_is_valid_and_what_it_claims_to_be() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut problems = Vec::new();
    let mut schemas = 0;
    for path in documents() {
        let Ok(markdown) = std::fs::read_to_string(&path) else {
            continue;
        };
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        for snippet in snippets(&name, &markdown) {
            match check(&snippet, scratch.path()) {
                Ok(Kind::Schema) => schemas += 1,
                Ok(_) => {}
                Err(problem) => problems.push(problem),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    assert!(
        schemas >= 2,
        "the README's schema examples are found and checked"
    );
}

/// The checker itself: an inline table spread over two lines (the README's old access-rules
/// example) is refused, and a marked fragment is held to TOML only.
#[test]
fn the_snippet_checker_refuses_what_it_should() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let markdown = "```toml\n[collections.notes]\nrules = { list = \"true\",\n  view = \"true\" }\n```\n\
                    ```toml fragment\nrules = { list = true }\n```\n\
                    ```toml config\n[server]\nlisten = \"nowhere\"\n```\n\
                    ```toml\n[collections.notes]\nfields.body = { type = \"texte\" }\n```\n";
    let results: Vec<_> = snippets("test.md", markdown)
        .iter()
        .map(|s| check(s, scratch.path()))
        .collect();
    assert!(
        results[0]
            .as_ref()
            .is_err_and(|e| e.starts_with("test.md:1: not valid TOML")),
        "{results:?}"
    );
    assert_eq!(results[1], Ok(Kind::Fragment));
    assert!(
        results[2]
            .as_ref()
            .is_err_and(|e| e.starts_with("test.md:9: not a valid configuration")),
        "{results:?}"
    );
    assert!(
        results[3]
            .as_ref()
            .is_err_and(|e| e.starts_with("test.md:13: not a valid schema")),
        "{results:?}"
    );
}

//! [`FathomBuilder`]: the one way to start a server, from the binary or from an application.
//! It gathers the configuration, the schema and the application's additions, checks them all
//! before anything is opened (every problem at once), then builds the [`Application`].

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::bail;
use axum::routing::MethodRouter;
use fathom_api::{AppState, CustomRoute, CustomRoutes, RouteDoc};
use fathom_engine::hook_codes::declaration_problems;
use fathom_engine::{BeforeWrite, HookCode, Hooks};
use fathom_schema::Schema;

use super::Extensions;
use super::after_commit::{AfterCommit, Registered, valid_name};
use crate::app::Application;
use crate::config::{Config, Overrides};

/// The entry point of Fathom as a library.
pub struct Fathom;

impl Fathom {
    /// A builder with the binary's defaults: the configuration from `./fathom.toml` (if
    /// present) and `FATHOM_*` variables, the schema file it names, the database `fathom.db`.
    pub fn builder() -> FathomBuilder {
        FathomBuilder {
            config: None,
            schema: SchemaFrom::Config,
            database_name: DEFAULT_DATABASE.to_owned(),
            routes: Vec::new(),
            after_commit: Vec::new(),
            before_write: Hooks::new(),
        }
    }
}

/// The SQLite database file's name in `database.data_dir` unless told otherwise.
const DEFAULT_DATABASE: &str = "fathom.db";

enum SchemaFrom {
    /// `schema.path` of the configuration.
    Config,
    File(PathBuf),
    Parsed(Box<Schema>),
}

/// Configuration, schema, hooks and routes; [`FathomBuilder::build`] opens and binds.
pub struct FathomBuilder {
    config: Option<Config>,
    schema: SchemaFrom,
    database_name: String,
    routes: Vec<CustomRoute>,
    after_commit: Vec<Registered>,
    before_write: Hooks,
}

impl FathomBuilder {
    /// Serves with `config` (see [`Config::load`] for the binary's layering).
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Serves the schema in `path` (parsed and checked as `fathom serve` does); SIGHUP re-reads
    /// it while serving.
    #[must_use]
    pub fn schema_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.schema = SchemaFrom::File(path.into());
        self
    }

    /// Serves a schema already parsed (its access rules are still checked at build; no SIGHUP
    /// reload, since there is no file to re-read).
    #[must_use]
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = SchemaFrom::Parsed(Box::new(schema));
        self
    }

    /// The SQLite database file's name in `database.data_dir` (default `fathom.db`).
    #[must_use]
    pub fn database_name(mut self, name: impl Into<String>) -> Self {
        self.database_name = name.into();
        self
    }

    /// Runs `hook` before every create of `collection` (batch operations included), in the
    /// write's transaction (docs/LIBRARY.md, "Before a write").
    #[must_use]
    pub fn before_create(
        mut self,
        collection: impl Into<String>,
        hook: impl BeforeWrite + 'static,
    ) -> Self {
        self.before_write.before_create(collection, hook);
        self
    }

    /// As [`FathomBuilder::before_create`], before every update.
    #[must_use]
    pub fn before_update(
        mut self,
        collection: impl Into<String>,
        hook: impl BeforeWrite + 'static,
    ) -> Self {
        self.before_write.before_update(collection, hook);
        self
    }

    /// As [`FathomBuilder::before_create`], before every delete.
    #[must_use]
    pub fn before_delete(
        mut self,
        collection: impl Into<String>,
        hook: impl BeforeWrite + 'static,
    ) -> Self {
        self.before_write.before_delete(collection, hook);
        self
    }

    /// Declares the codes of the application's own that its before-write hooks refuse with
    /// (`HookCode::refuse`): the OpenAPI document lists them with Fathom's stable codes, and
    /// their statuses on the writes that run hooks. A refusal with an undeclared code is still
    /// answered, and logged as undocumented.
    #[must_use]
    pub fn error_codes(mut self, codes: &[HookCode]) -> Self {
        for code in codes {
            self.before_write.declare(*code);
        }
        self
    }

    /// Runs `hook` after every committed change, under `name` (its persisted position; keep it
    /// stable across releases: a new name starts from the latest event).
    #[must_use]
    pub fn after_commit(self, name: impl Into<String>, hook: impl AfterCommit + 'static) -> Self {
        self.register(name.into(), None, Arc::new(hook))
    }

    /// As [`FathomBuilder::after_commit`], for the changes of `collections` only.
    #[must_use]
    pub fn after_commit_on<I, S>(
        self,
        name: impl Into<String>,
        collections: I,
        hook: impl AfterCommit + 'static,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let wanted = collections.into_iter().map(Into::into).collect();
        self.register(name.into(), Some(wanted), Arc::new(hook))
    }

    fn register(
        mut self,
        name: String,
        collections: Option<BTreeSet<String>>,
        hook: Arc<dyn AfterCommit>,
    ) -> Self {
        self.after_commit.push(Registered {
            name,
            collections,
            hook,
        });
        self
    }

    /// Serves `router` at `path` (under `/api/v1/`, e.g. `/api/v1/shop/checkout`), described in
    /// the OpenAPI document by `doc`. Its handlers take the same extractors as Fathom's own
    /// (`Principal`, `State<AppState>`) and answer errors as `ApiError`; the rate limits count
    /// it in the read (GET, HEAD) or write class.
    #[must_use]
    pub fn route(
        mut self,
        path: impl Into<String>,
        router: MethodRouter<AppState>,
        doc: impl Into<RouteDoc>,
    ) -> Self {
        self.routes.push(CustomRoute {
            path: path.into(),
            router,
            doc: doc.into(),
        });
        self
    }

    /// Loads what is not given yet, checks everything (hook names, routes against the schema,
    /// the schema's rules), opens and migrates the database, and binds the listener.
    pub async fn build(self) -> anyhow::Result<Application> {
        let config = match self.config {
            Some(config) => config,
            None => Config::load(None, std::env::vars(), &Overrides::default())?,
        };
        let (schema, file) = match self.schema {
            SchemaFrom::Config => (
                crate::commands::load_schema(&config.schema.path)?,
                Some(config.schema.path.clone()),
            ),
            SchemaFrom::File(path) => (crate::commands::load_schema(&path)?, Some(path)),
            SchemaFrom::Parsed(schema) => (*schema, None),
        };
        let routes = CustomRoutes::new(self.routes);
        let mut problems = routes.check(&schema);
        problems.extend(hook_name_problems(&self.after_commit));
        problems.extend(declaration_problems(self.before_write.codes()));
        problems.extend(
            self.before_write
                .collections()
                .filter(|name| !schema.collections.contains_key(*name))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|name| format!("a before-write hook is registered for the collection `{name}`, which the schema does not have")),
        );
        if !problems.is_empty() {
            bail!(
                "the application's additions have problems:\n  {}",
                problems.join("\n  ")
            );
        }
        let extensions = Extensions {
            routes,
            after_commit: self.after_commit,
            before_write: self.before_write,
        };
        let app = Application::assemble(&config, schema, &self.database_name, extensions).await?;
        Ok(match file {
            Some(path) => app.reload_on_sighup(path),
            None => app,
        })
    }
}

/// Names that cannot name a cursor, and names given twice.
fn hook_name_problems(hooks: &[Registered]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for hook in hooks {
        if !valid_name(&hook.name) {
            problems.push(format!(
                "the after-commit hook name `{}` must be 1 to 64 ASCII letters, digits, `-`, `_` or `.`",
                hook.name
            ));
        } else if !seen.insert(hook.name.as_str()) {
            problems.push(format!(
                "the after-commit hook name `{}` is registered twice; each hook needs its own name (its persisted position)",
                hook.name
            ));
        }
    }
    problems
}

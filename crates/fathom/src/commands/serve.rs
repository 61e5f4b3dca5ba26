//! `fathom serve`.

use std::process::ExitCode;

use crate::embed::Fathom;
use crate::cli::ServeArgs;
use crate::{demo, telemetry};

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = args.common.load_config(args.listen.clone())?;
    let telemetry = telemetry::init(&config.log, &config.otel)?;
    if args.demo && config.encryption.key_file.is_none() {
        // The demo encrypts fields with a development key of its own; `serve` never invents one.
        let path = crate::encryption::demo_key_file(&config.database.data_dir)?;
        tracing::warn!(
            key_file = %path.display(),
            "the demo encrypts fields with a development key file in its data directory; never use it for real data"
        );
        config.encryption.key_file = Some(path);
    }
    // The same builder an embedding application uses: the schema file (re-read on SIGHUP), or
    // the demo's schema and database.
    let builder = if args.demo {
        Fathom::builder()
            .schema(demo::schema()?)
            .database_name(demo::DATABASE_FILE)
    } else {
        Fathom::builder().schema_file(config.schema.path.clone())
    };
    let app = builder.config(config).build().await?;
    if args.demo {
        demo::seed_if_empty(app.state()).await?;
    }
    app.serve().await?;
    telemetry.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

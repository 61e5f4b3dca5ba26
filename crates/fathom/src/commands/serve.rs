//! `fathom serve`.

use std::process::ExitCode;

use crate::app::Application;
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
    let (schema, database) = if args.demo {
        (demo::schema()?, demo::DATABASE_FILE)
    } else {
        (super::load_schema(&config.schema.path)?, "fathom.db")
    };
    let mut app = Application::build(&config, schema, database).await?;
    if args.demo {
        demo::seed_if_empty(app.state()).await?;
    } else {
        app = app.reload_on_sighup(config.schema.path.clone());
    }
    app.run_until_stopped().await?;
    telemetry.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

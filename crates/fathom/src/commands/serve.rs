//! `fathom serve`.

use std::process::ExitCode;

use crate::app::Application;
use crate::cli::ServeArgs;
use crate::{demo, telemetry};

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.common.load_config(args.listen.clone())?;
    let _flush_logs = telemetry::init(&config.log);
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
    Ok(ExitCode::SUCCESS)
}

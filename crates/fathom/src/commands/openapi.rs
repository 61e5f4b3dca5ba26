//! `fathom openapi`: print the OpenAPI 3.1 document the server would serve for the schema file.

use std::process::ExitCode;

use crate::cli::OpenapiArgs;
use crate::demo;

pub fn print(args: &OpenapiArgs) -> anyhow::Result<ExitCode> {
    let config = args.common.load_config(None)?;
    let schema = if args.demo {
        demo::schema()?
    } else {
        super::load_schema(&config.schema.path)?
    };
    let policy = fathom_auth::PasswordPolicy::new(config.auth.password_min_length)?;
    let document = fathom_api::document(&schema, &config.http_config(), &policy);
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(ExitCode::SUCCESS)
}

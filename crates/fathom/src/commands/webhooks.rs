//! `fathom webhooks add|list|update|remove|test|replay`: the webhook endpoints of the database
//! the configuration names, through the same operations as `/api/v1/admin/webhooks`
//! (`fathom_webhooks::Webhooks`). Selections are checked against the applied schema; running
//! servers pick changes up within a second.

use std::process::ExitCode;

use anyhow::anyhow;
use fathom_webhooks::{
    EndpointChanges, EndpointSpec, EndpointView, Replay, WebhookError, Webhooks,
};

use crate::app::open_store;
use crate::cli::{CommonArgs, WebhookSelection};

fn problem(e: WebhookError) -> anyhow::Error {
    match e.store {
        Some(store) => anyhow!("{}: {}", e.message, store.detail),
        None => anyhow!("{} [{}] hint: {}", e.message, e.code, e.hint),
    }
}

async fn open(
    args: &CommonArgs,
) -> anyhow::Result<(std::sync::Arc<Webhooks>, fathom_schema::Schema)> {
    let config = args.load_config(None)?;
    let store = open_store(&config, "fathom.db").await?;
    let schema = store
        .applied()
        .await
        .map_err(|e| anyhow!("reading the applied schema: {}", e.detail))?
        .map(|m| m.schema)
        .unwrap_or_default();
    let hooks = Webhooks::new(store, config.webhooks.settings()).map_err(|e| anyhow!(e))?;
    Ok((hooks, schema))
}

fn print(view: &EndpointView) {
    let s = &view.spec;
    let list = |items: &[String]| {
        if items.is_empty() {
            "*".to_owned()
        } else {
            items.join(",")
        }
    };
    println!(
        "{}  {}  {}  collections {}  operations {}  filter {}  tenant {}  position {}  breaker {}  dead letters {}{}",
        view.id,
        s.url,
        if s.enabled { "enabled" } else { "disabled" },
        list(&s.collections),
        list(&s.operations),
        s.filter.as_deref().unwrap_or("-"),
        s.tenant.as_deref().unwrap_or("*"),
        view.position,
        view.breaker.as_str(),
        view.dead_letters,
        s.disabled_reason
            .as_deref()
            .map(|r| format!("  ({r})"))
            .unwrap_or_default(),
    );
}

pub async fn add(
    args: &CommonArgs,
    url: &str,
    selection: WebhookSelection,
) -> anyhow::Result<ExitCode> {
    let (hooks, schema) = open(args).await?;
    let spec = EndpointSpec {
        url: url.to_owned(),
        description: selection.description,
        collections: selection.collections,
        operations: selection.operations,
        filter: selection.filter,
        enabled: true,
        tenant: selection.tenant,
        disabled_reason: None,
    };
    let (view, secret) = hooks.create(spec, &schema).await.map_err(problem)?;
    print(&view);
    println!("Signing secret (shown once; the receiver verifies with it): {secret}");
    Ok(ExitCode::SUCCESS)
}

pub async fn list(args: &CommonArgs) -> anyhow::Result<ExitCode> {
    let (hooks, _) = open(args).await?;
    let views = hooks.list().await.map_err(problem)?;
    println!("Webhook endpoints: {}", views.len());
    for view in &views {
        print(view);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn update(
    args: &CommonArgs,
    id: &str,
    url: Option<String>,
    enabled: Option<bool>,
    selection: WebhookSelection,
) -> anyhow::Result<ExitCode> {
    let (hooks, schema) = open(args).await?;
    let some_list = |v: Vec<String>| (!v.is_empty()).then_some(v);
    let changes = EndpointChanges {
        url,
        description: selection.description.map(Some),
        collections: some_list(selection.collections),
        operations: some_list(selection.operations),
        filter: selection.filter.map(|f| (!f.is_empty()).then_some(f)),
        enabled,
        tenant: selection.tenant.map(|t| (!t.is_empty()).then_some(t)),
    };
    let view = hooks.update(id, changes, &schema).await.map_err(problem)?;
    print(&view);
    Ok(ExitCode::SUCCESS)
}

pub async fn remove(args: &CommonArgs, id: &str) -> anyhow::Result<ExitCode> {
    let (hooks, _) = open(args).await?;
    hooks.remove(id).await.map_err(problem)?;
    println!("Removed webhook endpoint {id}.");
    Ok(ExitCode::SUCCESS)
}

pub async fn test(args: &CommonArgs, id: &str) -> anyhow::Result<ExitCode> {
    let (hooks, _) = open(args).await?;
    let result = hooks.test(id).await.map_err(problem)?;
    let o = &result.outcome;
    println!(
        "{}: {} in {} ms{}",
        result.message_id,
        o.status
            .map_or_else(|| "no response".to_owned(), |s| format!("HTTP {s}")),
        o.duration.as_millis(),
        o.error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    Ok(if o.delivered() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn replay(
    args: &CommonArgs,
    id: &str,
    from: Option<i64>,
    to: Option<i64>,
    dead_letters: bool,
) -> anyhow::Result<ExitCode> {
    let replay = match (from, to, dead_letters) {
        (Some(from), to, false) => Replay::Range {
            from,
            to: to.unwrap_or(from),
        },
        (None, None, true) => Replay::DeadLetters,
        _ => {
            return Err(anyhow!(
                "name what to replay: --sequence N [--to M], or --dead-letters"
            ));
        }
    };
    let (hooks, _) = open(args).await?;
    let queued = hooks.replay(id, replay).await.map_err(problem)?;
    println!("Queued {queued} message(s) for delivery again.");
    Ok(ExitCode::SUCCESS)
}

//! What administrators do with endpoints (through `/api/v1/admin/webhooks` and `fathom
//! webhooks`): create (the secret is returned once), list and read (with the cursor position,
//! the breaker and the dead-letter count), update, rotate the secret, remove, send a test
//! message, read the attempt log and the dead letters, and replay. Every URL is checked by the
//! SSRF guard when saved; the selection is checked against the served schema.

use fathom_core::outbound::BreakerState;
use fathom_schema::Schema;
use fathom_store::{AttemptRow, CursorState, DeadLetter, Replay};

use crate::deliver::Outcome;
use crate::endpoint::{Endpoint, EndpointSpec, Selection};
use crate::error::WebhookError;
use crate::secret::{SecretSet, SigningSecret};
use crate::{Webhooks, now_ms, payload};

/// An endpoint as administrators see it: never its secrets.
#[derive(Debug, Clone)]
pub struct EndpointView {
    pub id: String,
    pub spec: EndpointSpec,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
    /// The last sequence delivered (or skipped as not selected).
    pub position: i64,
    /// The node holding the delivery lease, while one does.
    pub holder: Option<String>,
    pub breaker: BreakerState,
    pub consecutive_failures: u32,
    pub dead_letters: usize,
    /// How many live secrets sign each message (2 during a rotation's overlap).
    pub live_secrets: usize,
}

/// What an update changes; `None` leaves a setting as it is (`Some(None)` clears one).
#[derive(Debug, Clone, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<Option<String>>,
    pub collections: Option<Vec<String>>,
    pub operations: Option<Vec<String>>,
    pub filter: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub tenant: Option<Option<String>>,
}

/// The answer to a test message.
#[derive(Debug, Clone)]
pub struct TestResult {
    pub message_id: String,
    pub outcome: Outcome,
}

impl Webhooks {
    async fn load(&self, id: &str) -> Result<Endpoint, WebhookError> {
        let row = self
            .store
            .webhook(id)
            .await?
            .ok_or_else(|| WebhookError::not_found(id))?;
        Endpoint::from_row(&row)
    }

    async fn check(&self, spec: &EndpointSpec, schema: &Schema) -> Result<(), WebhookError> {
        self.guard.check(&spec.url).await?;
        Selection::check(spec, schema)?;
        Ok(())
    }

    /// Creates an endpoint whose delivery starts after the latest event; returns it and its
    /// secret (`whsec_...`), which is never shown again.
    pub async fn create(
        &self,
        mut spec: EndpointSpec,
        schema: &Schema,
    ) -> Result<(EndpointView, String), WebhookError> {
        spec.disabled_reason = None;
        self.check(&spec, schema).await?;
        let secret = SigningSecret::generate().map_err(|e| {
            WebhookError::store(fathom_store::StoreError::internal(format!(
                "the OS random source failed: {e}"
            )))
        })?;
        let now = now_ms();
        let endpoint = Endpoint {
            id: uuid::Uuid::now_v7().to_string(),
            spec,
            secrets: SecretSet::new(&secret),
            created_at_ms: now,
            updated_at_ms: now,
        };
        let latest = self.store.events_after(0, 1, None).await?.latest;
        self.store
            .cursor_init(&Endpoint::cursor(&endpoint.id), latest)
            .await?;
        self.store.webhook_save(endpoint.to_row()).await?;
        self.note_change();
        Ok((self.view(endpoint).await?, secret.reveal()))
    }

    /// Every endpoint, oldest first.
    pub async fn list(&self) -> Result<Vec<EndpointView>, WebhookError> {
        let cursors = self.store.cursor_list().await?;
        let mut out = Vec::new();
        for row in self.store.webhooks().await? {
            let endpoint = Endpoint::from_row(&row)?;
            let cursor = cursors
                .iter()
                .find(|c| c.name == Endpoint::cursor(&endpoint.id));
            out.push(self.view_with(endpoint, cursor).await?);
        }
        Ok(out)
    }

    pub async fn get(&self, id: &str) -> Result<EndpointView, WebhookError> {
        let endpoint = self.load(id).await?;
        self.view(endpoint).await
    }

    async fn view(&self, endpoint: Endpoint) -> Result<EndpointView, WebhookError> {
        let cursor = self
            .store
            .cursor_get(&Endpoint::cursor(&endpoint.id))
            .await?;
        self.view_with(endpoint, cursor.as_ref()).await
    }

    async fn view_with(
        &self,
        endpoint: Endpoint,
        cursor: Option<&CursorState>,
    ) -> Result<EndpointView, WebhookError> {
        let dead_letters = self.store.webhook_dead_letters(&endpoint.id).await?.len();
        let live = cursor.filter(|c| c.lease_until_ms.is_some_and(|t| t > now_ms()));
        let (breaker, consecutive_failures) = self
            .breaker_view(&endpoint.id, live.and_then(|c| c.holder.as_deref()))
            .await?;
        Ok(EndpointView {
            position: cursor.map_or(0, |c| c.position),
            holder: live.and_then(|c| c.holder.clone()),
            breaker,
            consecutive_failures,
            dead_letters,
            live_secrets: endpoint.secrets.live(now_ms()).len(),
            id: endpoint.id,
            spec: endpoint.spec,
            created_at_ms: endpoint.created_at_ms,
            updated_at_ms: endpoint.updated_at_ms,
        })
    }

    /// Applies `changes`; enabling an endpoint clears why it was disabled.
    pub async fn update(
        &self,
        id: &str,
        changes: EndpointChanges,
        schema: &Schema,
    ) -> Result<EndpointView, WebhookError> {
        let mut endpoint = self.load(id).await?;
        let spec = &mut endpoint.spec;
        if let Some(url) = changes.url {
            spec.url = url;
        }
        if let Some(v) = changes.description {
            spec.description = v;
        }
        if let Some(v) = changes.collections {
            spec.collections = v;
        }
        if let Some(v) = changes.operations {
            spec.operations = v;
        }
        if let Some(v) = changes.filter {
            spec.filter = v;
        }
        if let Some(v) = changes.tenant {
            spec.tenant = v;
        }
        if let Some(enabled) = changes.enabled {
            spec.enabled = enabled;
            if enabled {
                spec.disabled_reason = None;
            }
        }
        self.check(&endpoint.spec, schema).await?;
        self.save(&mut endpoint).await?;
        self.view(endpoint).await
    }

    async fn save(&self, endpoint: &mut Endpoint) -> Result<(), WebhookError> {
        endpoint.updated_at_ms = now_ms().max(endpoint.updated_at_ms + 1);
        self.store.webhook_save(endpoint.to_row()).await?;
        self.note_change();
        Ok(())
    }

    /// A new secret; the previous ones keep signing for `webhooks.secret_overlap`. Returns the
    /// new secret, shown once.
    pub async fn rotate(&self, id: &str) -> Result<String, WebhookError> {
        let mut endpoint = self.load(id).await?;
        let secret = SigningSecret::generate().map_err(|e| {
            WebhookError::store(fathom_store::StoreError::internal(format!(
                "the OS random source failed: {e}"
            )))
        })?;
        let overlap = i64::try_from(self.settings.secret_overlap.as_millis()).unwrap_or(i64::MAX);
        endpoint.secrets.rotate(&secret, now_ms(), overlap);
        self.save(&mut endpoint).await?;
        Ok(secret.reveal())
    }

    /// Removes the endpoint with its log, dead letters and cursor.
    pub async fn remove(&self, id: &str) -> Result<(), WebhookError> {
        if !self.store.webhook_delete(id).await? {
            return Err(WebhookError::not_found(id));
        }
        self.note_change();
        Ok(())
    }

    /// Sends one `webhook.test` message now (outside the sequence, not retried), logged with
    /// sequence 0.
    pub async fn test(&self, id: &str) -> Result<TestResult, WebhookError> {
        let endpoint = self.load(id).await?;
        let message_id = format!("test_{}", uuid::Uuid::now_v7().simple());
        let timestamp = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        let body = payload::test_body(&endpoint.id, &timestamp);
        let outcome = self.attempt(&endpoint, &message_id, &body).await;
        let verdict = if outcome.delivered() {
            "delivered"
        } else {
            "failed"
        };
        self.log(&endpoint, 0, &message_id, 1, &outcome, verdict)
            .await;
        Ok(TestResult {
            message_id,
            outcome,
        })
    }

    /// The newest attempts first, with ids below `before` when given.
    pub async fn attempts(
        &self,
        id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AttemptRow>, WebhookError> {
        self.load(id).await?;
        Ok(self.store.webhook_attempts(id, before, limit).await?)
    }

    pub async fn dead_letters(&self, id: &str) -> Result<Vec<DeadLetter>, WebhookError> {
        self.load(id).await?;
        Ok(self.store.webhook_dead_letters(id).await?)
    }

    /// Queues messages for delivery again; returns how many.
    pub async fn replay(&self, id: &str, replay: Replay) -> Result<usize, WebhookError> {
        self.load(id).await?;
        if let Replay::Range { from, to } = replay
            && (from < 1 || to < from)
        {
            return Err(WebhookError::validation(
                format!("The replay range {from}..{to} is empty or starts before 1."),
                "Give `from` ≥ 1 and `to` ≥ `from` (sequences of the change feed).",
            ));
        }
        let queued = self.store.webhook_replay(id, replay).await?;
        self.note_change();
        Ok(queued)
    }
}

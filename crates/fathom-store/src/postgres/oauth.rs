//! OAuth SQL on PostgreSQL, one function per SQLite counterpart (`sqlite/oauth.rs`, same names
//! and arguments). Each writer runs in a transaction of its own; a read-then-update locks the row
//! it read (`FOR UPDATE`), so concurrent redemptions of one code yield one success.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use super::identity::{create_user, execute, now, rows, timestamp};
use super::sessions::revoke_session;
use super::values::{get, parse_timestamp};
use crate::error::StoreError;
use crate::identity::{NewUser, User};
use crate::oauth::{
    CodeClaim, OAuthCode, OAuthFlow, OAuthIdentity, PendingLink, Unlink, password_usable,
};

const IDENTITY_COLUMNS: &str =
    "\"id\", \"user_id\", \"provider\", \"subject\", \"email\", \"created_at\"";
const FLOW_COLUMNS: &str = "\"state_hash\", \"provider\", \"redirect_uri\", \"client_state\", \"code_challenge\", \"nonce\", \"pkce_verifier\", \"link_user_id\", \"expires_at\"";

fn read_identity(row: &Row) -> Result<OAuthIdentity, StoreError> {
    Ok(OAuthIdentity {
        id: get(row, 0)?,
        user_id: get(row, 1)?,
        provider: get(row, 2)?,
        subject: get(row, 3)?,
        email: get(row, 4)?,
        created_at: timestamp(row, 5)?,
    })
}

fn read_flow(row: &Row) -> Result<OAuthFlow, StoreError> {
    Ok(OAuthFlow {
        state_hash: get(row, 0)?,
        provider: get(row, 1)?,
        redirect_uri: get(row, 2)?,
        client_state: get(row, 3)?,
        code_challenge: get(row, 4)?,
        nonce: get(row, 5)?,
        pkce_verifier: get(row, 6)?,
        link_user_id: get(row, 7)?,
        expires_at: timestamp(row, 8)?,
    })
}

pub(crate) async fn oauth_identity<C: GenericClient>(
    conn: &C,
    provider: &str,
    subject: &str,
) -> Result<Option<OAuthIdentity>, StoreError> {
    let sql = format!(
        "SELECT {IDENTITY_COLUMNS} FROM \"_fathom_oauth_identities\" WHERE \"provider\" = $1 AND \"subject\" = $2"
    );
    rows(conn, &sql, &[&provider, &subject])
        .await?
        .first()
        .map(read_identity)
        .transpose()
}

pub(crate) async fn oauth_identities<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
) -> Result<Vec<OAuthIdentity>, StoreError> {
    let sql = format!(
        "SELECT {IDENTITY_COLUMNS} FROM \"_fathom_oauth_identities\" WHERE \"user_id\" = $1 ORDER BY \"id\""
    );
    rows(conn, &sql, &[&user_id])
        .await?
        .iter()
        .map(read_identity)
        .collect()
}

pub(crate) async fn oauth_identity_count<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
) -> Result<i64, StoreError> {
    let found = rows(
        conn,
        "SELECT COUNT(*) FROM \"_fathom_oauth_identities\" WHERE \"user_id\" = $1",
        &[&user_id],
    )
    .await?;
    found.first().map_or(Ok(0), |r| get(r, 0))
}

pub(crate) async fn oauth_link<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    provider: &str,
    subject: &str,
    email: Option<&str>,
) -> Result<OAuthIdentity, StoreError> {
    let sql = format!(
        "INSERT INTO \"_fathom_oauth_identities\" ({IDENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {IDENTITY_COLUMNS}"
    );
    rows(
        conn,
        &sql,
        &[
            &Uuid::now_v7(),
            &user_id,
            &provider,
            &subject,
            &email,
            &now()?,
        ],
    )
    .await?
    .first()
    .map(read_identity)
    .transpose()?
    .ok_or_else(|| StoreError::internal("the new identity vanished"))
}

pub(crate) async fn oauth_create_user<C: GenericClient>(
    conn: &C,
    user: &NewUser,
    provider: &str,
    subject: &str,
) -> Result<User, StoreError> {
    let created = create_user(conn, user).await?;
    oauth_link(conn, created.id, provider, subject, Some(&created.email)).await?;
    Ok(created)
}

pub(crate) async fn oauth_unlink<C: GenericClient>(
    conn: &C,
    user_id: Uuid,
    identity_id: Uuid,
) -> Result<Unlink, StoreError> {
    // The account row is locked first, so two concurrent unlinks cannot both see a second way.
    let hash: Option<String> = rows(
        conn,
        "SELECT \"password_hash\" FROM \"_fathom_users\" WHERE \"id\" = $1 FOR UPDATE",
        &[&user_id],
    )
    .await?
    .first()
    .map(|r| get(r, 0))
    .transpose()?;
    let Some(hash) = hash else {
        return Ok(Unlink::NotFound);
    };
    let owned = oauth_identities(conn, user_id).await?;
    if !owned.iter().any(|i| i.id == identity_id) {
        return Ok(Unlink::NotFound);
    }
    // Passkeys are ways to sign in too.
    if owned.len() == 1
        && !password_usable(&hash)
        && super::passkeys::count(conn, user_id).await? == 0
    {
        return Ok(Unlink::LastWay);
    }
    execute(
        conn,
        "DELETE FROM \"_fathom_oauth_identities\" WHERE \"id\" = $1",
        &[&identity_id],
    )
    .await?;
    Ok(Unlink::Removed)
}

pub(crate) async fn oauth_create_flow<C: GenericClient>(
    conn: &C,
    flow: &OAuthFlow,
) -> Result<(), StoreError> {
    let now = now()?;
    // Abandoned flows and codes are dropped here, so neither table grows without bound.
    execute(
        conn,
        "DELETE FROM \"_fathom_oauth_flows\" WHERE \"expires_at\" <= $1",
        &[&now],
    )
    .await?;
    execute(
        conn,
        "DELETE FROM \"_fathom_oauth_codes\" WHERE \"expires_at\" <= $1",
        &[&now],
    )
    .await?;
    let sql = format!(
        "INSERT INTO \"_fathom_oauth_flows\" ({FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    );
    execute(
        conn,
        &sql,
        &[
            &flow.state_hash,
            &flow.provider,
            &flow.redirect_uri,
            &flow.client_state,
            &flow.code_challenge,
            &flow.nonce,
            &flow.pkce_verifier,
            &flow.link_user_id,
            &parse_timestamp(&flow.expires_at)?,
        ],
    )
    .await
    .map(drop)
}

pub(crate) async fn oauth_take_flow<C: GenericClient>(
    conn: &C,
    state_hash: &str,
) -> Result<Option<OAuthFlow>, StoreError> {
    let sql = format!(
        "DELETE FROM \"_fathom_oauth_flows\" WHERE \"state_hash\" = $1 RETURNING {FLOW_COLUMNS}"
    );
    let flow = rows(conn, &sql, &[&state_hash])
        .await?
        .first()
        .map(read_flow)
        .transpose()?;
    let now = fathom_schema::value::now_timestamp();
    Ok(flow.filter(|f| f.expires_at > now))
}

pub(crate) async fn oauth_create_code<C: GenericClient>(
    conn: &C,
    code: &OAuthCode,
) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO \"_fathom_oauth_codes\" (\"hash\", \"user_id\", \"redirect_uri\", \"code_challenge\", \"expires_at\", \"link_provider\", \"link_subject\", \"link_email\") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &code.hash,
            &code.user_id,
            &code.redirect_uri,
            &code.code_challenge,
            &parse_timestamp(&code.expires_at)?,
            &code.link.as_ref().map(|l| l.provider.as_str()),
            &code.link.as_ref().map(|l| l.subject.as_str()),
            &code.link.as_ref().and_then(|l| l.email.as_deref()),
        ],
    )
    .await
    .map(drop)
}

pub(crate) async fn oauth_claim_code<C: GenericClient>(
    conn: &C,
    hash: &str,
    challenge: &str,
    redirect_uri: &str,
) -> Result<CodeClaim, StoreError> {
    let found = rows(
        conn,
        "SELECT \"user_id\", \"redirect_uri\", \"code_challenge\", \"expires_at\" > now(), \"used_at\" IS NOT NULL, \"session_id\",
            \"link_provider\", \"link_subject\", \"link_email\"
         FROM \"_fathom_oauth_codes\" WHERE \"hash\" = $1 FOR UPDATE",
        &[&hash],
    )
    .await?;
    let Some(row) = found.first() else {
        return Ok(CodeClaim::Invalid);
    };
    let user_id: Uuid = get(row, 0)?;
    let (stored_uri, stored_challenge): (String, String) = (get(row, 1)?, get(row, 2)?);
    let (live, used): (bool, bool) = (get(row, 3)?, get(row, 4)?);
    let session_id: Option<Uuid> = get(row, 5)?;
    let (provider, subject): (Option<String>, Option<String>) = (get(row, 6)?, get(row, 7)?);
    let email: Option<String> = get(row, 8)?;
    let link = provider
        .zip(subject)
        .map(|(provider, subject)| PendingLink {
            provider,
            subject,
            email,
        });
    if used {
        // A spent code came back: someone else holds a copy. End what its first use started.
        execute(
            conn,
            "UPDATE \"_fathom_oauth_codes\" SET \"reused\" = true WHERE \"hash\" = $1",
            &[&hash],
        )
        .await?;
        if let Some(session_id) = session_id {
            revoke_session(conn, user_id, session_id, "oauth_code_reuse").await?;
        }
        return Ok(CodeClaim::Reused {
            user_id,
            session_id,
        });
    }
    if !live {
        return Ok(CodeClaim::Invalid);
    }
    execute(
        conn,
        "UPDATE \"_fathom_oauth_codes\" SET \"used_at\" = $2 WHERE \"hash\" = $1",
        &[&hash, &now()?],
    )
    .await?;
    if stored_uri != redirect_uri || stored_challenge != challenge {
        return Ok(CodeClaim::Mismatch);
    }
    Ok(CodeClaim::Claimed { user_id, link })
}

pub(crate) async fn oauth_attach_session<C: GenericClient>(
    conn: &C,
    hash: &str,
    session_id: Uuid,
) -> Result<bool, StoreError> {
    let found = rows(
        conn,
        "UPDATE \"_fathom_oauth_codes\" SET \"session_id\" = $2 WHERE \"hash\" = $1 RETURNING \"reused\"",
        &[&hash, &session_id],
    )
    .await?;
    found.first().map_or(Ok(false), |r| get(r, 0))
}

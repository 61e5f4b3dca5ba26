//! OAuth SQL on SQLite (see `crate::oauth`). Each function runs inside one writer job or on a
//! reader, so a read-then-update here is atomic: writes are serialised.

use fathom_schema::value::now_timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::identity::{create_user, uuid_at};
use crate::error::{StoreError, from_sqlite};
use crate::identity::{NewUser, User};
use crate::oauth::{
    CodeClaim, OAuthCode, OAuthFlow, OAuthIdentity, PendingLink, Unlink, password_usable,
};

const IDENTITY_COLUMNS: &str =
    "\"id\", \"user_id\", \"provider\", \"subject\", \"email\", \"created_at\"";
const FLOW_COLUMNS: &str = "\"state_hash\", \"provider\", \"redirect_uri\", \"client_state\", \"code_challenge\", \"nonce\", \"pkce_verifier\", \"link_user_id\", \"expires_at\"";

fn text(id: Uuid) -> String {
    id.hyphenated().to_string()
}

fn read_identity(row: &Row<'_>) -> rusqlite::Result<OAuthIdentity> {
    Ok(OAuthIdentity {
        id: uuid_at(row, 0)?,
        user_id: uuid_at(row, 1)?,
        provider: row.get(2)?,
        subject: row.get(3)?,
        email: row.get(4)?,
        created_at: row.get(5)?,
    })
}

fn read_flow(row: &Row<'_>) -> rusqlite::Result<OAuthFlow> {
    let link: Option<String> = row.get(7)?;
    Ok(OAuthFlow {
        state_hash: row.get(0)?,
        provider: row.get(1)?,
        redirect_uri: row.get(2)?,
        client_state: row.get(3)?,
        code_challenge: row.get(4)?,
        nonce: row.get(5)?,
        pkce_verifier: row.get(6)?,
        link_user_id: link.and_then(|l| Uuid::parse_str(&l).ok()),
        expires_at: row.get(8)?,
    })
}

pub(crate) fn oauth_identity(
    conn: &Connection,
    provider: &str,
    subject: &str,
) -> Result<Option<OAuthIdentity>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM \"_fathom_oauth_identities\" WHERE \"provider\" = ?1 AND \"subject\" = ?2"
    ))
    .and_then(|mut s| s.query_row([provider, subject], read_identity).optional())
    .map_err(from_sqlite)
}

pub(crate) fn oauth_identities(
    conn: &Connection,
    user_id: Uuid,
) -> Result<Vec<OAuthIdentity>, StoreError> {
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM \"_fathom_oauth_identities\" WHERE \"user_id\" = ?1 ORDER BY \"id\""
        ))
        .map_err(from_sqlite)?;
    let rows = statement
        .query_map([text(user_id)], read_identity)
        .map_err(from_sqlite)?;
    rows.map(|r| r.map_err(from_sqlite)).collect()
}

pub(crate) fn oauth_identity_count(conn: &Connection, user_id: Uuid) -> Result<i64, StoreError> {
    conn.prepare_cached("SELECT COUNT(*) FROM \"_fathom_oauth_identities\" WHERE \"user_id\" = ?1")
        .and_then(|mut s| s.query_row([text(user_id)], |r| r.get(0)))
        .map_err(from_sqlite)
}

pub(crate) fn oauth_link(
    conn: &Connection,
    user_id: Uuid,
    provider: &str,
    subject: &str,
    email: Option<&str>,
) -> Result<OAuthIdentity, StoreError> {
    let id = Uuid::now_v7();
    conn.prepare_cached(&format!(
        "INSERT INTO \"_fathom_oauth_identities\" ({IDENTITY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            text(id),
            text(user_id),
            provider,
            subject,
            email,
            now_timestamp()
        ])
    })
    .map_err(from_sqlite)?;
    oauth_identity(conn, provider, subject)?
        .ok_or_else(|| StoreError::internal("the new identity vanished"))
}

pub(crate) fn oauth_create_user(
    conn: &Connection,
    user: &NewUser,
    provider: &str,
    subject: &str,
) -> Result<User, StoreError> {
    let created = create_user(conn, user)?;
    oauth_link(conn, created.id, provider, subject, Some(&created.email))?;
    Ok(created)
}

pub(crate) fn oauth_unlink(
    conn: &Connection,
    user_id: Uuid,
    identity_id: Uuid,
) -> Result<Unlink, StoreError> {
    let owned = oauth_identities(conn, user_id)?;
    if !owned.iter().any(|i| i.id == identity_id) {
        return Ok(Unlink::NotFound);
    }
    let hash: String = conn
        .prepare_cached("SELECT \"password_hash\" FROM \"_fathom_users\" WHERE \"id\" = ?1")
        .and_then(|mut s| s.query_row([text(user_id)], |r| r.get(0)))
        .map_err(from_sqlite)?;
    // Passkeys are ways to sign in too.
    if owned.len() == 1 && !password_usable(&hash) && super::passkeys::count(conn, user_id)? == 0 {
        return Ok(Unlink::LastWay);
    }
    conn.prepare_cached("DELETE FROM \"_fathom_oauth_identities\" WHERE \"id\" = ?1")
        .and_then(|mut s| s.execute([text(identity_id)]))
        .map_err(from_sqlite)?;
    Ok(Unlink::Removed)
}

pub(crate) fn oauth_create_flow(conn: &Connection, flow: &OAuthFlow) -> Result<(), StoreError> {
    let now = now_timestamp();
    // Abandoned flows and codes are dropped here, so neither table grows without bound.
    conn.prepare_cached("DELETE FROM \"_fathom_oauth_flows\" WHERE \"expires_at\" <= ?1")
        .and_then(|mut s| s.execute([&now]))
        .map_err(from_sqlite)?;
    conn.prepare_cached("DELETE FROM \"_fathom_oauth_codes\" WHERE \"expires_at\" <= ?1")
        .and_then(|mut s| s.execute([&now]))
        .map_err(from_sqlite)?;
    conn.prepare_cached(&format!(
        "INSERT INTO \"_fathom_oauth_flows\" ({FLOW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            flow.state_hash,
            flow.provider,
            flow.redirect_uri,
            flow.client_state,
            flow.code_challenge,
            flow.nonce,
            flow.pkce_verifier,
            flow.link_user_id.map(text),
            flow.expires_at
        ])
    })
    .map_err(from_sqlite)?;
    Ok(())
}

pub(crate) fn oauth_take_flow(
    conn: &Connection,
    state_hash: &str,
) -> Result<Option<OAuthFlow>, StoreError> {
    let flow = conn
        .prepare_cached(&format!(
            "DELETE FROM \"_fathom_oauth_flows\" WHERE \"state_hash\" = ?1 RETURNING {FLOW_COLUMNS}"
        ))
        .and_then(|mut s| s.query_row([state_hash], read_flow).optional())
        .map_err(from_sqlite)?;
    Ok(flow.filter(|f| f.expires_at > now_timestamp()))
}

pub(crate) fn oauth_create_code(conn: &Connection, code: &OAuthCode) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO \"_fathom_oauth_codes\" (\"hash\", \"user_id\", \"redirect_uri\", \"code_challenge\", \"expires_at\", \"link_provider\", \"link_subject\", \"link_email\") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            code.hash,
            text(code.user_id),
            code.redirect_uri,
            code.code_challenge,
            code.expires_at,
            code.link.as_ref().map(|l| &l.provider),
            code.link.as_ref().map(|l| &l.subject),
            code.link.as_ref().and_then(|l| l.email.as_ref())
        ])
    })
    .map_err(from_sqlite)?;
    Ok(())
}

type CodeRow = (
    Uuid,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<PendingLink>,
);

fn pending_link(row: &Row<'_>, at: usize) -> rusqlite::Result<Option<PendingLink>> {
    let provider: Option<String> = row.get(at)?;
    let subject: Option<String> = row.get(at + 1)?;
    Ok(provider
        .zip(subject)
        .map(|(provider, subject)| PendingLink {
            provider,
            subject,
            email: row.get(at + 2).ok().flatten(),
        }))
}

pub(crate) fn oauth_claim_code(
    conn: &Connection,
    hash: &str,
    challenge: &str,
    redirect_uri: &str,
) -> Result<CodeClaim, StoreError> {
    let found: Option<CodeRow> = conn
        .prepare_cached(
            "SELECT \"user_id\", \"redirect_uri\", \"code_challenge\", \"expires_at\", \"used_at\", \"session_id\",
                \"link_provider\", \"link_subject\", \"link_email\"
             FROM \"_fathom_oauth_codes\" WHERE \"hash\" = ?1",
        )
        .and_then(|mut s| {
            s.query_row([hash], |r| {
                Ok((
                    uuid_at(r, 0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    pending_link(r, 6)?,
                ))
            })
            .optional()
        })
        .map_err(from_sqlite)?;
    let Some((user_id, stored_uri, stored_challenge, expires_at, used_at, session, link)) = found
    else {
        return Ok(CodeClaim::Invalid);
    };
    let now = now_timestamp();
    if used_at.is_some() {
        // A spent code came back: someone else holds a copy. End what its first use started.
        let session_id = session.and_then(|s| Uuid::parse_str(&s).ok());
        conn.prepare_cached(
            "UPDATE \"_fathom_oauth_codes\" SET \"reused\" = 1 WHERE \"hash\" = ?1",
        )
        .and_then(|mut s| s.execute([hash]))
        .map_err(from_sqlite)?;
        if let Some(session_id) = session_id {
            super::identity::revoke_session(conn, user_id, session_id, "oauth_code_reuse")?;
        }
        return Ok(CodeClaim::Reused {
            user_id,
            session_id,
        });
    }
    if expires_at <= now {
        return Ok(CodeClaim::Invalid);
    }
    conn.prepare_cached("UPDATE \"_fathom_oauth_codes\" SET \"used_at\" = ?2 WHERE \"hash\" = ?1")
        .and_then(|mut s| s.execute(params![hash, now]))
        .map_err(from_sqlite)?;
    if stored_uri != redirect_uri || stored_challenge != challenge {
        return Ok(CodeClaim::Mismatch);
    }
    Ok(CodeClaim::Claimed { user_id, link })
}

pub(crate) fn oauth_attach_session(
    conn: &Connection,
    hash: &str,
    session_id: Uuid,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE \"_fathom_oauth_codes\" SET \"session_id\" = ?2 WHERE \"hash\" = ?1 RETURNING \"reused\"",
    )
    .and_then(|mut s| {
        s.query_row(params![hash, text(session_id)], |r| r.get::<_, i64>(0))
            .optional()
    })
    .map(|reused| reused.unwrap_or(0) != 0)
    .map_err(from_sqlite)
}

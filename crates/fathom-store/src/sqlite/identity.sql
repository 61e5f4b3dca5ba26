-- Fathom's identity tables. Created if missing at start-up; never touched by schema migrations.
-- Emails are stored lowercased; every token is stored only as its SHA-256 hash.
CREATE TABLE IF NOT EXISTS "_fathom_users" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "email" TEXT NOT NULL UNIQUE,
    "password_hash" TEXT NOT NULL,
    "roles" TEXT NOT NULL DEFAULT '[]',
    "tenant" TEXT,
    "verified" INTEGER NOT NULL DEFAULT 0,
    "disabled" INTEGER NOT NULL DEFAULT 0,
    "failed_logins" INTEGER NOT NULL DEFAULT 0,
    "locked_until" TEXT,
    "created_at" TEXT NOT NULL,
    "updated_at" TEXT NOT NULL,
    "version" INTEGER NOT NULL DEFAULT 1,
    "profile" TEXT NOT NULL DEFAULT '{}'
) STRICT;
CREATE TABLE IF NOT EXISTS "_fathom_sessions" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "user_id" TEXT NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "created_at" TEXT NOT NULL,
    "expires_at" TEXT NOT NULL,
    "last_used_at" TEXT NOT NULL,
    "revoked_at" TEXT,
    "revoked_reason" TEXT,
    "user_agent" TEXT,
    "ip" TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS "idx__fathom_sessions__user_id" ON "_fathom_sessions" ("user_id");
CREATE TABLE IF NOT EXISTS "_fathom_refresh_tokens" (
    "hash" TEXT PRIMARY KEY NOT NULL,
    "session_id" TEXT NOT NULL REFERENCES "_fathom_sessions"("id") ON DELETE CASCADE,
    "created_at" TEXT NOT NULL,
    "used_at" TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS "idx__fathom_refresh_tokens__session_id" ON "_fathom_refresh_tokens" ("session_id");
CREATE TABLE IF NOT EXISTS "_fathom_one_time_tokens" (
    "hash" TEXT PRIMARY KEY NOT NULL,
    "user_id" TEXT NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "purpose" TEXT NOT NULL,
    "expires_at" TEXT NOT NULL,
    "used_at" TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS "_fathom_signing_keys" (
    "kid" TEXT PRIMARY KEY NOT NULL,
    "private_key" BLOB NOT NULL,
    "public_key" BLOB NOT NULL,
    "created_at" INTEGER NOT NULL,
    "retired_at" INTEGER
) STRICT;
-- `created_by` is the administrator who made the key through the API (null for the CLI's keys).
-- No foreign key: a key whose creator is gone is suspended, not turned into an operator's key.
CREATE TABLE IF NOT EXISTS "_fathom_api_keys" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "prefix" TEXT NOT NULL UNIQUE,
    "hash" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "scopes" TEXT NOT NULL,
    "tenant" TEXT,
    "created_at" TEXT NOT NULL,
    "revoked_at" TEXT,
    "created_by" TEXT
) STRICT;
-- The audit log (see audit.rs): sequences are given by the head row, gap-free from 1. A table
-- made before the chain gets its new columns from `audit::upgrade`.
CREATE TABLE IF NOT EXISTS "_fathom_audit" (
    "seq" INTEGER PRIMARY KEY NOT NULL,
    "at" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "outcome" TEXT NOT NULL,
    "actor" TEXT,
    "target" TEXT,
    "request_id" TEXT,
    "ip" TEXT,
    "detail" TEXT,
    "collection" TEXT,
    "changed" TEXT,
    "prev_hash" TEXT,
    "hash" TEXT
) STRICT;

-- Fathom's identity tables on PostgreSQL. Created if missing at start-up (under the migration
-- lock); never touched by schema migrations. Emails are stored lowercased; every token is stored
-- only as its SHA-256 hash. Times are timestamptz, read back in the canonical text form.
CREATE TABLE IF NOT EXISTS "_fathom_users" (
    "id" uuid PRIMARY KEY,
    "email" text COLLATE "C" NOT NULL UNIQUE,
    "password_hash" text NOT NULL,
    "roles" jsonb NOT NULL DEFAULT '[]',
    "tenant" text COLLATE "C",
    "verified" boolean NOT NULL DEFAULT false,
    "disabled" boolean NOT NULL DEFAULT false,
    "failed_logins" bigint NOT NULL DEFAULT 0,
    "locked_until" timestamptz,
    "created_at" timestamptz NOT NULL,
    "updated_at" timestamptz NOT NULL,
    "version" bigint NOT NULL DEFAULT 1,
    -- JSON text, not jsonb: the fields keep the order they were written in, as on SQLite.
    "profile" text NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS "_fathom_sessions" (
    "id" uuid PRIMARY KEY,
    "user_id" uuid NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "created_at" timestamptz NOT NULL,
    "expires_at" timestamptz NOT NULL,
    "last_used_at" timestamptz NOT NULL,
    "revoked_at" timestamptz,
    "revoked_reason" text,
    "user_agent" text,
    "ip" text
);
CREATE INDEX IF NOT EXISTS "idx__fathom_sessions__user_id" ON "_fathom_sessions" ("user_id");
CREATE TABLE IF NOT EXISTS "_fathom_refresh_tokens" (
    "hash" text PRIMARY KEY,
    "session_id" uuid NOT NULL REFERENCES "_fathom_sessions"("id") ON DELETE CASCADE,
    "created_at" timestamptz NOT NULL,
    "used_at" timestamptz
);
CREATE INDEX IF NOT EXISTS "idx__fathom_refresh_tokens__session_id" ON "_fathom_refresh_tokens" ("session_id");
CREATE TABLE IF NOT EXISTS "_fathom_one_time_tokens" (
    "hash" text PRIMARY KEY,
    "user_id" uuid NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "purpose" text NOT NULL,
    "expires_at" timestamptz NOT NULL,
    "used_at" timestamptz
);
CREATE TABLE IF NOT EXISTS "_fathom_signing_keys" (
    "kid" text PRIMARY KEY,
    "private_key" bytea NOT NULL,
    "public_key" bytea NOT NULL,
    "created_at" bigint NOT NULL,
    "retired_at" bigint
);
-- `created_by` is the administrator who made the key through the API (null for the CLI's keys).
-- No foreign key: a key whose creator is gone is suspended, not turned into an operator's key.
CREATE TABLE IF NOT EXISTS "_fathom_api_keys" (
    "id" uuid PRIMARY KEY,
    "prefix" text COLLATE "C" NOT NULL UNIQUE,
    "hash" text NOT NULL,
    "name" text NOT NULL,
    "scopes" jsonb NOT NULL,
    "tenant" text COLLATE "C",
    "created_at" timestamptz NOT NULL,
    "revoked_at" timestamptz,
    "created_by" uuid
);
-- The audit log (see audit.rs): sequences are given by the head row, gap-free from 1. A table
-- made before the chain gets its new columns from `audit::upgrade`.
CREATE TABLE IF NOT EXISTS "_fathom_audit" (
    "seq" bigint PRIMARY KEY,
    "at" timestamptz NOT NULL,
    "action" text NOT NULL,
    "outcome" text NOT NULL,
    "actor" text,
    "target" text,
    "request_id" text,
    "ip" text,
    "detail" text,
    "collection" text,
    "changed" text,
    "prev_hash" text,
    "hash" text
);
-- A database made before keys recorded their creator gets the column once, filled from the
-- audit log (the administrator who created each key), so those keys are tied to their creators.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = current_schema() AND table_name = '_fathom_api_keys'
          AND column_name = 'created_by'
    ) THEN
        ALTER TABLE "_fathom_api_keys" ADD COLUMN "created_by" uuid;
        UPDATE "_fathom_api_keys" k SET "created_by" = (
            SELECT a."actor"::uuid FROM "_fathom_audit" a
            WHERE a."action" = 'api_key_created' AND a."target" = k."id"::text
              AND a."actor" ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            ORDER BY a."seq" LIMIT 1);
    END IF;
END
$$;

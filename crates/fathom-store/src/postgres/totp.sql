-- The TOTP second factor on PostgreSQL (docs/IDENTITY.md, "TOTP second factor"), as
-- sqlite/totp.sql. Created if missing at start-up, under the migration lock. Secrets are stored
-- sealed, recovery codes and challenges only as their SHA-256 hashes; `last_step` is the last
-- accepted RFC 6238 time step.
CREATE TABLE IF NOT EXISTS "_fathom_totp" (
    "user_id" uuid PRIMARY KEY REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "secret" text,
    "pending_secret" text,
    "pending_expires_at" timestamptz,
    "enabled_at" timestamptz,
    "last_step" bigint,
    "failures" bigint NOT NULL DEFAULT 0,
    "locked_until" timestamptz,
    "updated_at" timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS "_fathom_totp_recovery_codes" (
    "user_id" uuid NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "hash" text NOT NULL,
    "used_at" timestamptz,
    PRIMARY KEY ("user_id", "hash")
);
CREATE TABLE IF NOT EXISTS "_fathom_totp_challenges" (
    "hash" text PRIMARY KEY,
    "user_id" uuid NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "expires_at" timestamptz NOT NULL,
    "attempts" bigint NOT NULL DEFAULT 0,
    "used_at" timestamptz
);
CREATE INDEX IF NOT EXISTS "idx__fathom_totp_challenges__user_id" ON "_fathom_totp_challenges" ("user_id");
CREATE INDEX IF NOT EXISTS "idx__fathom_totp_challenges__expires_at" ON "_fathom_totp_challenges" ("expires_at");

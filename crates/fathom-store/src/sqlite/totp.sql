-- The TOTP second factor (docs/IDENTITY.md, "TOTP second factor"). Created if missing at
-- start-up. Secrets are stored sealed (`fe1:` under the field-encryption key ring, or `ts1:`
-- under the server key), recovery codes and challenges only as their SHA-256 hashes.
-- `last_step` is the last accepted RFC 6238 time step: a code is accepted only for a later one.
CREATE TABLE IF NOT EXISTS "_fathom_totp" (
    "user_id" TEXT PRIMARY KEY NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "secret" TEXT,
    "pending_secret" TEXT,
    "pending_expires_at" TEXT,
    "enabled_at" TEXT,
    "last_step" INTEGER,
    "failures" INTEGER NOT NULL DEFAULT 0,
    "locked_until" TEXT,
    "updated_at" TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS "_fathom_totp_recovery_codes" (
    "user_id" TEXT NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "hash" TEXT NOT NULL,
    "used_at" TEXT,
    PRIMARY KEY ("user_id", "hash")
) STRICT;
CREATE TABLE IF NOT EXISTS "_fathom_totp_challenges" (
    "hash" TEXT PRIMARY KEY NOT NULL,
    "user_id" TEXT NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "expires_at" TEXT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "used_at" TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS "idx__fathom_totp_challenges__user_id" ON "_fathom_totp_challenges" ("user_id");
CREATE INDEX IF NOT EXISTS "idx__fathom_totp_challenges__expires_at" ON "_fathom_totp_challenges" ("expires_at");

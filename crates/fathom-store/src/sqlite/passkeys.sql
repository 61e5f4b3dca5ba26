-- Passkeys (WebAuthn credentials) and the state of passkey ceremonies in flight. Created if
-- missing at start-up, beside identity.sql; never touched by schema migrations.
-- `credential` is webauthn-rs's serialised `Passkey` (public key, counter, flags: no secret);
-- `sign_count` repeats its counter so that a sign-in can advance it with a guarded UPDATE.
CREATE TABLE IF NOT EXISTS "_fathom_passkeys" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "user_id" TEXT NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "credential_id" TEXT NOT NULL UNIQUE,
    "name" TEXT NOT NULL,
    "credential" TEXT NOT NULL,
    "sign_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TEXT NOT NULL,
    "last_used_at" TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS "idx__fathom_passkeys__user_id" ON "_fathom_passkeys" ("user_id");
-- A ceremony's server-side state between its two requests: taken (deleted) by the request that
-- finishes it, so it is single use; `expires_at_ms` bounds its life.
CREATE TABLE IF NOT EXISTS "_fathom_passkey_ceremonies" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "kind" TEXT NOT NULL,
    "user_id" TEXT REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "state" TEXT NOT NULL,
    "expires_at_ms" INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS "idx__fathom_passkey_ceremonies__expires" ON "_fathom_passkey_ceremonies" ("expires_at_ms");

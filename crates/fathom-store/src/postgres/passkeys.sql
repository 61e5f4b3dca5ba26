-- Passkeys (WebAuthn credentials) and the state of passkey ceremonies in flight. Created if
-- missing at start-up, beside identity.sql; never touched by schema migrations.
-- `credential` is webauthn-rs's serialised `Passkey` (public key, counter, flags: no secret);
-- `sign_count` repeats its counter so that a sign-in can advance it with a guarded UPDATE.
CREATE TABLE IF NOT EXISTS "_fathom_passkeys" (
    "id" uuid PRIMARY KEY,
    "user_id" uuid NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "credential_id" text NOT NULL UNIQUE,
    "name" text NOT NULL,
    "credential" text NOT NULL,
    "sign_count" bigint NOT NULL DEFAULT 0,
    "created_at" timestamptz NOT NULL,
    "last_used_at" timestamptz
);
CREATE INDEX IF NOT EXISTS "idx__fathom_passkeys__user_id" ON "_fathom_passkeys" ("user_id");
-- A ceremony's server-side state between its two requests: taken (deleted) by the request that
-- finishes it, on whichever node, so it is single use; `expires_at` (the database's clock)
-- bounds its life.
CREATE TABLE IF NOT EXISTS "_fathom_passkey_ceremonies" (
    "id" uuid PRIMARY KEY,
    "kind" text NOT NULL,
    "user_id" uuid REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "state" text NOT NULL,
    "expires_at" timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS "idx__fathom_passkey_ceremonies__expires" ON "_fathom_passkey_ceremonies" ("expires_at");

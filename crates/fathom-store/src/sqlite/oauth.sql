-- OAuth2 / OpenID Connect sign-in (docs/IDENTITY.md, "OAuth2 and OpenID Connect"). Created if
-- missing at start-up. Identities are keyed by (provider, subject); flows and Fathom's own
-- authorization codes live here (not in memory) so that any node can finish a flow another began.
-- Every code and state is stored only as its SHA-256 hash.
CREATE TABLE IF NOT EXISTS "_fathom_oauth_identities" (
    "id" TEXT PRIMARY KEY NOT NULL,
    "user_id" TEXT NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "provider" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "email" TEXT,
    "created_at" TEXT NOT NULL,
    UNIQUE ("provider", "subject")
) STRICT;
CREATE INDEX IF NOT EXISTS "idx__fathom_oauth_identities__user_id" ON "_fathom_oauth_identities" ("user_id");
CREATE TABLE IF NOT EXISTS "_fathom_oauth_flows" (
    "state_hash" TEXT PRIMARY KEY NOT NULL,
    "provider" TEXT NOT NULL,
    "redirect_uri" TEXT NOT NULL,
    "client_state" TEXT NOT NULL,
    "code_challenge" TEXT NOT NULL,
    "nonce" TEXT NOT NULL,
    "pkce_verifier" TEXT NOT NULL,
    "link_user_id" TEXT REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "expires_at" TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS "_fathom_oauth_codes" (
    "hash" TEXT PRIMARY KEY NOT NULL,
    "user_id" TEXT NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "redirect_uri" TEXT NOT NULL,
    "code_challenge" TEXT NOT NULL,
    "expires_at" TEXT NOT NULL,
    "used_at" TEXT,
    "reused" INTEGER NOT NULL DEFAULT 0,
    "session_id" TEXT,
    -- A link flow's identity, linked only when the code is redeemed with its verifier.
    "link_provider" TEXT,
    "link_subject" TEXT,
    "link_email" TEXT
) STRICT;

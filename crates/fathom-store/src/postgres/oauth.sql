-- OAuth2 / OpenID Connect sign-in on PostgreSQL (same tables as sqlite/oauth.sql). Created if
-- missing at start-up, under the migration lock. Every code and state is stored only as its
-- SHA-256 hash.
CREATE TABLE IF NOT EXISTS "_fathom_oauth_identities" (
    "id" uuid PRIMARY KEY,
    "user_id" uuid NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "provider" text COLLATE "C" NOT NULL,
    "subject" text COLLATE "C" NOT NULL,
    "email" text,
    "created_at" timestamptz NOT NULL,
    UNIQUE ("provider", "subject")
);
CREATE INDEX IF NOT EXISTS "idx__fathom_oauth_identities__user_id" ON "_fathom_oauth_identities" ("user_id");
CREATE TABLE IF NOT EXISTS "_fathom_oauth_flows" (
    "state_hash" text PRIMARY KEY,
    "provider" text NOT NULL,
    "redirect_uri" text NOT NULL,
    "client_state" text NOT NULL,
    "code_challenge" text NOT NULL,
    "nonce" text NOT NULL,
    "pkce_verifier" text NOT NULL,
    "link_user_id" uuid REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "expires_at" timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS "_fathom_oauth_codes" (
    "hash" text PRIMARY KEY,
    "user_id" uuid NOT NULL REFERENCES "_fathom_users"("id") ON DELETE CASCADE,
    "redirect_uri" text NOT NULL,
    "code_challenge" text NOT NULL,
    "expires_at" timestamptz NOT NULL,
    "used_at" timestamptz,
    "reused" boolean NOT NULL DEFAULT false,
    "session_id" uuid,
    -- A link flow's identity, linked only when the code is redeemed with its verifier.
    "link_provider" text,
    "link_subject" text,
    "link_email" text
);

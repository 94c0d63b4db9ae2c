-- Tessera's schema on PostgreSQL: the same tables as the SQLite schema, in PostgreSQL's types.
-- Times are Unix seconds (BIGINT) as the domain hands them over.

-- Users: ids from 1, never reused.
CREATE TABLE users (
    id            BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT  NOT NULL,
    -- Roles (a JSON array of names) and custom claims (a JSON object) carried in access tokens.
    roles         TEXT    NOT NULL DEFAULT '[]',
    claims        TEXT    NOT NULL DEFAULT '{}'
);

-- A login session: the chain of refresh tokens started by one login.
CREATE TABLE sessions (
    id                   TEXT   PRIMARY KEY,
    user_id              BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at           BIGINT NOT NULL,
    last_used_at         BIGINT NOT NULL,
    expires_at           BIGINT NOT NULL,
    user_agent           TEXT,
    ip                   TEXT,
    revoked_at           BIGINT,
    current_refresh_hash BYTEA
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Refresh tokens, only as SHA-256 hashes: an allow-list.
CREATE TABLE refresh_tokens (
    token_hash  BYTEA  PRIMARY KEY,
    jti         TEXT   NOT NULL,
    session_id  TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    state       TEXT   NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'rotated', 'revoked')),
    rotated_at  BIGINT,
    replaced_by BYTEA
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

-- The revocation log every instance replays into memory. Writers append under a transaction-level
-- advisory lock, so ids become visible in order (see the store's `log` function).
CREATE TABLE revocations (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind       TEXT   NOT NULL,
    subject    TEXT   NOT NULL,
    before_ts  BIGINT,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revocations_by_expiry ON revocations (expires_at);

-- Signing keys shared by every instance.
CREATE TABLE signing_keys (
    kid         TEXT   PRIMARY KEY,
    alg         TEXT   NOT NULL,
    private_jwk TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    retired_at  BIGINT,
    expires_at  BIGINT
);

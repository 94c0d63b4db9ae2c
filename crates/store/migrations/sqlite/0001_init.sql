-- Users: ids from 1, never reused (AUTOINCREMENT).
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL UNIQUE,
    password_hash TEXT    NOT NULL,
    is_active     INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
);

-- A login session: the chain of refresh tokens started by one login.
CREATE TABLE sessions (
    id                   TEXT    PRIMARY KEY,
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at           INTEGER NOT NULL,
    last_used_at         INTEGER NOT NULL,
    expires_at           INTEGER NOT NULL,
    user_agent           TEXT,
    ip                   TEXT,
    revoked_at           INTEGER,
    current_refresh_hash BLOB
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Refresh tokens, only as SHA-256 hashes: an allow-list.
CREATE TABLE refresh_tokens (
    token_hash  BLOB    PRIMARY KEY,
    jti         TEXT    NOT NULL,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'rotated', 'revoked')),
    rotated_at  INTEGER,
    replaced_by BLOB
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens (expires_at);

-- The revocation log every instance replays into memory.
CREATE TABLE revocations (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    before_ts  INTEGER,
    expires_at INTEGER NOT NULL
);
CREATE INDEX revocations_by_expiry ON revocations (expires_at);

-- Signing keys shared by every instance.
CREATE TABLE signing_keys (
    kid         TEXT    PRIMARY KEY,
    alg         TEXT    NOT NULL,
    private_jwk TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    retired_at  INTEGER,
    expires_at  INTEGER
);

-- OAuth 2.0 clients: confidential, their secrets stored only as SHA-256 hashes.
CREATE TABLE clients (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL UNIQUE,
    secret_hash BYTEA  NOT NULL,
    scopes      TEXT   NOT NULL DEFAULT '[]',
    grants      TEXT   NOT NULL DEFAULT '[]',
    created_at  BIGINT NOT NULL
);

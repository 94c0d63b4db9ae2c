-- The security audit log: one row per event, written with the change it records. Never a secret.
CREATE TABLE audit_log (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    time             BIGINT NOT NULL,
    event            TEXT   NOT NULL,
    actor_type       TEXT   NOT NULL,
    actor_id         TEXT,
    subject_id       BIGINT,
    subject_username TEXT,
    session          TEXT,
    ip               TEXT,
    user_agent       TEXT,
    detail           TEXT   NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_subject ON audit_log (subject_id);
CREATE INDEX audit_log_event ON audit_log (event, time);

-- Moving from Django + simplejwt.

-- Users imported from a Django site (`tessera import django`): the SHA-256 of the Django password
-- hash as last imported, so a later run re-imports a password only when Django's changed. Kept
-- when the user is deleted in Tessera (no foreign key), so a later run does not bring them back.
CREATE TABLE django_imports (
    user_id         BIGINT PRIMARY KEY,
    password_digest BYTEA  NOT NULL,
    imported_at     BIGINT NOT NULL
);

-- The last successful login, recorded when update_last_login is on (simplejwt's UPDATE_LAST_LOGIN).
ALTER TABLE users ADD COLUMN last_login BIGINT;

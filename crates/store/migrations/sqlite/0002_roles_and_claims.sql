-- Roles (a JSON array of names) and custom claims (a JSON object) carried in access tokens.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '[]';
ALTER TABLE users ADD COLUMN claims TEXT NOT NULL DEFAULT '{}';

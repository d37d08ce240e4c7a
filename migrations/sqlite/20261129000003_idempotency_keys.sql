-- The answers given to requests sent with an Idempotency-Key (POST /api/v1/orders); the
-- same table and named constraints as migrations/postgres.
CREATE TABLE idempotency_keys (
    user_id             BLOB    NOT NULL,
    idempotency_key     TEXT    NOT NULL,
    request_fingerprint TEXT    NOT NULL,
    response_status     INTEGER NOT NULL,
    response_body       TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,
    expires_at          TEXT    NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, idempotency_key),
    CONSTRAINT idempotency_keys_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT idempotency_keys_key_length_check
        CHECK (length(idempotency_key) BETWEEN 1 AND 255)
);
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

-- idempotency_keys.user_id → users, named as on PostgreSQL (see
-- 20261129000001_foreign_key_names.sql).
CREATE TRIGGER idempotency_keys_user_id_fkey_insert BEFORE INSERT ON idempotency_keys
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id)
BEGIN SELECT RAISE(ABORT, 'idempotency_keys_user_id_fkey'); END;

CREATE TRIGGER idempotency_keys_user_id_fkey_update BEFORE UPDATE OF user_id ON idempotency_keys
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id)
BEGIN SELECT RAISE(ABORT, 'idempotency_keys_user_id_fkey'); END;

CREATE TRIGGER idempotency_keys_user_id_fkey_delete BEFORE DELETE ON users
WHEN EXISTS (SELECT 1 FROM idempotency_keys WHERE user_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'idempotency_keys_user_id_fkey'); END;

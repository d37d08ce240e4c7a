-- The answers given to requests sent with an Idempotency-Key (POST /api/v1/orders), so
-- that a retry is answered with the first answer instead of acting twice. A row is
-- written in the transaction of the write it answers, and kept until `expires_at`
-- (IDEMPOTENCY_KEY_TTL_HOURS after it); the server purges expired rows in batches.
CREATE TABLE idempotency_keys (
    user_id             uuid        NOT NULL,
    idempotency_key     text        NOT NULL,
    -- SHA-256 (hex) of the request's JSON body written canonically: tells a retry from
    -- another request sent with the same key.
    request_fingerprint text        NOT NULL,
    response_status     integer     NOT NULL,
    response_body       text        NOT NULL,
    created_at          timestamptz NOT NULL,
    expires_at          timestamptz NOT NULL,
    -- One answer per key and account: the guarantee that a key acts once.
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, idempotency_key),
    CONSTRAINT idempotency_keys_user_id_fkey
        FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT idempotency_keys_key_length_check
        CHECK (length(idempotency_key) BETWEEN 1 AND 255)
);
-- The purge deletes the oldest expired rows first.
CREATE INDEX idempotency_keys_expires_at_idx ON idempotency_keys (expires_at);

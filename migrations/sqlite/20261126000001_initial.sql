-- The bookstore schema for the embedded SQLite database; the same tables, columns and
-- named constraints as migrations/postgres. SQLite stores ids as 16-byte blobs,
-- timestamps as RFC 3339 text, dates as YYYY-MM-DD text and booleans as 0/1.

CREATE TABLE users (
    id              BLOB    NOT NULL,
    email           TEXT    NOT NULL,
    full_name       TEXT    NOT NULL,
    hashed_password TEXT    NOT NULL,
    is_active       INTEGER NOT NULL DEFAULT 1,
    is_admin        INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT    NOT NULL,
    updated_at      TEXT    NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- Addresses are stored lower-cased, so a plain unique constraint is case-insensitive.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower_check CHECK (email = lower(email))
);

CREATE TABLE authors (
    id         BLOB NOT NULL,
    name       TEXT NOT NULL,
    bio        TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT authors_pkey PRIMARY KEY (id)
);

CREATE TABLE books (
    id           BLOB    NOT NULL,
    title        TEXT    NOT NULL,
    author_id    BLOB    NOT NULL,
    description  TEXT,
    price_cents  INTEGER NOT NULL,
    published_at TEXT,
    created_at   TEXT    NOT NULL,
    updated_at   TEXT    NOT NULL,
    CONSTRAINT books_pkey PRIMARY KEY (id),
    CONSTRAINT books_author_id_fkey FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT,
    CONSTRAINT books_price_positive_check CHECK (price_cents > 0)
);
CREATE INDEX books_author_id_idx ON books (author_id);
CREATE INDEX books_created_at_id_idx ON books (created_at, id);

CREATE TABLE orders (
    id                 BLOB    NOT NULL,
    user_id            BLOB    NOT NULL,
    book_id            BLOB    NOT NULL,
    quantity           INTEGER NOT NULL,
    total_amount_cents INTEGER NOT NULL,
    status             TEXT    NOT NULL DEFAULT 'pending',
    created_at         TEXT    NOT NULL,
    updated_at         TEXT    NOT NULL,
    CONSTRAINT orders_pkey PRIMARY KEY (id),
    CONSTRAINT orders_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT orders_book_id_fkey FOREIGN KEY (book_id) REFERENCES books (id) ON DELETE RESTRICT,
    CONSTRAINT orders_quantity_check CHECK (quantity BETWEEN 1 AND 1000),
    CONSTRAINT orders_total_amount_check CHECK (total_amount_cents > 0),
    CONSTRAINT orders_status_check
        CHECK (status IN ('pending', 'paid', 'shipped', 'delivered', 'cancelled'))
);
CREATE INDEX orders_user_id_created_at_idx ON orders (user_id, created_at, id);
CREATE INDEX orders_book_id_idx ON orders (book_id);
CREATE INDEX orders_created_at_id_idx ON orders (created_at, id);
CREATE INDEX authors_created_at_id_idx ON authors (created_at, id);
CREATE INDEX users_created_at_id_idx ON users (created_at, id);

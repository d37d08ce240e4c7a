-- The bookstore schema: users, authors, books and orders.
-- Money is stored as integer cents; every constraint is named so the server can map
-- its violations to precise API errors.

CREATE TABLE users (
    id              uuid        NOT NULL,
    email           text        NOT NULL,
    full_name       text        NOT NULL,
    hashed_password text        NOT NULL,
    is_active       boolean     NOT NULL DEFAULT true,
    is_admin        boolean     NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- Addresses are stored lower-cased, so a plain unique constraint is case-insensitive.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_email_lower_check CHECK (email = lower(email))
);

CREATE TABLE authors (
    id         uuid        NOT NULL,
    name       text        NOT NULL,
    bio        text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT authors_pkey PRIMARY KEY (id)
);

CREATE TABLE books (
    id           uuid        NOT NULL,
    title        text        NOT NULL,
    author_id    uuid        NOT NULL,
    description  text,
    price_cents  bigint      NOT NULL,
    published_at date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT books_pkey PRIMARY KEY (id),
    CONSTRAINT books_author_id_fkey FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE RESTRICT,
    CONSTRAINT books_price_positive_check CHECK (price_cents > 0)
);
CREATE INDEX books_author_id_idx ON books (author_id);
CREATE INDEX books_created_at_id_idx ON books (created_at, id);

CREATE TABLE orders (
    id                 uuid        NOT NULL,
    user_id            uuid        NOT NULL,
    book_id            uuid        NOT NULL,
    quantity           integer     NOT NULL,
    total_amount_cents bigint      NOT NULL,
    status             text        NOT NULL DEFAULT 'pending',
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
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

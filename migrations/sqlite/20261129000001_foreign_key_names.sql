-- SQLite reports a broken foreign key without saying which ("FOREIGN KEY constraint
-- failed"), so the server could not tell which rule a statement broke, as it can on
-- PostgreSQL. These triggers check each foreign key first and fail with the constraint's
-- name as its message; the constraints stay as they are, as the last line of defence.
-- A new foreign key on SQLite needs triggers like these (see "How to add a resource" in
-- CONTRIBUTING.md).

-- books.author_id → authors
CREATE TRIGGER books_author_id_fkey_insert BEFORE INSERT ON books
WHEN NOT EXISTS (SELECT 1 FROM authors WHERE id = NEW.author_id)
BEGIN SELECT RAISE(ABORT, 'books_author_id_fkey'); END;

CREATE TRIGGER books_author_id_fkey_update BEFORE UPDATE OF author_id ON books
WHEN NOT EXISTS (SELECT 1 FROM authors WHERE id = NEW.author_id)
BEGIN SELECT RAISE(ABORT, 'books_author_id_fkey'); END;

CREATE TRIGGER books_author_id_fkey_delete BEFORE DELETE ON authors
WHEN EXISTS (SELECT 1 FROM books WHERE author_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'books_author_id_fkey'); END;

-- orders.book_id → books
CREATE TRIGGER orders_book_id_fkey_insert BEFORE INSERT ON orders
WHEN NOT EXISTS (SELECT 1 FROM books WHERE id = NEW.book_id)
BEGIN SELECT RAISE(ABORT, 'orders_book_id_fkey'); END;

CREATE TRIGGER orders_book_id_fkey_update BEFORE UPDATE OF book_id ON orders
WHEN NOT EXISTS (SELECT 1 FROM books WHERE id = NEW.book_id)
BEGIN SELECT RAISE(ABORT, 'orders_book_id_fkey'); END;

CREATE TRIGGER orders_book_id_fkey_delete BEFORE DELETE ON books
WHEN EXISTS (SELECT 1 FROM orders WHERE book_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'orders_book_id_fkey'); END;

-- orders.user_id → users
CREATE TRIGGER orders_user_id_fkey_insert BEFORE INSERT ON orders
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id)
BEGIN SELECT RAISE(ABORT, 'orders_user_id_fkey'); END;

CREATE TRIGGER orders_user_id_fkey_update BEFORE UPDATE OF user_id ON orders
WHEN NOT EXISTS (SELECT 1 FROM users WHERE id = NEW.user_id)
BEGIN SELECT RAISE(ABORT, 'orders_user_id_fkey'); END;

CREATE TRIGGER orders_user_id_fkey_delete BEFORE DELETE ON users
WHEN EXISTS (SELECT 1 FROM orders WHERE user_id = OLD.id)
BEGIN SELECT RAISE(ABORT, 'orders_user_id_fkey'); END;

-- The title filter compares against a lower-cased copy of the title that the server
-- writes, so that case folding is Unicode-aware and the same on every backend.
-- (SQLite cannot add a NOT NULL column without a default; the server always writes it.)
ALTER TABLE books ADD COLUMN title_folded TEXT NOT NULL DEFAULT '';
UPDATE books SET title_folded = lower(title);

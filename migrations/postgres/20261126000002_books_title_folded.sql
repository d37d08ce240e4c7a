-- The title filter compares against a lower-cased copy of the title that the server
-- writes, so that case folding is Unicode-aware and the same on every backend.
ALTER TABLE books ADD COLUMN title_folded text;
UPDATE books SET title_folded = lower(title);
ALTER TABLE books ALTER COLUMN title_folded SET NOT NULL;

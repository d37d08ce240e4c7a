-- Sessions that began before this moment are refused: set when an account's password
-- changes or it is deactivated, so that ending its sessions does not depend on the
-- session store.
ALTER TABLE users ADD COLUMN sessions_valid_after TEXT;

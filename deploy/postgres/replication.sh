#!/bin/sh
# Lets the read replica of docker-compose's `cluster` profile stream from this server: a
# replication role, and a pg_hba.conf line that admits it. The image runs this once, when
# it creates the data directory.
set -eu

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '${POSTGRES_REPLICATION_PASSWORD}';
SQL
echo "host replication replicator all scram-sha-256" >>"$PGDATA/pg_hba.conf"

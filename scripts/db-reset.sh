#!/usr/bin/env bash
# Empties the database named by DATABASE_URL (read from the environment or ./.env); the
# server recreates the schema at its next start.
#
#   unset or sqlite://FILE    deletes the SQLite file (default ./bookstore.db) and its WAL
#   postgres://…/NAME          drops and recreates database NAME (needs psql)
set -euo pipefail

if [[ -z ${DATABASE_URL:-} && -f .env ]]; then
    DATABASE_URL=$(sed -n 's/^DATABASE_URL=//p' .env | tail -n 1)
fi
url=${DATABASE_URL:-sqlite://bookstore.db}

case $url in
sqlite:*)
    file=${url#sqlite:}
    file=${file#//}
    file=${file%%\?*}
    rm -f -- "$file" "$file-wal" "$file-shm"
    echo "SQLite database ${file} deleted"
    ;;
postgres://* | postgresql://*)
    # A database cannot be dropped over a connection to itself, so connect to the
    # `postgres` maintenance database of the same server, keeping any ?query options.
    base=${url%%\?*}
    query=${url#"$base"}
    db=${base##*/}
    [[ -n $db && $db != "$base" ]] || { echo "DATABASE_URL names no database: $url" >&2; exit 1; }
    [[ $db != postgres ]] || { echo "refusing to drop the maintenance database" >&2; exit 1; }
    # WITH (FORCE) ends other sessions still connected to it (PostgreSQL 13+).
    psql "${base%/*}/postgres${query}" -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS \"${db}\" WITH (FORCE)" \
        -c "CREATE DATABASE \"${db}\""
    echo "PostgreSQL database ${db} recreated"
    ;;
*)
    echo "DATABASE_URL must start with sqlite:, postgres:// or postgresql://" >&2
    exit 1
    ;;
esac

# syntax=docker/dockerfile:1
#
# Bookstore API server image.
#
#   docker build -t bookstore-api .
#   docker compose up --build        # with PostgreSQL and Redis (docker-compose.yaml)
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts below.

# ---- build ------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS builder

# rust-toolchain.toml pins 1.95.0 with rustfmt and clippy; the image ships a minimal
# profile (no rustfmt, no clippy) under its own version name. Naming the image's toolchain
# here overrides the file, so rustup never tries to download a toolchain or components
# during the build. Only rustc and cargo are needed to build.
ENV RUSTUP_TOOLCHAIN=${RUST_VERSION}

WORKDIR /app

# The whole workspace is needed: cargo loads every member (api-server, api-client, codegen,
# tests, bench), and api-server embeds migrations/ at compile time. .dockerignore keeps
# target/ and secrets out of the context.
COPY . .

# The registry and target directories are cache mounts, so rebuilds after a code change
# only recompile the workspace crates. A cache mount is not part of the image, hence the
# copy of the binary out of it in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/app/target,sharing=locked \
    cargo build --release --locked -p api-server \
    && cp target/release/api-server /usr/local/bin/api-server

# ---- runtime ----------------------------------------------------------------------------
# Same Debian release as the builder, so the binary finds the glibc it was linked against.
FROM debian:bookworm-slim AS runtime

# ca-certificates (trusted roots for any outgoing TLS) and curl (for the health check).
# Versions are left to the bookworm security updates rather than pinned.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# An unprivileged user with a fixed id; USER names the id, so that orchestrators (e.g.
# Kubernetes' runAsNonRoot) can tell it is not root without reading /etc/passwd.
RUN groupadd --system --gid 10001 bookstore \
    && useradd --system --uid 10001 --gid bookstore --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin bookstore

COPY --from=builder /usr/local/bin/api-server /usr/local/bin/api-server

USER 10001:10001

ENV HOST=0.0.0.0 \
    PORT=8080 \
    RUST_LOG=info
EXPOSE 8080

# Through a shell, so that a PORT overridden at run time is the one probed.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/bin/sh", "-c", "curl -fsS \"http://127.0.0.1:${PORT}/health\" >/dev/null || exit 1"]

# The server stops gracefully on SIGTERM (docker stop), draining in-flight requests.
CMD ["/usr/local/bin/api-server"]

# syntax=docker/dockerfile:1
# Election Cart: one image carrying both binaries, `api` and `worker`.
#   docker build -t electioncart .
#   docker run --rm -e DATABASE_URL=… -e REDIS_URL=… -e JWT_SECRET=… electioncart            # api serve
#   docker run --rm … electioncart worker --queues emails                                     # a worker

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# Migrations and email templates are embedded at compile time; no database is needed to build.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked -p api -p worker

FROM debian:bookworm-slim
# pg_dump/pg_restore for backups and `api restore`: they must be of the server's major version or
# newer, so the client of docker-compose.yml's postgres:16 comes from the PostgreSQL apt repository
# (bookworm's own postgresql-client is 15). Set PG_MAJOR to your server's version.
ARG PG_MAJOR=16
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && install -d /usr/share/postgresql-common/pgdg \
 && curl -fsSL -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.asc https://www.postgresql.org/media/keys/ACCC4CF8.asc \
 && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
      > /etc/apt/sources.list.d/pgdg.list \
 && apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client-${PG_MAJOR} tar \
 && apt-get purge -y curl && apt-get autoremove -y \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /app/var/media /app/var/mail /app/var/backups \
 && chown -R app:app /app
COPY --from=builder /src/target/release/api /usr/local/bin/api
COPY --from=builder /src/target/release/worker /usr/local/bin/worker
WORKDIR /app
# Safe by default: production refuses to serve with unsafe settings (see `api check --deploy`).
# docker-compose.yml overrides APP_ENV for a one-machine demo.
ENV APP_ENV=production \
    BIND_ADDR=0.0.0.0:8080 \
    MEDIA_DIR=/app/var/media \
    MAIL_OUTBOX_DIR=/app/var/mail \
    BACKUP_DIR=/app/var/backups
USER 10001:10001
EXPOSE 8080
CMD ["api", "serve"]

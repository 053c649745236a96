-- Rust-only tables of API.md §9 needed by accounts and the job queue.

-- Access tokens we issue name their session (refresh-token family, claim `sid`) and die with it.
-- Tokens of the old backend carry no session: those issued before this instant are refused
-- (set by password change and reset).
ALTER TABLE users ADD COLUMN sessions_valid_after timestamptz;

-- Refresh tokens rotate: each use marks the row used and issues a new one in the same family.
-- Presenting a used token again revokes the whole family.
CREATE TABLE refresh_token (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id       uuid NOT NULL,
    token_hash      bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    revoked_at      timestamptz,
    user_agent      varchar(255) NOT NULL DEFAULT '',
    ip              varchar(64) NOT NULL DEFAULT '',
    CONSTRAINT refresh_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX refresh_token_family_idx ON refresh_token (family_id);
CREATE INDEX refresh_token_user_idx ON refresh_token (user_id);
CREATE INDEX refresh_token_expires_idx ON refresh_token (expires_at);

CREATE TABLE password_reset_token (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash      bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz,
    requested_ip    varchar(64) NOT NULL DEFAULT '',
    CONSTRAINT password_reset_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX password_reset_token_user_idx ON password_reset_token (user_id);

-- Idempotency-Key replays (§9): the first response of a key per user is kept for 24 h.
CREATE TABLE idempotency_key (
    id              bigserial PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    idem_key        varchar(255) NOT NULL,
    request_path    varchar(255) NOT NULL,
    request_hash    bytea NOT NULL,
    status_code     integer,
    response_body   jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    CONSTRAINT idempotency_key_user_key UNIQUE (user_id, idem_key)
);
CREATE INDEX idempotency_key_expires_idx ON idempotency_key (expires_at);

-- The job outbox and the durable state of every job. A job row is written in the transaction of
-- the change that causes it; the dispatcher pushes due rows to the Redis queue of `queue`.
--   pending    waiting to be pushed (new, or a retry whose run_at has come)
--   queued     pushed to Redis
--   running    a worker is on it
--   done       finished
--   failed     retries exhausted; last_error says why
--   dead       cannot run at all (unknown kind, undecodable payload) or discarded
CREATE TABLE job (
    id              bigserial PRIMARY KEY,
    queue           varchar(40) NOT NULL,
    kind            varchar(60) NOT NULL,
    payload         jsonb NOT NULL,
    dedupe_key      varchar(200),
    status          varchar(10) NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'queued', 'running', 'done', 'failed', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    pushes          integer NOT NULL DEFAULT 0,
    max_attempts    integer NOT NULL DEFAULT 8,
    last_error      text,
    run_at          timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    queued_at       timestamptz,
    finished_at     timestamptz,
    CONSTRAINT job_dedupe_key UNIQUE (dedupe_key)
);
CREATE INDEX job_due_idx ON job (run_at) WHERE status = 'pending';
CREATE INDEX job_inflight_idx ON job (updated_at) WHERE status IN ('queued', 'running');
CREATE INDEX job_queue_status_idx ON job (queue, status, id DESC);

-- One row per logical email: a job that runs twice sends once.
CREATE TABLE sent_email (
    message_key     varchar(200) PRIMARY KEY,
    recipient       varchar(254) NOT NULL,
    subject         varchar(300) NOT NULL,
    status          varchar(10) NOT NULL CHECK (status IN ('sending', 'sent')),
    claimed_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

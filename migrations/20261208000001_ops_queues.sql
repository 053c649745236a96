-- The queue dashboard (API.md §9.6): every retry and discard an admin makes, written in the
-- transaction that changes the job; the job row itself may be gone (a discard deletes it), so
-- the queue and kind are copied here.
CREATE TABLE job_audit (
    id          bigserial PRIMARY KEY,
    job_id      bigint NOT NULL,
    queue       varchar(40) NOT NULL,
    kind        varchar(60) NOT NULL,
    action      varchar(10) NOT NULL CHECK (action IN ('retry', 'discard')),
    admin_id    bigint REFERENCES users (id) ON DELETE SET NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX job_audit_job_idx ON job_audit (job_id, id);

-- Throughput of the last hour reads finished jobs by time.
CREATE INDEX job_finished_idx ON job (finished_at) WHERE finished_at IS NOT NULL;

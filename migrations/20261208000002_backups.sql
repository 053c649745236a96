-- Database backups (API.md §9.6): one row per run, scheduled, asked for by an admin or by the
-- `api backup` command. At most one run is queued or running across the cluster.
CREATE TABLE backup_run (
    id              bigserial PRIMARY KEY,
    kind            varchar(10) NOT NULL CHECK (kind IN ('scheduled', 'manual', 'cli')),
    status          varchar(10) NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'ok', 'failed')),
    requested_by    bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    -- The stored file (encrypted when BACKUP_ENCRYPTION_KEY is set): its size and SHA-256.
    size_bytes      bigint,
    sha256          char(64),
    -- Path of the dump; cleared when retention deletes the file (pruned_at says when).
    location        text,
    encrypted       boolean NOT NULL DEFAULT false,
    -- The .tar of MEDIA_DIR taken alongside when media are stored on local disk.
    media_location  text,
    -- Restored into a scratch database and found with the snapshot's row counts and order total.
    verified        boolean NOT NULL DEFAULT false,
    -- {"tables": {name: rows}, "orders_total_amount": "123.45"} read in the dump's snapshot.
    counts          jsonb,
    error           text,
    pruned_at       timestamptz
);
CREATE UNIQUE INDEX backup_run_one_active ON backup_run ((true)) WHERE status IN ('queued', 'running');
CREATE INDEX backup_run_list_idx ON backup_run (created_at DESC, id DESC);

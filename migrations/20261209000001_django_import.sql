-- `api import-django` (issue 16): the ledger of every row the importer wrote, so a second run
-- finds what is unchanged, what changed in the source since (the fingerprint differs) and what
-- was deleted there, and an interrupted run resumes where it stopped (each batch commits with
-- its ledger rows). One source row may give several target rows (a completed Razorpay
-- PaymentHistory also gives its PaymentRecord and, when refunded, its Refund).
CREATE TABLE django_import_row (
    source_table    varchar(64) NOT NULL,
    source_id       bigint NOT NULL,
    target_table    varchar(64) NOT NULL,
    target_id       bigint NOT NULL,
    -- SHA-256 (hex) of the target row as the importer mapped it.
    fingerprint     char(64) NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_table, source_id, target_table)
);
CREATE UNIQUE INDEX django_import_row_target_idx ON django_import_row (target_table, target_id);

-- One row per run that wrote (dry runs write nothing): when, what it counted, what it reported.
CREATE TABLE django_import_run (
    id              bigserial PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          varchar(10) NOT NULL DEFAULT 'running'
                    CHECK (status IN ('running', 'ok', 'skipped', 'failed')),
    source          text NOT NULL DEFAULT '',
    counts          jsonb NOT NULL DEFAULT '{}',
    report          jsonb NOT NULL DEFAULT '[]'
);

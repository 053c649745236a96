-- Issued invoices and credit notes (issue 11). An invoice's content is frozen as a snapshot in
-- the transaction that allocates its number; the PDF is rendered from the snapshot only, by the
-- `invoices` worker, and recorded in invoice_document once stored.

CREATE TABLE invoice (
    id              bigserial PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    kind            varchar(12) NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    number          varchar(50) NOT NULL,
    -- The refund a credit note reverses (credit notes only).
    refund_id       bigint REFERENCES refund (id) ON DELETE CASCADE,
    -- The document's grand total.
    amount          numeric(12, 2) NOT NULL,
    issued_at       timestamptz NOT NULL,
    -- common::invoice::InvoiceDocument as JSON: everything the PDF prints.
    snapshot        jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT invoice_number_key UNIQUE (number),
    CONSTRAINT invoice_refund_key UNIQUE (refund_id),
    CONSTRAINT invoice_kind_refund CHECK ((kind = 'credit_note') = (refund_id IS NOT NULL))
);
-- One invoice per order; credit notes listed per order.
CREATE UNIQUE INDEX invoice_one_per_order ON invoice (order_id) WHERE kind = 'invoice';
CREATE INDEX invoice_order_idx ON invoice (order_id, id);

-- The stored PDF of an invoice or credit note (one per document: a second run stores nothing new).
CREATE TABLE invoice_document (
    invoice_id      bigint PRIMARY KEY REFERENCES invoice (id) ON DELETE CASCADE,
    order_id        bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    number          varchar(50) NOT NULL,
    -- common::media::PrivateFile key: a path under MEDIA_DIR/private/invoices or
    -- cloudinary:raw/<public id> (delivery type authenticated).
    storage_key     text NOT NULL,
    sha256          char(64) NOT NULL,
    bytes           integer NOT NULL CHECK (bytes > 0),
    rendered_at     timestamptz NOT NULL
);
CREATE INDEX invoice_document_order_idx ON invoice_document (order_id);

-- The credit notes' own gap-free series, per financial year.
CREATE TABLE credit_note_counter (
    fy_start_year   integer PRIMARY KEY,
    last_seq        bigint NOT NULL DEFAULT 0
);

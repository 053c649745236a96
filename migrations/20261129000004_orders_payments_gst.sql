-- Orders, payments and GST (API.md §6, §9.3–§9.5): billing and tax columns, the invoice series,
-- webhook events, refunds and the payment issues the admins must look at.

ALTER TABLE orders
    ADD COLUMN billing_name         varchar(200) NOT NULL DEFAULT '',
    ADD COLUMN billing_gstin        varchar(15),
    ADD COLUMN billing_state_code   varchar(2) NOT NULL DEFAULT '',
    ADD COLUMN billing_address      varchar(500) NOT NULL DEFAULT '',
    ADD COLUMN place_of_supply      varchar(60) NOT NULL DEFAULT '',
    ADD COLUMN taxable_amount       numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN cgst_amount          numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN sgst_amount          numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN igst_amount          numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN tax_amount           numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN invoice_number       varchar(50),
    ADD COLUMN invoice_date         timestamptz,
    -- When the reconciliation sweep last asked Razorpay about this order.
    ADD COLUMN reconciled_at        timestamptz,
    ADD CONSTRAINT orders_invoice_number_key UNIQUE (invoice_number);

-- Unpaid orders with a Razorpay order, the sweep's work list.
CREATE INDEX orders_unpaid_razorpay_idx ON orders (created_at)
    WHERE razorpay_order_id <> '' AND payment_completed_at IS NULL;

ALTER TABLE order_item
    ADD COLUMN hsn_sac          varchar(8) NOT NULL DEFAULT '',
    ADD COLUMN gst_rate         numeric(5, 2) NOT NULL DEFAULT 0,
    ADD COLUMN taxable_amount   numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN tax_amount       numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN cgst_amount      numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN sgst_amount      numeric(10, 2) NOT NULL DEFAULT 0,
    ADD COLUMN igst_amount      numeric(10, 2) NOT NULL DEFAULT 0;

-- A Razorpay payment is applied to an order once: one PaymentRecord per payment id.
CREATE UNIQUE INDEX payment_record_razorpay_payment_key ON payment_record (payment_reference)
    WHERE payment_method = 'razorpay';

-- The last invoice sequence number of each financial year (1 April–31 March, IST). The row is
-- locked by the transaction that allocates a number, so numbers are consecutive and gap-free.
CREATE TABLE invoice_counter (
    fy_start_year   integer PRIMARY KEY,
    last_seq        bigint NOT NULL DEFAULT 0
);

-- Razorpay webhook deliveries, deduplicated by event id.
CREATE TABLE payment_event (
    id              bigserial PRIMARY KEY,
    event_id        varchar(100) NOT NULL,
    event           varchar(60) NOT NULL,
    payload         jsonb NOT NULL,
    outcome         varchar(200) NOT NULL DEFAULT '',
    received_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_event_event_id_key UNIQUE (event_id)
);

CREATE TABLE refund (
    id                  bigserial PRIMARY KEY,
    order_id            bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    amount              numeric(10, 2) NOT NULL CHECK (amount > 0),
    method              varchar(10) NOT NULL CHECK (method IN ('razorpay', 'manual')),
    razorpay_payment_id varchar(100),
    razorpay_refund_id  varchar(100),
    -- Sent as X-Refund-Idempotency, so a retried call never refunds twice.
    idempotency_key     varchar(64) NOT NULL,
    status              varchar(10) NOT NULL CHECK (status IN ('pending', 'processed', 'failed')),
    reason              varchar(500) NOT NULL DEFAULT '',
    failure_reason      varchar(500) NOT NULL DEFAULT '',
    created_by_id       bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at          timestamptz NOT NULL DEFAULT now(),
    processed_at        timestamptz,
    CONSTRAINT refund_razorpay_refund_id_key UNIQUE (razorpay_refund_id),
    CONSTRAINT refund_idempotency_key_key UNIQUE (idempotency_key)
);
CREATE INDEX refund_order_idx ON refund (order_id, created_at DESC);
CREATE INDEX refund_pending_idx ON refund (created_at) WHERE status = 'pending' AND method = 'razorpay';

-- Payments that arrived but could not simply be applied (a cancelled order, a wrong amount, a
-- second payment for a paid order). Each is recorded once and the admins are notified.
CREATE TABLE payment_issue (
    id                  bigserial PRIMARY KEY,
    order_id            bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    razorpay_payment_id varchar(100) NOT NULL,
    kind                varchar(30) NOT NULL,
    amount              numeric(10, 2) NOT NULL,
    detected_by         varchar(20) NOT NULL,
    details             jsonb NOT NULL DEFAULT '{}',
    created_at          timestamptz NOT NULL DEFAULT now(),
    resolved_at         timestamptz,
    CONSTRAINT payment_issue_payment_kind_key UNIQUE (razorpay_payment_id, kind)
);
CREATE INDEX payment_issue_order_idx ON payment_issue (order_id);

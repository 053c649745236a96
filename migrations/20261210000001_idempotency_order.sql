-- The order a checkout made under an `Idempotency-Key`, written in the order's own transaction.
-- When the answer is lost after the commit (the read-back or the storing of the answer failed,
-- or the process died), a retry with the same key answers with this order instead of running
-- the checkout again ("Cart is empty"). Cleared when the key expires and is reused.
ALTER TABLE idempotency_key ADD COLUMN order_id bigint REFERENCES orders (id) ON DELETE SET NULL;

-- Review fixes (items 7 and 8): refunds are counted per Razorpay payment, and the payment sweep
-- polls each unpaid order with back-off instead of every minute.

-- Each Razorpay refund is made against one payment; what a payment has left to refund is its
-- amount minus its pending and processed refunds, summed by payment id.
CREATE INDEX refund_razorpay_payment_idx ON refund (razorpay_payment_id) WHERE razorpay_payment_id IS NOT NULL;

-- The sweep's back-off: how many times it asked Razorpay about the order, and when it may ask
-- next (NULL: at once; 'infinity': never again, the order is past the sweep's 30-day horizon).
ALTER TABLE orders
    ADD COLUMN reconcile_checks integer NOT NULL DEFAULT 0,
    ADD COLUMN reconcile_due_at timestamptz;

-- Unpaid orders already past the horizon are never looked at again.
UPDATE orders SET reconcile_due_at = 'infinity'
WHERE razorpay_order_id <> '' AND payment_completed_at IS NULL AND created_at <= now() - interval '30 days';

-- The sweep's work list in its order: due first (never checked, then earliest due), then oldest.
CREATE INDEX orders_reconcile_due_idx ON orders (reconcile_due_at ASC NULLS FIRST, created_at)
    WHERE razorpay_order_id <> '' AND payment_completed_at IS NULL;

-- Analytics (API.md §4.10, §7.8) that stay fast at millions of orders.
--
-- Four rollups by Asia/Kolkata day hold exactly what the figures sum, kept by triggers in the
-- transaction that changes an order or an order line, so they are exact at every commit:
--   analytics_paid_day     paid orders (status ready_for_processing … completed with
--                          payment_completed_at set) by the day of payment_completed_at;
--   analytics_product_day  the lines of those orders, per product;
--   analytics_created_day  every order by the day of created_at, per status and paid flag;
--   analytics_staff_day    assigned orders by the day of updated_at, per assignee and
--                          completed flag.
-- Triggers only insert rows (+1 for the new state, −1 for the old), so concurrent payments never
-- wait on a shared row; analytics_compact() folds the rows of each key into one, and queries sum
-- whatever rows a day has. Parts of a day at the ends of a range are read from the orders.

CREATE TABLE analytics_paid_day (
    day         date NOT NULL,
    orders      bigint NOT NULL,
    revenue     numeric(16, 2) NOT NULL
);
CREATE INDEX analytics_paid_day_idx ON analytics_paid_day (day);

CREATE TABLE analytics_product_day (
    day             date NOT NULL,
    product_type    varchar(20) NOT NULL,
    product_id      bigint NOT NULL,
    quantity        bigint NOT NULL,
    revenue         numeric(16, 2) NOT NULL
);
CREATE INDEX analytics_product_day_idx ON analytics_product_day (day);

CREATE TABLE analytics_created_day (
    day         date NOT NULL,
    status      varchar(30) NOT NULL,
    paid        boolean NOT NULL,
    orders      bigint NOT NULL
);
CREATE INDEX analytics_created_day_idx ON analytics_created_day (day);

CREATE TABLE analytics_staff_day (
    day         date NOT NULL,
    staff_id    bigint NOT NULL,
    completed   boolean NOT NULL,
    orders      bigint NOT NULL
);
CREATE INDEX analytics_staff_day_idx ON analytics_staff_day (day);

-- The ends of a range, read from the orders themselves.
CREATE INDEX orders_paid_at_idx ON orders (payment_completed_at) INCLUDE (total_amount, id)
    WHERE payment_completed_at IS NOT NULL
      AND status IN ('ready_for_processing', 'assigned', 'in_progress', 'completed');
CREATE INDEX orders_created_at_idx ON orders (created_at) INCLUDE (status, payment_completed_at);
CREATE INDEX orders_assigned_updated_idx ON orders (updated_at) INCLUDE (assigned_to_id, status)
    WHERE assigned_to_id IS NOT NULL;
-- Covering index so the lines of a range's paid orders are read without visiting the heap.
CREATE INDEX order_item_order_product_idx ON order_item (order_id)
    INCLUDE (product_type, product_id, quantity, price);

CREATE FUNCTION analytics_day(t timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (t AT TIME ZONE 'Asia/Kolkata')::date $$;

CREATE FUNCTION analytics_paid(status text, paid_at timestamptz) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT paid_at IS NOT NULL
              AND status IN ('ready_for_processing', 'assigned', 'in_progress', 'completed') $$;

-- One order's contribution, added (sign 1) or taken back (sign -1): to the orders by creation day
-- when `created`, to the paid orders when `paid`, and its lines when `lines` (a new order's lines
-- arrive by their own trigger), to its assignee's orders when `staff`.
CREATE FUNCTION analytics_order_delta(o orders, sign integer, created boolean, paid boolean, lines boolean,
                                      staff boolean)
    RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF staff AND o.assigned_to_id IS NOT NULL THEN
        INSERT INTO analytics_staff_day (day, staff_id, completed, orders)
        VALUES (analytics_day(o.updated_at), o.assigned_to_id, o.status = 'completed', sign);
    END IF;
    IF created THEN
        INSERT INTO analytics_created_day (day, status, paid, orders)
        VALUES (analytics_day(o.created_at), o.status, o.payment_completed_at IS NOT NULL, sign);
    END IF;
    IF paid AND analytics_paid(o.status, o.payment_completed_at) THEN
        INSERT INTO analytics_paid_day (day, orders, revenue)
        VALUES (analytics_day(o.payment_completed_at), sign, sign * o.total_amount);
        IF lines THEN
            INSERT INTO analytics_product_day (day, product_type, product_id, quantity, revenue)
            SELECT analytics_day(o.payment_completed_at), i.product_type, i.product_id,
                   sign * sum(i.quantity), sign * sum(i.price * i.quantity)
            FROM order_item i WHERE i.order_id = o.id
            GROUP BY i.product_type, i.product_id;
        END IF;
    END IF;
END $$;

CREATE FUNCTION analytics_orders_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    created boolean;
    paid boolean;
    staff boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM analytics_order_delta(NEW, 1, true, true, false, true);
        RETURN NULL;
    ELSIF TG_OP = 'UPDATE' THEN
        created := (analytics_day(OLD.created_at), OLD.status, OLD.payment_completed_at IS NOT NULL)
            IS DISTINCT FROM (analytics_day(NEW.created_at), NEW.status, NEW.payment_completed_at IS NOT NULL);
        paid := (analytics_paid(OLD.status, OLD.payment_completed_at), analytics_day(OLD.payment_completed_at),
                 OLD.total_amount)
            IS DISTINCT FROM (analytics_paid(NEW.status, NEW.payment_completed_at),
                              analytics_day(NEW.payment_completed_at), NEW.total_amount);
        staff := (analytics_day(OLD.updated_at), OLD.assigned_to_id, OLD.status = 'completed')
            IS DISTINCT FROM (analytics_day(NEW.updated_at), NEW.assigned_to_id, NEW.status = 'completed');
        PERFORM analytics_order_delta(OLD, -1, created, paid, true, staff);
        PERFORM analytics_order_delta(NEW, 1, created, paid, true, staff);
        RETURN NULL;
    END IF;
    -- BEFORE DELETE: the lines are still there (the cascade removes them after).
    PERFORM analytics_order_delta(OLD, -1, true, true, true, true);
    RETURN OLD;
END $$;

CREATE TRIGGER orders_analytics_insert AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION analytics_orders_changed();
CREATE TRIGGER orders_analytics_update AFTER UPDATE ON orders
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.payment_completed_at IS DISTINCT FROM NEW.payment_completed_at
          OR OLD.total_amount IS DISTINCT FROM NEW.total_amount
          OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.assigned_to_id IS DISTINCT FROM NEW.assigned_to_id
          OR OLD.updated_at IS DISTINCT FROM NEW.updated_at)
    EXECUTE FUNCTION analytics_orders_changed();
CREATE TRIGGER orders_analytics_delete BEFORE DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION analytics_orders_changed();

-- A line added to, changed in or removed from a paid order. Lines removed with their order (the
-- cascade) find no order any more: the order's own trigger took them back.
CREATE FUNCTION analytics_items_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO analytics_product_day (day, product_type, product_id, quantity, revenue)
        SELECT analytics_day(o.payment_completed_at), OLD.product_type, OLD.product_id,
               -OLD.quantity, -(OLD.price * OLD.quantity)
        FROM orders o
        WHERE o.id = OLD.order_id AND analytics_paid(o.status, o.payment_completed_at);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO analytics_product_day (day, product_type, product_id, quantity, revenue)
        SELECT analytics_day(o.payment_completed_at), NEW.product_type, NEW.product_id,
               NEW.quantity, NEW.price * NEW.quantity
        FROM orders o
        WHERE o.id = NEW.order_id AND analytics_paid(o.status, o.payment_completed_at);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER order_item_analytics_insert AFTER INSERT ON order_item
    FOR EACH ROW EXECUTE FUNCTION analytics_items_changed();
CREATE TRIGGER order_item_analytics_update AFTER UPDATE ON order_item
    FOR EACH ROW
    WHEN (OLD.order_id IS DISTINCT FROM NEW.order_id
          OR OLD.product_type IS DISTINCT FROM NEW.product_type
          OR OLD.product_id IS DISTINCT FROM NEW.product_id
          OR OLD.quantity IS DISTINCT FROM NEW.quantity
          OR OLD.price IS DISTINCT FROM NEW.price)
    EXECUTE FUNCTION analytics_items_changed();
CREATE TRIGGER order_item_analytics_delete AFTER DELETE ON order_item
    FOR EACH ROW EXECUTE FUNCTION analytics_items_changed();

-- Folds each key's rows into one (zero rows dropped). Rows inserted meanwhile are not in the
-- DELETE's snapshot and stay as they are, so the sums never change.
CREATE FUNCTION analytics_compact() RETURNS void
    LANGUAGE sql AS $$
    WITH gone AS (DELETE FROM analytics_paid_day RETURNING *)
    INSERT INTO analytics_paid_day (day, orders, revenue)
    SELECT day, sum(orders), sum(revenue) FROM gone GROUP BY day
    HAVING sum(orders) <> 0 OR sum(revenue) <> 0;
    WITH gone AS (DELETE FROM analytics_product_day RETURNING *)
    INSERT INTO analytics_product_day (day, product_type, product_id, quantity, revenue)
    SELECT day, product_type, product_id, sum(quantity), sum(revenue) FROM gone
    GROUP BY day, product_type, product_id
    HAVING sum(quantity) <> 0 OR sum(revenue) <> 0;
    WITH gone AS (DELETE FROM analytics_created_day RETURNING *)
    INSERT INTO analytics_created_day (day, status, paid, orders)
    SELECT day, status, paid, sum(orders) FROM gone GROUP BY day, status, paid
    HAVING sum(orders) <> 0;
    WITH gone AS (DELETE FROM analytics_staff_day RETURNING *)
    INSERT INTO analytics_staff_day (day, staff_id, completed, orders)
    SELECT day, staff_id, completed, sum(orders) FROM gone GROUP BY day, staff_id, completed
    HAVING sum(orders) <> 0;
$$;

-- Builds the rollups again from the orders (after a bulk load with triggers off, or an import).
-- Writers wait for it: the orders and their lines are locked against changes meanwhile.
CREATE FUNCTION analytics_rebuild() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE orders, order_item IN SHARE MODE;
    DELETE FROM analytics_paid_day;
    DELETE FROM analytics_product_day;
    DELETE FROM analytics_created_day;
    DELETE FROM analytics_staff_day;
    INSERT INTO analytics_paid_day (day, orders, revenue)
    SELECT analytics_day(payment_completed_at), count(*), sum(total_amount)
    FROM orders WHERE analytics_paid(status, payment_completed_at)
    GROUP BY 1;
    INSERT INTO analytics_product_day (day, product_type, product_id, quantity, revenue)
    SELECT analytics_day(o.payment_completed_at), i.product_type, i.product_id,
           sum(i.quantity), sum(i.price * i.quantity)
    FROM orders o JOIN order_item i ON i.order_id = o.id
    WHERE analytics_paid(o.status, o.payment_completed_at)
    GROUP BY 1, 2, 3;
    INSERT INTO analytics_created_day (day, status, paid, orders)
    SELECT analytics_day(created_at), status, payment_completed_at IS NOT NULL, count(*)
    FROM orders GROUP BY 1, 2, 3;
    INSERT INTO analytics_staff_day (day, staff_id, completed, orders)
    SELECT analytics_day(updated_at), assigned_to_id, status = 'completed', count(*)
    FROM orders WHERE assigned_to_id IS NOT NULL GROUP BY 1, 2, 3;
END $$;

-- Orders already stored.
SELECT analytics_rebuild();

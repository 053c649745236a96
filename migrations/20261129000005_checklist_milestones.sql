-- Order checklists (API.md §7.1, §7.5, §7.7): the progress thresholds already announced, and the
-- indexes the checklist's foreign keys want.

-- One row per (order, threshold) whose `progress_update` notification was sent. Ticks insert with
-- ON CONFLICT DO NOTHING and notify only for the rows they inserted, so each threshold is
-- announced once per order, even under concurrent ticks and after unticking and ticking again.
CREATE TABLE order_checklist_milestone (
    id              bigserial PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    threshold       smallint NOT NULL CHECK (threshold IN (25, 50, 75, 100)),
    notified_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT order_checklist_milestone_order_threshold_key UNIQUE (order_id, threshold)
);

-- Deleting a template item checks `checklist_item_template_item_id_fkey` (RESTRICT); deleting a
-- user nulls `completed_by_id`. Both look the referencing items up by these columns.
CREATE INDEX checklist_item_template_item_idx ON checklist_item (template_item_id) WHERE template_item_id IS NOT NULL;
CREATE INDEX checklist_item_completed_by_idx ON checklist_item (completed_by_id) WHERE completed_by_id IS NOT NULL;

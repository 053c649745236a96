-- GST fields of products (API.md §9.5) and the catalogue version that keys the Redis cache.

ALTER TABLE package
    ADD COLUMN hsn_sac varchar(8) NOT NULL DEFAULT '',
    ADD COLUMN gst_rate numeric(5, 2) NOT NULL DEFAULT 18 CHECK (gst_rate >= 0 AND gst_rate <= 100);
ALTER TABLE campaign
    ADD COLUMN hsn_sac varchar(8) NOT NULL DEFAULT '',
    ADD COLUMN gst_rate numeric(5, 2) NOT NULL DEFAULT 18 CHECK (gst_rate >= 0 AND gst_rate <= 100);

-- Bumped in the transaction of every catalogue change. Cached public reads are keyed by it, so a
-- change is visible on the very next request even if Redis missed an invalidation.
CREATE TABLE catalog_version (
    id          boolean PRIMARY KEY DEFAULT true CHECK (id),
    version     bigint NOT NULL DEFAULT 1
);
INSERT INTO catalog_version (id, version) VALUES (true, 1);

CREATE INDEX package_public_idx ON package (popular_order, created_at DESC, id DESC) WHERE is_active;
CREATE INDEX campaign_public_idx ON campaign (popular_order, created_at DESC, id DESC) WHERE is_active;

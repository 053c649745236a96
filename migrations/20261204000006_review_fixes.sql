-- Fixes from the security and queue-safety review (issue 9).

-- One phone number in any of its written forms ("9447000001", "+919447000001",
-- "+91 94470 00001", "09447000001") has one key: E.164 with +91 for ten-digit Indian numbers.
-- Manual orders find their customer by it, so a differently written number of a staff account
-- is still recognised.
CREATE FUNCTION phone_key(raw text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN d = '' THEN NULL
        WHEN plus THEN '+' || d
        WHEN left(d, 2) = '00' THEN '+' || substr(d, 3)
        WHEN length(d) = 10 THEN '+91' || d
        WHEN length(d) = 11 AND left(d, 1) = '0' THEN '+91' || substr(d, 2)
        WHEN length(d) = 12 AND left(d, 2) = '91' THEN '+' || d
        ELSE d
    END
    FROM (SELECT regexp_replace(raw, '[^0-9]', '', 'g') AS d, ltrim(raw) LIKE '+%' AS plus) AS s
$$;

CREATE INDEX users_phone_key_idx ON users (phone_key(phone_number)) WHERE phone_number IS NOT NULL;

-- Reset links are derived (HMAC with the signing secret) from a random salt kept here, so the
-- emails worker builds the link from the token row's id and no job payload or Redis entry ever
-- holds the token. Rows from before have no salt: their links were already sent.
ALTER TABLE password_reset_token ADD COLUMN salt bytea;

-- Reset links that older releases wrote into job payloads are removed from finished jobs.
UPDATE job SET payload = payload #- '{context,reset_url}'
WHERE kind = 'send_email' AND payload->>'template' = 'password_reset' AND status IN ('done', 'failed', 'dead');

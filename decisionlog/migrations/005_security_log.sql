-- The user's security log (GET /v1/users/:id/security-log) is a projection of the decisions table,
-- not a table of its own: every field it shows is in the decision row already (time, type,
-- decision, country, and the browser and OS in `request`) or added here, so an entry costs a
-- decision only these columns, the per-user query is the (user_h, at, id) index scan decisions
-- already have, and the retention (day partitions dropped) and the user's erasure (DELETE by
-- user_h) apply to it without a second writer, index or delete. All three columns are NULL for
-- most rows (no city known, no change, no notice): a NULL costs one bit in the row's null map.
ALTER TABLE decisions ADD COLUMN city text;              -- GeoIP city name, English
ALTER TABLE decisions ADD COLUMN change text;            -- account_change events: what changed
ALTER TABLE decisions ADD COLUMN notices jsonb;          -- notice codes of the answer, in order

-- What the security log may show: coarse fields only (no address, prefix, device, or rule).
CREATE VIEW security_log AS
  SELECT user_h, at, id, type, change, decision, country, city,
         request->>'browser' AS browser, request->>'os' AS os, notices
    FROM decisions;

-- The rule overrides (PUT /v1/overrides) that changed a decision: the names of the overridden rules
-- whose condition matched. NULL when none did (most rows): a NULL costs one bit in the row's null map.
ALTER TABLE decisions ADD COLUMN overrides jsonb;

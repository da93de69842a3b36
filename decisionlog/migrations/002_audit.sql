-- The audit log: one row per admin change (pack, shadow pack, list, override, counters, erasure,
-- model reload), kept beside the decisions and under the same retention (decisionlog/audit.ts
-- deletes rows past it at maintenance). Admin changes are few: a plain table with one index on time
-- and one on (action, time) serves every query. No row holds a raw user id, device id or address.
CREATE TABLE audit (
  at      timestamptz NOT NULL,
  seq     bigserial   NOT NULL,
  by      text        NOT NULL,
  action  text        NOT NULL,
  reason  text,
  details jsonb       NOT NULL,
  PRIMARY KEY (at, seq)
);

CREATE INDEX audit_action ON audit (action, at);

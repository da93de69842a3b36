-- The decision log: one row per answered decision, partitioned by UTC day on `at` (partitions are
-- created ahead and dropped past the retention by decisionlog/partitions.ts, not here). Runs with
-- search_path set to the log's schema. No raw user id, device id or address is stored: users,
-- devices and addresses are keyed hashes, `prefix` is at most a /24 or /48.
--
-- Fixed-width columns come first so rows pack without alignment padding.
CREATE TABLE decisions (
  at            timestamptz      NOT NULL,  -- event time; equals the id's ULID time
  id            uuid             NOT NULL,  -- the decision's ULID, as its 128 bits
  score         double precision NOT NULL,
  asn           bigint,
  pack_version  integer          NOT NULL,
  decision      smallint         NOT NULL,  -- 0 allow, 1 step_up, 2 block
  degraded      boolean          NOT NULL,
  type          text             NOT NULL,
  user_h        text             NOT NULL,
  device_h      text,
  ip_h          text             NOT NULL,
  prefix        cidr,
  country       text,
  pack_name     text             NOT NULL,
  pack_hash     text             NOT NULL,
  model_version text,
  rules         jsonb            NOT NULL,  -- [{name, action, score, tags}]
  shadow        jsonb            NOT NULL,
  features      jsonb            NOT NULL,  -- as evaluated
  ctx           jsonb            NOT NULL,  -- the signal store's EventContext (hashes only)
  request       jsonb            NOT NULL,  -- non-identifying request extras
  PRIMARY KEY (at, id)
) PARTITION BY RANGE (at);

-- A user's decisions, newest first (and erasure).
CREATE INDEX decisions_user ON decisions (user_h, at, id);

-- One row per live rule hit: a rule's recent hits are a short backward range scan of
-- (rule, at, id), where a GIN over the rule names could only produce every hit of the day unordered.
CREATE TABLE decision_rules (
  at   timestamptz NOT NULL,
  id   uuid        NOT NULL,
  rule text        NOT NULL,
  PRIMARY KEY (rule, at, id)
) PARTITION BY RANGE (at);

-- Outcomes arrive later; a narrow insert-only table (first outcome wins through the key) instead of
-- rewriting a wide decision row per outcome.
CREATE TABLE decision_outcomes (
  at         timestamptz NOT NULL,
  id         uuid        NOT NULL,
  outcome    smallint    NOT NULL,  -- 0 succeeded, 1 failed, 2 challenge_passed, 3 challenge_failed
  outcome_at timestamptz NOT NULL,
  -- Covering: a page of decisions finds its outcomes with index-only scans.
  PRIMARY KEY (at, id) INCLUDE (outcome, outcome_at)
) PARTITION BY RANGE (at);

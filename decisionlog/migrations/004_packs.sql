-- The rule packs' durable home (decisionlog/packs.ts), beside the audit log: the pack history
-- (append-only, newest = highest seq, capped by the writer), the files of every pack the history
-- names, every hash ever activated, the shadow pack and the rule overrides. Redis then only
-- announces changes and keeps a copy of the head, so losing Redis's data no longer changes which
-- pack runs. Writers serialize on a transaction-scoped advisory lock (push compares the head,
-- rollback checks the head's id), which holds across every instance sharing the database.
CREATE TABLE pack_history (
  seq   bigserial PRIMARY KEY,
  id    text      NOT NULL UNIQUE,
  hash  text      NOT NULL,
  entry jsonb     NOT NULL
);

CREATE TABLE pack_files (
  hash  text  PRIMARY KEY,
  files jsonb NOT NULL,
  root  text  NOT NULL
);

CREATE TABLE pack_seen (
  hash text PRIMARY KEY
);

-- At most one row: the shadow pack's entry and its files, replaced together.
CREATE TABLE pack_shadow (
  slot  smallint PRIMARY KEY CHECK (slot = 1),
  id    text     NOT NULL,
  entry jsonb    NOT NULL,
  files jsonb    NOT NULL,
  root  text     NOT NULL
);

CREATE TABLE pack_overrides (
  rule text  PRIMARY KEY,
  body jsonb NOT NULL
);

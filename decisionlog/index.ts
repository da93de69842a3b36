// The decision log's public surface (issue 13): every answered decision stored in PostgreSQL (or an
// embedded PGlite when no URL is given) without raw identifiers, written off the answer's path by a
// bounded queue, spooled to local disk while the database is away, searchable, erasable per user,
// and readable in time order for replay and training. See docs/decision-log.md.
export type {
  Decision,
  DecisionLog,
  DecisionLogLogger,
  DecisionLogOptions,
  DecisionLogStats,
  FeatureValue,
  LogRow,
  Outcome,
  RuleHitRow,
  SearchPage,
  SearchQuery,
  SecurityLogEntry,
  SecurityLogPage,
  SecurityLogQuery,
} from './types.ts';
export { createDecisionLog } from './log.ts';
export type { AuditRecord, AuditStore } from './audit.ts';
export type { PackEntryJson, PackFilesJson, PackImport, PackOverrideJson, PackStore } from './packs.ts';
export { DECISION_LOG_ERRORS, DecisionLogError, type DecisionLogErrorCode } from './errors.ts';
export { migrate, loadMigrations, MIGRATIONS_DIR, type Migration } from './migrate.ts';
export { checkPrefix, normalizeUlid, RAW_FEATURES, ulidTime } from './row.ts';

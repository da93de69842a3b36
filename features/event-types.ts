// The event types Vigil judges (features.md `event.type`), apart from the registry so that a caller
// that only needs the names (the CLI's help) loads nothing else.
export const EVENT_TYPES = ['login', 'recovery', 'account_change'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The kinds of `account_change` (features.md § Sensitive actions: `event.change`). */
export const CHANGE_KINDS = ['password', 'email', 'mfa_add', 'mfa_remove', 'recovery_method'] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

// The event types Vigil judges (features.md `event.type`), apart from the registry so that a caller
// that only needs the names (the CLI's help) loads nothing else.
export const EVENT_TYPES = ['login', 'recovery'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

// The notice catalogue (dsl.md §7): the codes a rule may name with `notice CODE`, each with the one
// English message the answer carries. The messages are written for the account's owner and name
// nothing of the pack (no rule, threshold, score or feature): attackers read them too. They speak of
// "this request", not "this sign-in": the same rule can match a sign-in, a recovery or a change. The checker
// refuses any other code (E_NOTICE); the compiled pack renders matched rules' codes through here.
export const NOTICES = {
  new_device: 'This request came from a device we have not seen on your account before.',
  new_location: 'This request came from a location we have not seen on your account before.',
  unusual_travel: 'This request came from a place far from where you signed in recently.',
  many_failed_attempts: 'There were several unsuccessful attempts to access your account recently.',
  anonymizer: 'This request came through a service that hides where it comes from, such as a VPN or proxy.',
  recent_recovery: 'Your account was recovered recently, so we are taking extra care with changes.',
  session_moved: 'This request came from a different network, place or device than the sign-in that started the session.',
  sensitive_change: 'A change to your account security settings needs extra confirmation.',
} as const satisfies Record<string, string>;

export type NoticeCode = keyof typeof NOTICES;

export const NOTICE_CODES: readonly NoticeCode[] = Object.freeze(Object.keys(NOTICES) as NoticeCode[]);

export function isNoticeCode(code: string): code is NoticeCode {
  return Object.prototype.hasOwnProperty.call(NOTICES, code);
}

/** One notice of an answer: the code and its catalogue message. */
export interface Notice {
  readonly code: NoticeCode;
  readonly message: string;
}

const NOTICE_OBJECTS: ReadonlyMap<NoticeCode, Notice> = new Map(
  NOTICE_CODES.map((code) => [code, Object.freeze({ code, message: NOTICES[code] })]),
);

/** The one shared, frozen notice of a code (so an answer's notices compare by identity). */
export function noticeOf(code: NoticeCode): Notice {
  return NOTICE_OBJECTS.get(code) as Notice;
}

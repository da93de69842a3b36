// What the record stage keeps for the user's security log besides the decision row's own fields: an
// account_change event's `change` and the answer's notice codes, read by shape (the event and the
// answer carry them only when the request and the pack use them), and only as words the decision
// log accepts, so a malformed value costs the field, never the decision's row.
import { describe, expect, it } from 'vitest';
import { securityFieldsOf } from '../../engine/stages/record.ts';

describe('securityFieldsOf', () => {
  it('keeps the change and the notice codes, in order, each once', () => {
    const ev = { type: 'account_change', change: 'mfa_remove' };
    const result = {
      notices: [
        { code: 'session_moved', message: 'A change came from another network than the sign-in.' },
        { code: 'sensitive_change', message: '…' },
        { code: 'session_moved', message: '…' },
      ],
    };
    expect(securityFieldsOf(ev, result)).toEqual({ change: 'mfa_remove', notices: ['session_moved', 'sensitive_change'] });
  });

  it('treats an absent change or notices as none', () => {
    expect(securityFieldsOf({ type: 'login' }, { decision: 'allow' })).toEqual({});
    expect(securityFieldsOf({ type: 'login', change: undefined }, { notices: [] })).toEqual({});
  });

  it('drops values the log would refuse instead of losing the row', () => {
    const ev = { change: 'Password; DROP TABLE' };
    const result = { notices: [{ code: 'New Device' }, { message: 'no code' }, null, 7, { code: 'x'.repeat(40) }, { code: 'new_device' }] };
    expect(securityFieldsOf(ev, result)).toEqual({ notices: ['new_device'] });
    expect(securityFieldsOf({ change: 42 }, { notices: 'new_device' })).toEqual({});
  });
});

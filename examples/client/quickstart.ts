// One sign-in checked through the typed client (the README shows this file; the tests run it).
import { createClient } from 'vigil/client';

const vigil = createClient({
  url: process.env.VIGIL_URL ?? 'http://127.0.0.1:8080',
  token: process.env.VIGIL_API_TOKEN, // unset: the evaluate API is open
  timeoutMs: 1000,
  onUnavailable: 'closed', // Vigil down or failing: a synthetic step_up (docs/client.md)
});

const verdict = await vigil.evaluate({
  type: 'login',
  user: { id: 'u-123', created_at: '2024-01-05T10:00:00Z', mfa: true },
  ip: '81.2.69.142',
  device: { id: 'd-9f2c', user_agent: 'Mozilla/5.0' },
});
console.log(verdict.decision, verdict.unavailable ? `(fallback: ${verdict.reason})` : verdict.rules.map((r) => r.name));
// After the password (and any challenge): what happened, so Vigil learns from it.
if (!verdict.unavailable) await vigil.outcome(verdict.decision_id, 'succeeded');

// `vigil counters clear --ip A --user U [--subnet]`: a false positive's undo on a running server
// (DELETE /v1/counters): the velocity and failure counters of that address (with --subnet, the
// failures of its /24 or IPv6 /48 too) and of that user. The address and the user id travel in
// the request body only. Arguments are declared in cli/main.ts.
import { UsageError } from '../args.ts';
import type { CliIO } from '../io.ts';
import { adminContext, EXIT_OK, printJson, request, runAdmin, type AdminOptions, type Env } from './client.ts';

export interface CountersOptions extends AdminOptions {
  readonly ip?: string;
  readonly user?: string;
  readonly subnet?: boolean;
  readonly reason?: string;
}

export async function countersClear(o: CountersOptions, io: CliIO, env: Env): Promise<number> {
  if (o.ip === undefined && o.user === undefined) throw new UsageError('give --ip, --user or both');
  if (o.subnet === true && o.ip === undefined) throw new UsageError('--subnet goes with --ip');
  const ctx = adminContext('vigil counters clear', o, io, env);
  return runAdmin(ctx, async () => {
    const ans = await request<{ cleared: number }>(ctx, 'DELETE', '/v1/counters', {
      body: {
        ...(o.ip !== undefined ? { ip: o.ip } : {}),
        ...(o.subnet === true ? { subnet: true } : {}),
        ...(o.user !== undefined ? { user: o.user } : {}),
        ...(o.reason !== undefined ? { reason: o.reason } : {}),
      },
    });
    if (ctx.json) printJson(ctx, ans);
    else {
      const whose = [o.ip !== undefined ? `address${o.subnet === true ? ' and its subnet' : ''}` : '', o.user !== undefined ? 'user' : ''].filter((w) => w !== '').join(' and ');
      io.stdout(`cleared ${ans.cleared} counter ${ans.cleared === 1 ? 'key' : 'keys'} of that ${whose}\n`);
    }
    return EXIT_OK;
  });
}

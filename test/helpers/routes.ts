// Every route an Express app serves, walked from its router (Express 5: `app.router`), for tests
// that must cover all of them: the admin guard's, and SECURITY.md's list of who reaches what.
import type { Express } from 'express';

export interface RouteInfo {
  readonly path: string;
  readonly methods: readonly string[];
}

interface Layer {
  readonly route?: { readonly path: string | readonly string[]; readonly methods: Record<string, boolean> };
  readonly handle?: { readonly stack?: readonly Layer[] };
}

export function routesOf(app: Express): RouteInfo[] {
  const out: RouteInfo[] = [];
  const walk = (stack: readonly Layer[]): void => {
    for (const layer of stack) {
      if (layer.route) {
        const route = layer.route;
        const paths = typeof route.path === 'string' ? [route.path] : route.path;
        const methods = Object.keys(route.methods).filter((m) => route.methods[m] === true);
        for (const path of paths) out.push({ path, methods });
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app as unknown as { router: { stack: readonly Layer[] } }).router.stack);
  return out;
}

/** Routes that need no admin token; everything else the app serves is an admin route. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  '/v1/evaluate',
  '/v1/outcome',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/console',
  '/console/',
  '/console/console.js',
  '/console/console.css',
]);

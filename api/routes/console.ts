// The console (/console): the analyst's and responder's browser UI over the admin API. This route
// only serves its three static files, read once from the package's console/ folder (assetPath:
// they are not compiled, so dist/ does not hold them). They hold no data and are served without a
// token; every call they make to the admin API carries the token the user typed in. Served only
// when VIGIL_ADMIN_TOKEN is set, like every admin surface.
//
// The CSP forbids inline script and style and any origin but this one; `form-action 'none'` means
// a form can never be submitted by the browser itself, so the token cannot leak into a URL even if
// the script failed to load.
import { readFileSync } from 'node:fs';
import { Router, type Response } from 'express';
import { assetPath } from '../../common/paths.ts';

export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

const FILES = {
  'index.html': 'text/html; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
} as const;
type ConsoleFile = keyof typeof FILES;

export function consoleRoutes(d: { readonly adminToken: string | undefined }): Router {
  const r = Router();
  if (d.adminToken === undefined) return r;
  const body = new Map<ConsoleFile, Buffer>();
  for (const name of Object.keys(FILES) as ConsoleFile[]) body.set(name, readFileSync(assetPath('console', name)));

  const send = (res: Response, name: ConsoleFile): void => {
    res.setHeader('Content-Type', FILES[name]);
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.send(body.get(name));
  };

  r.get(['/console', '/console/'], (_req, res) => send(res, 'index.html'));
  r.get('/console/console.js', (_req, res) => send(res, 'console.js'));
  r.get('/console/console.css', (_req, res) => send(res, 'console.css'));
  return r;
}

// GET /openapi.json: the API's OpenAPI 3.1 description (api/openapi.ts), built on the first request
// and kept. Public like /healthz (it describes shapes, never a secret); without VIGIL_ADMIN_TOKEN it
// leaves out the admin operations, which this instance does not serve. The generator (and
// zod-openapi) is imported on that first request, not at start: most instances never serve it.
import { Router } from 'express';

export function openApiRoutes(d: { readonly admin: boolean }): Router {
  const r = Router();
  let body: Promise<string> | undefined;
  r.get('/openapi.json', async (_req, res) => {
    body ??= import('../openapi.ts').then((m) => JSON.stringify(m.openApiDocument({ admin: d.admin })));
    let text: string;
    try {
      text = await body;
    } catch (err) {
      body = undefined;
      throw err;
    }
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.send(text);
  });
  return r;
}

// GET /openapi.json: the API's OpenAPI 3.1 description (api/openapi.ts), built on the first request
// and kept. Public like /healthz (it describes shapes, never a secret); without VIGIL_ADMIN_TOKEN it
// leaves out the admin operations, which this instance does not serve.
import { Router } from 'express';
import { openApiDocument } from '../openapi.ts';

export function openApiRoutes(d: { readonly admin: boolean }): Router {
  const r = Router();
  let body: string | undefined;
  r.get('/openapi.json', (_req, res) => {
    body ??= JSON.stringify(openApiDocument({ admin: d.admin }));
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.send(body);
  });
  return r;
}

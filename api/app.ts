// The Express app factory: request ids and access log, the routes, the 404 fallback and the one
// final error handler. Everything it needs is handed in (engine, pack manager, audit log, logger, metrics,
// config), so tests build it with in-memory parts and the server with real ones.
import { createServer, IncomingMessage, ServerResponse, type Server } from 'node:http';
import type { Socket } from 'node:net';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { createMemoryAudit, type AuditLog } from '../engine/audit.ts';
import type { PackManager } from '../engine/packs/index.ts';
import type { Engine } from '../engine/types.ts';
import { DEFAULT_ADMIN_RATE_LIMIT, HTTP_LIMITS, type Config, type HttpLimits } from './config.ts';
import { ApiError, errorBody, sendError, toApiError } from './errors.ts';
import { ADMIN_PATHS, adminGuard } from './guard.ts';
import { requestLogging, type Logger, type RequestContext } from './logging.ts';
import type { VigilMetrics } from './metrics.ts';
import { adminRoutes } from './routes/admin.ts';
import { consoleRoutes } from './routes/console.ts';
import { evaluateRoutes } from './routes/evaluate.ts';
import { openApiRoutes } from './routes/openapi.ts';
import { listRoutes } from './routes/lists.ts';
import { opsRoutes } from './routes/ops.ts';
import { overrideRoutes } from './routes/overrides.ts';
import { packRoutes } from './routes/packs.ts';

export interface AppDeps {
  readonly engine: Engine;
  readonly packs: PackManager;
  readonly logger: Logger;
  readonly metrics: VigilMetrics;
  readonly config: Pick<Config, 'apiToken' | 'adminToken' | 'maxSkewMs'> & Partial<Pick<Config, 'adminRateLimit'>>;
  /** Where admin changes are kept (GET /v1/audit); default: an in-process log. */
  readonly audit?: AuditLog;
  /** The server clock, ms since epoch (tests pin it). */
  readonly now?: () => number;
  /** True once shutdown began: /readyz answers 503 so load balancers drain this instance. */
  readonly shuttingDown?: () => boolean;
}

export function createApp(deps: AppDeps): Express {
  const { engine, packs, logger, metrics, config } = deps;
  const audit = deps.audit ?? createMemoryAudit();
  const now = deps.now ?? Date.now;
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use(requestLogging(logger, (route, method, status, seconds) => metrics.observeHttp(route, method, status, seconds)));
  app.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    next();
  });
  // Express's router answers an OPTIONS no route handles with 200 and the methods as a text/plain
  // body (`res.end(allow)`); every body of this API is JSON, so that answer becomes 204 with the
  // Allow header alone. (Who may get it at all is api/guard.ts's and the evaluate routes' business.)
  app.use((req, res, next) => {
    if (req.method === 'OPTIONS') {
      const end = res.end.bind(res) as (...args: unknown[]) => typeof res;
      res.end = ((...args: unknown[]) => {
        if (res.statusCode === 200 && res.getHeader('Allow') !== undefined && String(res.getHeader('Content-Type')).startsWith('text/plain')) {
          res.statusCode = 204;
          res.removeHeader('Content-Type');
          res.removeHeader('Content-Length');
          return end();
        }
        return end(...args);
      }) as typeof res.end;
    }
    next();
  });

  app.use(
    evaluateRoutes({
      engine,
      packs,
      metrics,
      apiToken: config.apiToken,
      maxSkewMs: config.maxSkewMs,
      now,
    }),
  );
  // After the hot route: every request walks the router's layers in order until one matches.
  app.use(opsRoutes({ engine, packs, metrics, shuttingDown: deps.shuttingDown ?? (() => false) }));
  app.use(openApiRoutes({ admin: config.adminToken !== undefined }));
  // Before the admin routers: the rate limit counts every admin request, authenticated or not, and
  // OPTIONS must meet the token before a router answers it with its methods.
  app.use([...ADMIN_PATHS], adminGuard({ adminToken: config.adminToken, perMinute: config.adminRateLimit ?? DEFAULT_ADMIN_RATE_LIMIT, logger }));
  app.use(adminRoutes({ engine, audit, adminToken: config.adminToken, now, packs }));
  app.use(listRoutes({ engine, audit, adminToken: config.adminToken, now }));
  app.use(packRoutes({ packs, engine, adminToken: config.adminToken }));
  app.use(overrideRoutes({ packs, adminToken: config.adminToken }));
  app.use(consoleRoutes({ adminToken: config.adminToken }));

  app.use((_req, _res, next) => next(new ApiError('not_found', 'no such endpoint')));

  const onError: ErrorRequestHandler = (err, req, res, _next) => {
    const e = toApiError(err);
    const log = (res.locals.vigil as RequestContext | undefined)?.log ?? logger;
    if (e.code === 'internal') log.error({ err }, 'unhandled error');
    if (res.headersSent) {
      // Part of an answer is out: the only honest thing left is to cut the connection.
      req.socket.destroy();
      return;
    }
    sendError(res, e);
  };
  app.use(onError);
  return app;
}

const isClass = (f: unknown): boolean => typeof f === 'function' && /^class\b/.test(Function.prototype.toString.call(f));

/**
 * How often the head, request and body deadlines are checked: a tenth of the shortest, at most a
 * second. Node checks `headersTimeout` and `requestTimeout` only on this timer (its default, 30 s,
 * let a slowloris client hold a socket for up to 40 s under a 10 s limit).
 */
export function checkIntervalMs(limits: HttpLimits): number {
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs, limits.bodyTimeoutMs);
  return Math.max(10, Math.min(1000, Math.floor(shortest / 10)));
}

/**
 * The HTTP server for an Express app, with the connection limits (docs/operations.md § Connections):
 * Node answers 408 and closes a connection whose head is not in within `headersTimeoutMs` or whose
 * whole request is not within `requestTimeoutMs`; `watchBodies` below answers 408 when a body stops
 * arriving for `bodyTimeoutMs` (a client that announced more bytes than it sends).
 *
 * Requests and responses are created with the app's own prototypes (`app.request`, `app.response`)
 * through Node's `IncomingMessage`/`ServerResponse` server options. Express gives every request and
 * response those prototypes with `Object.setPrototypeOf` as it starts handling them; finding them
 * already in place, that call does nothing. Done per request, it is expensive in V8: it costs CPU on
 * every request and makes what the request allocated survive young-generation collections, hence
 * longer pauses (measured in docs/operations.md § Performance).
 */
export function createHttpServer(app: Express, limits: HttpLimits = HTTP_LIMITS): Server {
  const options = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: checkIntervalMs(limits),
  };
  let server: Server;
  // Node's constructors are plain functions, so `call` runs them on an object of ours. (Were they
  // ever classes, `call` would throw: then Express does as it always did.)
  if (isClass(IncomingMessage) || isClass(ServerResponse)) {
    server = createServer(options, app);
  } else {
    function Request(this: IncomingMessage, socket: Socket): void {
      IncomingMessage.call(this, socket);
    }
    Request.prototype = app.request;
    function Response(this: ServerResponse, req: IncomingMessage, opts?: unknown): void {
      (ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void).call(this, req, opts);
    }
    Response.prototype = app.response;
    server = createServer(
      {
        ...options,
        IncomingMessage: Request as unknown as typeof IncomingMessage,
        ServerResponse: Response as unknown as typeof ServerResponse,
      },
      app,
    );
  }
  watchBodies(server, limits.bodyTimeoutMs, checkIntervalMs(limits));
  return server;
}

interface PendingBody {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The socket's bytesRead when last seen to change, and when. */
  bytes: number;
  at: number;
}

/**
 * The body deadline Node does not have: a request with a body (Content-Length or Transfer-Encoding)
 * whose socket reads no byte for `bodyTimeoutMs` while the body is incomplete is answered 408 (or,
 * when an answer already began, its connection is cut). One timer per server sweeps the requests
 * in flight; a request costs one entry, dropped at the first sweep after its body is complete.
 */
function watchBodies(server: Server, bodyTimeoutMs: number, everyMs: number): void {
  const pending = new Set<PendingBody>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const h = req.headers;
    if (req.complete || (h['content-length'] === undefined && h['transfer-encoding'] === undefined)) return;
    pending.add({ req, res, bytes: req.socket.bytesRead, at: Date.now() });
  });
  const sweep = (): void => {
    const now = Date.now();
    for (const p of pending) {
      const socket = p.req.socket;
      if (p.req.complete || socket.destroyed) {
        pending.delete(p);
        continue;
      }
      if (socket.bytesRead !== p.bytes) {
        p.bytes = socket.bytesRead;
        p.at = now;
        continue;
      }
      if (now - p.at < bodyTimeoutMs) continue;
      pending.delete(p);
      if (p.res.headersSent) {
        socket.destroy();
        continue;
      }
      const body = JSON.stringify(errorBody('request_timeout', `no byte of the request body arrived for ${bodyTimeoutMs} ms`));
      // `Connection: close`: Node closes the socket once the answer is written.
      p.res.writeHead(408, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(body),
        'Cache-Control': 'no-store',
        Connection: 'close',
      });
      p.res.end(body);
    }
  };
  let timer: NodeJS.Timeout | undefined;
  server.on('listening', () => {
    timer ??= setInterval(sweep, everyMs);
    timer.unref();
  });
  server.on('close', () => {
    if (timer) clearInterval(timer);
    timer = undefined;
    pending.clear();
  });
}

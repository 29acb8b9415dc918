import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Deps } from '../deps';
import { declaredLength, readRequestBody } from './body';
import { errorAnswer, errorEnvelope } from './errors';
import { answerRecorder, REQUEST_ID_HEADER, requestIdFor, SECURITY_ENTRIES } from './request-scope';

/**
 * A lane answers one hot endpoint straight on Node's request and response, before the hono app: no
 * routing, no middleware chain, no fetch Request/Response objects. On the entitlement check this halves
 * the server's CPU per request (docs/benchmarks.md), which is what the check benchmark compares with a
 * bare node:http server. Two kinds: `Lane` for a GET (below) and `BodyLane` for a POST.
 *
 * A GET lane answers only the success case, never an error: whenever `answer` returns null or throws (no or unknown credential, a
 * missing scope, a query that does not validate, an unknown user, a database error), the app handles the
 * same request from the start and answers exactly as it would have without the lane. So a lane must be a
 * read with no side effect but metrics, and it must take the same decisions as its route on the way to a
 * 200 (check.lane.test.ts compares both, header by header, on a matrix of requests).
 */
export interface Lane {
  /** The exact path, without a trailing slash. */
  path: string;
  /** The 200 body for a plain query (`plainQuery`), or null to let the app answer. */
  answer(req: LaneRequest, query: Record<string, string>): Promise<unknown | null>;
}

export type LaneRequest = Pick<IncomingMessage, 'headers' | 'rawHeaders'>;

/** A lane's answer: a status and a JSON body, with any header of its own. */
export interface LaneAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/**
 * A lane for one hot POST endpoint (the Stripe webhook): it reads the body itself, straight from Node's
 * request, and answers the work it does on it. Unlike a GET lane it may answer an error, but only one of
 * that work, rendered as the app renders it (src/http/errors.ts `errorAnswer`); everything the app would
 * refuse before its handler runs is left to the app: `accepts` sees only the headers (a credential or a
 * cookie, which the app's principal resolution judges, a body over the limit or of undeclared length),
 * and `answer` returns null, before doing anything, for a body it does not take (then the app reads the
 * same bytes again: they are kept as the request's `rawBody`, which @hono/node-server reads).
 */
export interface BodyLane {
  path: string;
  accepts(req: LaneRequest): boolean;
  answer(req: LaneRequest, body: Buffer, requestId: string): Promise<LaneAnswer | null>;
}

/** A body lane's answer for an error of its work, rendered as the app's error handler renders it. */
export function laneError(deps: Deps, err: unknown, requestId: string): LaneAnswer {
  const e = errorAnswer(err as Error, { logger: deps.logger, requestId });
  return {
    status: e.status,
    body: errorEnvelope(requestId, e.code, e.message, e.details),
    headers: e.headers,
  };
}

/**
 * A header's value when the request carries it exactly once. Node keeps only the first of some repeated
 * headers (`authorization` among them) where the app's fetch Headers would join them, so a lane must not
 * decide on a repeated one.
 */
export function singleHeader(req: LaneRequest, name: string): string | undefined {
  let count = 0;
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const h = raw[i]!;
    if (h.length === name.length && h.toLowerCase() === name) count++;
  }
  const value = req.headers[name];
  return count === 1 && typeof value === 'string' ? value : undefined;
}

/**
 * The query string as one value per name, or null when the app should parse it: a repeated name (the app
 * reads an array there), or any percent-encoding or `+` (decoding rules differ in corner cases). The
 * queries a backend sends for a check (ids and keys) are plain.
 */
export function plainQuery(raw: string): Record<string, string> | null {
  // No prototype: a `__proto__` name is a name like any other.
  const out: Record<string, string> = Object.create(null);
  if (!raw) return out;
  if (raw.includes('%') || raw.includes('+')) return null;
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    if (Object.hasOwn(out, name)) return null;
    out[name] = eq < 0 ? '' : pair.slice(eq + 1);
  }
  return out;
}

/** A Node request listener: the lanes first, `app` (the hono listener) for everything else. */
export function withLanes(
  deps: Deps,
  lanes: readonly Lane[],
  app: RequestListener,
  bodyLanes: readonly BodyLane[] = [],
): RequestListener {
  const byPath = new Map(lanes.map((lane) => [lane.path, lane]));
  const posts = new Map(bodyLanes.map((lane) => [lane.path, lane]));
  const record = answerRecorder(deps);
  const limit = deps.config.BODY_LIMIT_BYTES;
  return (req, res) => {
    const url = req.url ?? '';
    // While draining, the app answers 503 (src/http/request-scope.ts).
    if (deps.lifecycle?.draining) return app(req, res);
    if (req.method === 'POST') {
      const lane = posts.get(url);
      if (!lane?.accepts(req)) return app(req, res);
      // A body of declared length within the app's limit (what the app's limitBody lets through).
      const declared = declaredLength(req.headers['content-length'], req.headers['transfer-encoding']);
      if (declared === undefined || !(declared <= limit)) return app(req, res);
      const started = performance.now();
      void readRequestBody(req)
        .then(
          (body) => {
            (req as IncomingMessage & { rawBody?: Buffer }).rawBody = body;
            return runLane(deps, url, req, res, record, started, (id) => lane.answer(req, body, id));
          },
          () => false,
        )
        .then(
          (answered) => answered || app(req, res),
          () => app(req, res),
        );
      return;
    }
    const mark = url.indexOf('?');
    const lane = req.method === 'GET' ? byPath.get(mark < 0 ? url : url.slice(0, mark)) : undefined;
    const query = lane ? plainQuery(mark < 0 ? '' : url.slice(mark + 1)) : null;
    if (!lane || !query) return app(req, res);
    const started = performance.now();
    void runLane(deps, lane.path, req, res, record, started, async () => {
      const body = await lane.answer(req, query);
      return body === null ? null : { status: 200, body };
    }).then(
      (answered) => answered || app(req, res),
      () => app(req, res),
    );
  };
}

async function runLane(
  deps: Deps,
  path: string,
  req: IncomingMessage,
  res: ServerResponse,
  record: ReturnType<typeof answerRecorder>,
  started: number,
  answer: (requestId: string) => Promise<LaneAnswer | null>,
): Promise<boolean> {
  const done = deps.lifecycle?.enterRequest();
  try {
    const given = req.headers['x-request-id'];
    const id = requestIdFor(typeof given === 'string' ? given : undefined);
    const answered = await answer(id);
    if (answered === null || res.headersSent) return false;
    const text = JSON.stringify(answered.body);
    const headers: Record<string, string | number> = {};
    for (const [name, value] of SECURITY_ENTRIES) headers[name] = value;
    headers[REQUEST_ID_HEADER] = id;
    for (const [name, value] of Object.entries(answered.headers ?? {})) headers[name] = value;
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = Buffer.byteLength(text);
    // Answered while draining: the client must not reuse this connection.
    if (deps.lifecycle?.draining) headers.Connection = 'close';
    res.writeHead(answered.status, headers);
    res.end(text);
    record({ id, method: req.method ?? 'GET', path, route: path, status: answered.status, started });
    return true;
  } finally {
    done?.();
  }
}

import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Deps } from '../deps';
import { answerRecorder, REQUEST_ID_HEADER, requestIdFor, SECURITY_ENTRIES } from './request-scope';

/**
 * A lane answers the success case of one hot GET endpoint straight on Node's request and response,
 * before the hono app: no routing, no middleware chain, no fetch Request/Response objects. On the
 * entitlement check this halves the server's CPU per request (docs/benchmarks.md), which is what the
 * check benchmark compares with a bare node:http server.
 *
 * A lane never answers an error: whenever `answer` returns null or throws (no or unknown credential, a
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
export function withLanes(deps: Deps, lanes: readonly Lane[], app: RequestListener): RequestListener {
  const byPath = new Map(lanes.map((lane) => [lane.path, lane]));
  const record = answerRecorder(deps);
  return (req, res) => {
    const url = req.url ?? '';
    const mark = url.indexOf('?');
    const lane = req.method === 'GET' ? byPath.get(mark < 0 ? url : url.slice(0, mark)) : undefined;
    const query = lane ? plainQuery(mark < 0 ? '' : url.slice(mark + 1)) : null;
    // While draining, the app answers 503 (src/http/request-scope.ts).
    if (!lane || !query || deps.lifecycle?.draining) return app(req, res);
    void runLane(deps, lane, query, req, res, record).then(
      (answered) => answered || app(req, res),
      () => app(req, res),
    );
  };
}

async function runLane(
  deps: Deps,
  lane: Lane,
  query: Record<string, string>,
  req: IncomingMessage,
  res: ServerResponse,
  record: ReturnType<typeof answerRecorder>,
): Promise<boolean> {
  const started = performance.now();
  const done = deps.lifecycle?.enterRequest();
  try {
    const body = await lane.answer(req, query);
    if (body === null || res.headersSent) return false;
    const given = req.headers['x-request-id'];
    const id = requestIdFor(typeof given === 'string' ? given : undefined);
    const text = JSON.stringify(body);
    const headers: Record<string, string | number> = {};
    for (const [name, value] of SECURITY_ENTRIES) headers[name] = value;
    headers[REQUEST_ID_HEADER] = id;
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = Buffer.byteLength(text);
    // Answered while draining: the client must not reuse this connection.
    if (deps.lifecycle?.draining) headers.Connection = 'close';
    res.writeHead(200, headers);
    res.end(text);
    record({ id, method: 'GET', path: lane.path, route: lane.path, status: 200, started });
    return true;
  } finally {
    done?.();
  }
}

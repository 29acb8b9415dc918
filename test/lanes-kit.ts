import { createServer, type ClientRequest, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { appBodyLanes, appLanes } from '../src/app';
import { withLanes } from '../src/http/lanes';
import { listen } from '../src/server';
import type { TestApp } from './harness';

/**
 * The lane tests' set-up (src/http/lanes.ts): one app behind three servers - the app alone, the app
 * behind its lanes as `listen()` serves it, and the lanes before a stand-in app that answers STAND_IN,
 * which shows which requests a lane answered itself.
 */
export const STAND_IN = 599;

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface LaneServers {
  appOnly: string;
  laned: string;
  laneOnly: string;
  close(): Promise<void>;
}

async function listening(servers: Server[], server: Server): Promise<string> {
  servers.push(server);
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

export async function laneServers(t: TestApp): Promise<LaneServers> {
  const servers: Server[] = [];
  const standIn = createServer(
    withLanes(
      t.deps,
      appLanes(t.deps),
      (_req, res) => {
        res.writeHead(STAND_IN);
        res.end();
      },
      appBodyLanes(t.deps),
    ),
  ).listen(0, '127.0.0.1');
  return {
    appOnly: await listening(
      servers,
      serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server,
    ),
    laned: await listening(servers, (await listen(t.deps, t.app, 0, '127.0.0.1')) as Server),
    laneOnly: await listening(servers, standIn),
    async close() {
      for (const s of servers) await new Promise((resolve) => s.close(resolve));
    },
  };
}

/** A request's answer, its body as text. */
export function answerOf(req: ClientRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** Header lines onto a request; a name given several times is sent as several lines. */
export function setHeaderLines(req: ClientRequest, lines: [string, string][]) {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of lines) grouped.set(name, [...(grouped.get(name) ?? []), value]);
  for (const [name, values] of grouped) req.setHeader(name, values.length === 1 ? values[0]! : values);
}

/** How many answers the metrics counted under a route pattern with a status. */
export async function answersCounted(t: TestApp, route: string, status: number): Promise<number> {
  const text = await t.deps.metrics!.registry.metrics();
  const line = text
    .split('\n')
    .find(
      (l) =>
        l.startsWith('paywire_http_request_duration_seconds_count') &&
        l.includes(`route="${route}"`) &&
        l.includes(`status="${status}"`),
    );
  return Number(line?.split(' ').pop() ?? 0);
}

/** A POST for a body lane's tests: its body, header lines, and optionally another path or chunked. */
export interface LanePost {
  body: string | Buffer;
  headers: [string, string][];
  path?: string;
  /** Sent in two chunks without a Content-Length (chunked). */
  chunked?: boolean;
}

/** Sends a POST to `base` (at `path` unless the request names another) and reads its answer. */
export function postTo(base: string, path: string, r: LanePost): Promise<Answer> {
  const req = httpRequest(`${base}${r.path ?? path}`, { method: 'POST' });
  setHeaderLines(req, r.headers);
  const answer = answerOf(req);
  const bytes = Buffer.from(r.body);
  if (r.chunked) {
    req.write(bytes.subarray(0, 10));
    req.end(bytes.subarray(10));
  } else {
    req.setHeader('content-length', bytes.length);
    req.end(bytes);
  }
  return answer;
}

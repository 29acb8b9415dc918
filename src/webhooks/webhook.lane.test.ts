import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../test/harness';
import {
  type Answer,
  answersCounted,
  type LanePost,
  type LaneServers,
  laneServers,
  postTo,
  STAND_IN,
} from '../../test/lanes-kit';
import { startStripeTestApp, type StripeTestApp } from '../../test/stripe-app';
import { API_PREFIX } from '../app';
import { defaultHandlers, overrideHandlers } from './dispatch';
import { defineHandler } from './handler';
import { sign } from './webhooks-kit';

/**
 * The webhook lane (src/http/lanes.ts `BodyLane`, webhook.lane.ts) answers exactly what the route answers:
 * each request goes to a server with the lane and to one with the app alone (each with an event id of its
 * own, the answers compared with the ids masked) and must come back with the same status, body and
 * headers. A third server puts the lane before a stand-in app that answers 599, which shows which
 * requests the lane answered itself; the others reach the app with their body intact.
 */

const PATH = `${API_PREFIX}/webhooks/stripe`;

let s: StripeTestApp;
let servers: LaneServers;
let seq = 0;

type Request = LanePost;

interface Ask {
  name: string;
  /** The request for a fresh event id (each server gets its own). */
  make(id: string): Request;
  /** Sent once before, on the same server (a copy already delivered). */
  before?: boolean;
  /** Whether the lane answers it itself. */
  lane: boolean;
}

const send = (base: string, r: Request) => postTo(base, PATH, r);

/** An answer without what differs from one request to the next: its date, request id and event id. */
function comparable(a: Answer) {
  const { date, 'x-request-id': id, 'content-length': length, ...headers } = a.headers;
  const body = JSON.parse(a.body.replace(/evt_lane_\d+/g, '(event)'));
  if (body.error?.request_id === id) body.error.request_id = '(id)';
  return { status: a.status, headers, body };
}

const event = (id: string, type = 'lane.unhandled') =>
  JSON.stringify({
    id,
    object: 'event',
    type,
    api_version: '2026-10-28.endive',
    created: Math.floor(Date.now() / 1000),
    livemode: false,
    data: { object: { id: `obj_${id}`, object: 'thing' } },
  });

const json: [string, string] = ['content-type', 'application/json; charset=utf-8'];
const signed = (body: string, extra: [string, string][] = []): Request => ({
  body,
  headers: [json, ['stripe-signature', sign(body)], ...extra],
});

const ASKS: Ask[] = [
  { name: 'an event without a handler', make: (id) => signed(event(id)), lane: true },
  { name: 'a copy of a handled event', make: (id) => signed(event(id)), before: true, lane: true },
  { name: 'an event whose handler fails', make: (id) => signed(event(id, 'lane.fails')), lane: true },
  {
    name: 'a request id',
    make: (id) => signed(event(id), [['x-request-id', 'req-webhook-lane']]),
    lane: true,
  },
  { name: 'no signature', make: (id) => ({ body: event(id), headers: [json] }), lane: false },
  {
    name: 'a signature with another secret',
    make: (id) => {
      const body = event(id);
      return { body, headers: [json, ['stripe-signature', sign(body, { secret: 'whsec_other' })]] };
    },
    lane: false,
  },
  {
    name: 'a stale signature',
    make: (id) => {
      const body = event(id);
      const old = Math.floor(Date.now() / 1000) - 3600;
      return { body, headers: [json, ['stripe-signature', sign(body, { timestamp: old })]] };
    },
    lane: false,
  },
  {
    name: 'two signature lines',
    make: (id) => {
      const r = signed(event(id));
      return { ...r, headers: [...r.headers, r.headers[1]!] };
    },
    lane: false,
  },
  {
    name: 'a signed body that is not an event',
    make: () => signed(JSON.stringify({ hello: 'world' })),
    lane: false,
  },
  { name: 'a signed body that is not JSON', make: () => signed('not json'), lane: false },
  {
    name: 'a body that is not UTF-8',
    make: (id) => {
      const body = Buffer.concat([Buffer.from(event(id).slice(0, -2)), Buffer.from([0xff, 0x7d, 0x7d])]);
      return { body, headers: [json, ['stripe-signature', sign(body.toString('latin1'))]] };
    },
    lane: false,
  },
  {
    name: 'a credential',
    make: (id) => signed(event(id), [['authorization', 'Bearer pws_not_a_session']]),
    lane: false,
  },
  {
    name: 'a session cookie',
    make: (id) => signed(event(id), [['cookie', 'paywire_session=pws_not_a_session']]),
    lane: false,
  },
  {
    name: 'a body over the limit',
    make: (id) => signed(`${event(id)}${' '.repeat(2 * 1024 * 1024)}`),
    lane: false,
  },
  { name: 'a chunked body', make: (id) => ({ ...signed(event(id)), chunked: true }), lane: false },
  { name: 'a query string', make: (id) => ({ ...signed(event(id)), path: `${PATH}?x=1` }), lane: false },
];

async function ask(base: string, a: Ask): Promise<Answer> {
  const r = a.make(`evt_lane_${seq++}`);
  if (a.before) await send(base, r);
  return send(base, r);
}

beforeAll(async () => {
  s = await startStripeTestApp();
  overrideHandlers(s.t.deps, {
    ...defaultHandlers,
    'lane.fails': defineHandler({ apply: () => Promise.reject(new Error('the handler broke')) }),
  });
  servers = await laneServers(s.t);
});

afterAll(async () => {
  overrideHandlers(s.t.deps, null);
  await servers.close();
  await s.close();
});

describe('the webhook lane', () => {
  it('answers every request exactly as the app alone does: status, body and headers', async () => {
    for (const a of ASKS) {
      const [plain, fast] = [await ask(servers.appOnly, a), await ask(servers.laned, a)];
      expect(comparable(fast), a.name).toEqual(comparable(plain));
    }
    // What the answers are (the comparison alone would pass on two equally wrong servers).
    const statuses = await Promise.all(
      ASKS.slice(0, 6).map(async (a) => (await ask(servers.laned, a)).status),
    );
    expect(statuses).toEqual([200, 200, 500, 200, 400, 400]);
  });

  it('answers the events it verifies itself and leaves everything else to the app', async () => {
    for (const a of ASKS) {
      const res = await ask(servers.laneOnly, a);
      expect(res.status, a.name).toBe(a.lane ? (a.name.includes('fails') ? 500 : 200) : STAND_IN);
    }
    const named = await ask(servers.laneOnly, ASKS.find((a) => a.name === 'a request id')!);
    expect(named.headers['x-request-id']).toBe('req-webhook-lane');
    expect(named.headers['x-content-type-options']).toBe('nosniff');
    expect(JSON.parse(named.body)).toEqual({ received: true, status: 'ignored' });
    const failed = await ask(servers.laneOnly, ASKS.find((a) => a.name.includes('fails'))!);
    expect(JSON.parse(failed.body)).toMatchObject({
      error: { code: 'webhook_failed', request_id: failed.headers['x-request-id'] },
    });
  });

  it('writes nothing for what the app refuses, and counts and logs what it answers under its route', async () => {
    // Left to the app and accepted there: a chunked body, a query string, two signature lines (joined, as
    // fetch Headers join them, they still verify), a cookie of no session.
    const accepted = ['a chunked body', 'a query string', 'two signature lines', 'a session cookie'];
    const refused = ASKS.filter((a) => !a.lane && !accepted.includes(a.name));
    const before = await countRows(s.t.deps.database, ['stripe_events']);
    for (const a of refused) expect((await ask(servers.laned, a)).status, a.name).toBeGreaterThanOrEqual(400);
    expect(await countRows(s.t.deps.database, ['stripe_events'])).toEqual(before);
    const metric = () => answersCounted(s.t, PATH, 200);
    const counted = await metric();
    await ask(servers.laneOnly, ASKS[0]!);
    expect(await metric()).toBe(counted + 1);
    expect(await countRows(s.t.deps.database, ['stripe_events'])).toEqual({
      stripe_events: before.stripe_events! + 1,
    });
  });

  it('leaves requests to the app while the instance drains (it answers 503)', async () => {
    const lifecycle = s.t.deps.lifecycle!;
    lifecycle.draining = true;
    try {
      expect((await ask(servers.laneOnly, ASKS[0]!)).status).toBe(STAND_IN);
      expect((await ask(servers.laned, ASKS[0]!)).status).toBe(503);
    } finally {
      lifecycle.draining = false;
    }
    expect((await ask(servers.laned, ASKS[0]!)).status).toBe(200);
  });
});

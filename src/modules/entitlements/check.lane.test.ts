import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows } from '../../../test/harness';
import {
  type Answer,
  answerOf,
  answersCounted,
  type LaneServers,
  laneServers,
  STAND_IN,
  setHeaderLines,
} from '../../../test/lanes-kit';
import { API_PREFIX } from '../../app';
import { plainQuery } from '../../http/lanes';
import { checkLane } from './check.lane';
import { TABLES, UNKNOWN_ID, type EntitlementsEnv, entitlementsEnv } from './entitlements-kit';

/**
 * The entitlement check's lane (src/http/lanes.ts, check.lane.ts) answers exactly what the route answers:
 * the same requests go to a server with the lane and to one with the app alone, and must come back with
 * the same status, body and headers. A third server puts the lane before a stand-in app that answers
 * 599, which shows which requests the lane itself answered.
 */

const CHECK = `${API_PREFIX}/entitlements/check`;

let e: EntitlementsEnv;
let servers: LaneServers;
let scopeless: string;

interface Ask {
  name: string;
  query: string;
  /** Header lines; a repeated name is sent as several lines. */
  headers?: [string, string][];
  method?: string;
  path?: string;
  /** Whether the lane answers it (200) or leaves it to the app. */
  lane: boolean;
}

let asks: Ask[];

function send(base: string, ask: Ask): Promise<Answer> {
  const req = httpRequest(`${base}${ask.path ?? CHECK}${ask.query ? `?${ask.query}` : ''}`, {
    method: ask.method ?? 'GET',
  });
  setHeaderLines(req, ask.headers ?? []);
  const answer = answerOf(req);
  req.end();
  return answer;
}

/** An answer without what differs from one response to the next (its date and, unless given, its id). */
function comparable(a: Answer, keepId: boolean) {
  const { date, 'x-request-id': id, ...headers } = a.headers;
  let body: unknown = a.body;
  try {
    body = JSON.parse(a.body);
    const error = (body as { error?: { request_id?: string } }).error;
    if (error?.request_id && !keepId) error.request_id = '(id)';
  } catch {
    // not JSON (HEAD has no body)
  }
  return { status: a.status, headers, body, id: keepId ? id : /^[0-9a-f-]{36}$/.test(String(id)) };
}

beforeAll(async () => {
  e = await entitlementsEnv(6);
  const { t, call, admin, alice, bob, otherAdmin, serviceKey } = e;
  await e.grantOk({ user_id: alice.user.id, entitlement_type: 'feature_unlock', feature: 'export' });
  await e.grantOk({
    user_id: alice.user.id,
    entitlement_type: 'CREDIT_GRANT',
    credit_type: 'ai_tokens',
    quantity_granted: 300,
  });
  scopeless = (
    await call('POST', 'api-keys', {
      token: admin.token,
      body: { name: 'billing', scopes: ['billing:read'] },
    })
  ).body.key;
  servers = await laneServers(t);
  const bearer = (token: string): [string, string] => ['authorization', `Bearer ${token}`];
  const service = bearer(serviceKey);
  asks = [
    {
      name: 'a service key for a user who has it',
      query: `feature=export&user_id=${alice.user.id}`,
      headers: [service],
      lane: true,
    },
    {
      name: 'a service key for a user who has not',
      query: `feature=export&user_id=${bob.user.id}`,
      headers: [service],
      lane: true,
    },
    { name: 'the user herself', query: 'feature=export', headers: [bearer(alice.token)], lane: true },
    {
      name: 'her own id named',
      query: `feature=export&user_id=${alice.user.id}`,
      headers: [bearer(alice.token)],
      lane: true,
    },
    {
      name: 'credits, enough',
      query: 'credit_type=ai_tokens&quantity=300',
      headers: [bearer(alice.token)],
      lane: true,
    },
    {
      name: 'credits, too many',
      query: 'credit_type=ai_tokens&quantity=301',
      headers: [bearer(alice.token)],
      lane: true,
    },
    { name: 'by type', query: 'type=FEATURE_UNLOCK', headers: [bearer(alice.token)], lane: true },
    {
      name: 'an unknown parameter',
      query: 'feature=export&colour=blue',
      headers: [bearer(alice.token)],
      lane: true,
    },
    {
      name: 'a request id',
      query: 'feature=export',
      headers: [bearer(alice.token), ['x-request-id', 'req-lane-1']],
      lane: true,
    },
    {
      name: 'a malformed request id',
      query: 'feature=export',
      headers: [bearer(alice.token), ['x-request-id', 'a b']],
      lane: true,
    },
    {
      name: 'lower-case bearer',
      query: 'feature=export',
      headers: [['authorization', `bearer ${alice.token}`]],
      lane: true,
    },
    { name: 'no credential', query: 'feature=export', lane: false },
    { name: 'an unknown token', query: 'feature=export', headers: [bearer('pws_nope')], lane: false },
    {
      name: 'not Bearer',
      query: 'feature=export',
      headers: [['authorization', `Basic ${alice.token}`]],
      lane: false,
    },
    {
      name: 'two Authorization lines',
      query: 'feature=export',
      headers: [bearer(alice.token), bearer(alice.token)],
      lane: false,
    },
    {
      name: 'a session cookie',
      query: 'feature=export',
      headers: [['cookie', `paywire_session=${alice.token}`]],
      lane: false,
    },
    { name: 'a key without the scope', query: 'feature=export', headers: [bearer(scopeless)], lane: false },
    {
      name: 'a user naming another',
      query: `feature=export&user_id=${bob.user.id}`,
      headers: [bearer(alice.token)],
      lane: false,
    },
    {
      name: 'a service key for an admin',
      query: `feature=export&user_id=${otherAdmin.user.id}`,
      headers: [service],
      lane: false,
    },
    {
      name: 'a service key for nobody',
      query: `feature=export&user_id=${UNKNOWN_ID}`,
      headers: [service],
      lane: false,
    },
    { name: 'a malformed user id', query: 'feature=export&user_id=42', headers: [service], lane: false },
    { name: 'a bad feature key', query: 'feature=!export', headers: [bearer(alice.token)], lane: false },
    {
      name: 'a zero quantity',
      query: 'credit_type=ai_tokens&quantity=0',
      headers: [bearer(alice.token)],
      lane: false,
    },
    { name: 'no question', query: '', headers: [bearer(alice.token)], lane: false },
    {
      name: 'a repeated parameter',
      query: 'feature=export&feature=basic',
      headers: [bearer(alice.token)],
      lane: false,
    },
    { name: 'percent-encoding', query: 'feature=exp%6Frt', headers: [bearer(alice.token)], lane: false },
    { name: 'a plus sign', query: 'feature=export+', headers: [bearer(alice.token)], lane: false },
    { name: 'HEAD', query: 'feature=export', headers: [bearer(alice.token)], method: 'HEAD', lane: false },
    { name: 'POST', query: 'feature=export', headers: [bearer(alice.token)], method: 'POST', lane: false },
    {
      name: 'a trailing slash',
      query: 'feature=export',
      headers: [bearer(alice.token)],
      path: `${CHECK}/`,
      lane: false,
    },
  ];
});

afterAll(async () => {
  await servers.close();
  await e.t.close();
});

describe('the entitlement check lane', () => {
  it('answers every request exactly as the app alone does: status, body and headers', async () => {
    for (const ask of asks) {
      const keepId = ask.headers?.some(([n, v]) => n === 'x-request-id' && v === 'req-lane-1') ?? false;
      const [plain, fast] = [await send(servers.appOnly, ask), await send(servers.laned, ask)];
      expect(comparable(fast, keepId), ask.name).toEqual(comparable(plain, keepId));
    }
  });

  it('answers the successful checks itself and leaves everything else to the app', async () => {
    for (const ask of asks) {
      const res = await send(servers.laneOnly, ask);
      expect(res.status, ask.name).toBe(ask.lane ? 200 : STAND_IN);
    }
    const answered = await send(
      servers.laneOnly,
      asks.find((a) => a.name === 'a service key for a user who has it')!,
    );
    expect(JSON.parse(answered.body)).toMatchObject({ has_access: true });
    expect(answered.headers['x-content-type-options']).toBe('nosniff');
    expect(answered.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const named = await send(servers.laneOnly, asks.find((a) => a.name === 'a request id')!);
    expect(named.headers['x-request-id']).toBe('req-lane-1');
  });

  it('writes nothing, counts the answer under its route and logs it without the query string', async () => {
    const before = await countRows(e.t.deps.database, TABLES);
    const metric = () => answersCounted(e.t, CHECK, 200);
    const counted = await metric();
    const logged = e.t.logs.length;
    await send(servers.laneOnly, asks[0]!);
    expect(await metric()).toBe(counted + 1);
    const line = e.t.logs.slice(logged).find((l) => l.includes(CHECK));
    expect(line).toBeDefined();
    expect(line).not.toContain('feature=');
    expect(await countRows(e.t.deps.database, TABLES)).toEqual(before);
  });

  it('leaves requests to the app while the instance drains (it answers 503)', async () => {
    const lifecycle = e.t.deps.lifecycle!;
    lifecycle.draining = true;
    try {
      expect((await send(servers.laneOnly, asks[0]!)).status).toBe(STAND_IN);
      expect((await send(servers.laned, asks[0]!)).status).toBe(503);
    } finally {
      lifecycle.draining = false;
    }
    expect((await send(servers.laned, asks[0]!)).status).toBe(200);
  });

  it('decides on the request alone: answer() is null for what the route would refuse', async () => {
    const lane = checkLane(e.t.deps, CHECK);
    const req = (authorization?: string) => ({
      headers: authorization ? { authorization } : {},
      rawHeaders: authorization ? ['Authorization', authorization] : [],
    });
    const alice = `Bearer ${e.alice.token}`;
    expect(await lane.answer(req(alice), { feature: 'export' })).toMatchObject({ has_access: true });
    expect(await lane.answer(req(alice), { feature: 'basic' })).toMatchObject({ has_access: false });
    expect(await lane.answer(req(), { feature: 'export' })).toBeNull();
    expect(await lane.answer(req(alice), { feature: '' })).toBeNull();
    await expect(lane.answer(req(alice), { feature: 'export', user_id: e.bob.user.id })).rejects.toThrow();
  });
});

describe('plainQuery', () => {
  it('reads one value per name and refuses what the app should parse', () => {
    expect(plainQuery('')).toEqual({});
    expect(plainQuery('a=1&b=&c&&d=x=y')).toEqual({ a: '1', b: '', c: '', d: 'x=y' });
    expect(plainQuery('a=1&a=2')).toBeNull();
    expect(plainQuery('a=%41')).toBeNull();
    expect(plainQuery('a=b+c')).toBeNull();
    expect(plainQuery('__proto__=1')).toEqual(JSON.parse('{"__proto__":"1"}'));
  });
});

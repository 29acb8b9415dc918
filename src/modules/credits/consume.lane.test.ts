import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREDIT_TABLES } from '../../../test/credits-kit';
import { countRows } from '../../../test/harness';
import {
  type Answer,
  answersCounted,
  type LanePost,
  type LaneServers,
  laneServers,
  postTo,
  STAND_IN,
} from '../../../test/lanes-kit';
import { API_PREFIX } from '../../app';
import { type EntitlementsEnv, entitlementsEnv, UNKNOWN_ID } from '../entitlements/entitlements-kit';
import { getBalance } from './credits.queries';
import { grantCredits } from './credits.service';

/**
 * The consume lane (src/http/lanes.ts `BodyLane`, consume.lane.ts) answers exactly what the route answers.
 * Consumption writes, so each request is made twice, for two users holding the same credits: once to a
 * server with the app alone (for one user), once to a server with the lane (for the other), in the same
 * order, so that both accounts go through the same history; the answers must be the same, ids masked. A
 * third server puts the lane before a stand-in app that answers 599, which shows which requests the lane
 * answered itself; the others reach the app with their body intact, and the lane wrote nothing for them.
 */

const PATH = `${API_PREFIX}/credits/consume`;

/** The user a request is made for, and its own key prefix. */
interface Side {
  id: string;
  token: string;
  tag: string;
}

type Request = LanePost;

interface Ask {
  name: string;
  make(side: Side): Request;
  /** Sent once before (as `make` gives it, or as this gives it), on the same server and side. */
  before?: true | ((side: Side) => Request);
  /** Whether the lane answers it itself. */
  lane: boolean;
}

let e: EntitlementsEnv;
let servers: LaneServers;
let asks: Ask[];
let sides: { appOnly: Side; laned: Side; laneOnly: Side };

const send = (base: string, r: Request) => postTo(base, PATH, r);

async function ask(base: string, side: Side, a: Ask): Promise<Answer> {
  if (a.before) await send(base, a.before === true ? a.make(side) : a.before(side));
  return send(base, a.make(side));
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** An answer without what differs between the two sides and from one response to the next. */
function comparable(a: Answer, sideIds: string[]) {
  const { date, 'x-request-id': id, 'content-length': length, ...headers } = a.headers;
  let text = a.body;
  for (const s of sideIds) text = text.replaceAll(s, '(user)');
  const body = JSON.parse(text.replace(UUID, '(id)'));
  return { status: a.status, headers, body };
}

const json: [string, string] = ['content-type', 'application/json'];
const bearer = (token: string): [string, string] => ['authorization', `Bearer ${token}`];

beforeAll(async () => {
  e = await entitlementsEnv(6);
  const { t, call, admin, alice, bob, otherAdmin } = e;
  const carol = e.freshUser();
  for (const u of [alice, bob, carol])
    await grantCredits(t.deps, {
      userId: u.user.id,
      creditType: 'ai_tokens',
      amount: 100,
      pool: 'purchased',
    });
  const key = (scopes: string[], onBehalf: boolean) =>
    call('POST', 'api-keys', { token: admin.token, body: { name: 'backend', scopes, on_behalf: onBehalf } });
  const service = bearer((await key(['credits:write', 'credits:read'], true)).body.key);
  const readOnly = bearer((await key(['credits:read'], true)).body.key);
  servers = await laneServers(t);
  sides = {
    appOnly: { id: alice.user.id, token: alice.token, tag: 'a' },
    laned: { id: bob.user.id, token: bob.token, tag: 'b' },
    laneOnly: { id: carol.user.id, token: carol.token, tag: 'c' },
  };
  let n = 0;
  /** A body for this side; `key: null` leaves the key out. */
  const consumeBody = (side: Side, fields: Record<string, unknown> = {}, key: string | null = `k${n++}`) =>
    JSON.stringify({
      credit_type: 'ai_tokens',
      amount: 3,
      ...(key === null ? {} : { idempotency_key: `${side.tag}-${key}` }),
      ...fields,
    });
  const own = (fields: Record<string, unknown> = {}, extra: [string, string][] = []) => {
    const key = `k${n++}`;
    return (side: Side): Request => ({
      body: consumeBody(side, fields, key),
      headers: [json, bearer(side.token), ...extra],
    });
  };
  asks = [
    { name: 'the user herself', make: own(), lane: true },
    {
      name: 'a service key for a user',
      make: (side) => ({ body: consumeBody(side, { user_id: side.id }), headers: [json, service] }),
      lane: true,
    },
    {
      name: 'the key in the Idempotency-Key header',
      make: (side) => ({
        body: consumeBody(side, {}, null),
        headers: [json, bearer(side.token), ['idempotency-key', `${side.tag}-header`]],
      }),
      lane: true,
    },
    { name: 'a replay', make: own({ amount: 2 }), before: true, lane: true },
    (() => {
      const key = `k${n++}`;
      return {
        name: 'a key reused for another amount',
        make: (side: Side) => ({
          body: consumeBody(side, { amount: 2 }, key),
          headers: [json, bearer(side.token)],
        }),
        before: (side: Side) => ({
          body: consumeBody(side, { amount: 1 }, key),
          headers: [json, bearer(side.token)],
        }),
        lane: true,
      };
    })(),
    { name: 'more credits than the balance', make: own({ amount: 1_000 }), lane: true },
    { name: 'a credit type that is not configured', make: own({ credit_type: 'gold_bars' }), lane: true },
    { name: 'a description', make: own({ description: 'one image' }), lane: true },
    { name: 'a request id', make: own({}, [['x-request-id', 'req-consume-lane']]), lane: true },
    {
      name: 'charset in the content type',
      make: (side) => ({
        body: consumeBody(side),
        headers: [['content-type', 'application/json; charset=utf-8'], bearer(side.token)],
      }),
      lane: true,
    },
    {
      name: 'lower-case bearer',
      make: (side) => ({
        body: consumeBody(side),
        headers: [json, ['authorization', `bearer ${side.token}`]],
      }),
      lane: true,
    },
    { name: 'no credential', make: (side) => ({ body: consumeBody(side), headers: [json] }), lane: false },
    {
      name: 'an unknown token',
      make: (side) => ({ body: consumeBody(side), headers: [json, bearer('pws_nope')] }),
      lane: false,
    },
    {
      name: 'not Bearer',
      make: (side) => ({
        body: consumeBody(side),
        headers: [json, ['authorization', `Basic ${side.token}`]],
      }),
      lane: false,
    },
    {
      name: 'two Authorization lines',
      make: (side) => ({ body: consumeBody(side), headers: [json, bearer(side.token), bearer(side.token)] }),
      lane: false,
    },
    {
      name: 'a session cookie',
      make: (side) => ({
        body: consumeBody(side),
        headers: [json, ['cookie', `paywire_session=${side.token}`]],
      }),
      lane: false,
    },
    {
      name: 'a bearer token and a cookie',
      make: (side) => ({
        body: consumeBody(side),
        headers: [json, bearer(side.token), ['cookie', `paywire_session=${side.token}`]],
      }),
      lane: false,
    },
    {
      name: 'a key without the credits:write scope',
      make: (side) => ({ body: consumeBody(side, { user_id: side.id }), headers: [json, readOnly] }),
      lane: false,
    },
    {
      name: 'a user naming another',
      make: (side) => ({
        body: consumeBody(side, { user_id: otherAdmin.user.id }),
        headers: [json, bearer(side.token)],
      }),
      lane: false,
    },
    {
      name: 'a service key for an admin',
      make: (side) => ({
        body: consumeBody(side, { user_id: otherAdmin.user.id }),
        headers: [json, service],
      }),
      lane: false,
    },
    {
      name: 'a service key for nobody',
      make: (side) => ({ body: consumeBody(side, { user_id: UNKNOWN_ID }), headers: [json, service] }),
      lane: false,
    },
    {
      // It acts for its own (admin) user, who holds no credits: the route's 402, answered by the lane.
      name: 'a service key without user_id',
      make: (side) => ({ body: consumeBody(side), headers: [json, service] }),
      lane: true,
    },
    {
      name: 'no idempotency key',
      make: (side) => ({ body: consumeBody(side, {}, null), headers: [json, bearer(side.token)] }),
      lane: false,
    },
    {
      name: 'two Idempotency-Key lines',
      make: (side) => ({
        body: consumeBody(side, {}, null),
        headers: [json, bearer(side.token), ['idempotency-key', 'x'], ['idempotency-key', 'y']],
      }),
      lane: false,
    },
    { name: 'a negative amount', make: own({ amount: -3 }), lane: false },
    { name: 'a fractional amount', make: own({ amount: 1.5 }), lane: false },
    { name: 'an amount as a string', make: own({ amount: '3' }), lane: false },
    { name: 'an unknown field', make: own({ colour: 'blue' }), lane: false },
    {
      name: 'invalid JSON',
      make: (side) => ({ body: '{"credit_type": "ai_tokens", ', headers: [json, bearer(side.token)] }),
      lane: false,
    },
    {
      name: 'a JSON array',
      make: (side) => ({ body: '[]', headers: [json, bearer(side.token)] }),
      lane: false,
    },
    {
      name: 'not UTF-8',
      make: (side) => ({
        body: Buffer.concat([
          Buffer.from(consumeBody(side, { description: 'x' }).slice(0, -2)),
          Buffer.from([0xff, 0x22, 0x7d]),
        ]),
        headers: [json, bearer(side.token)],
      }),
      lane: false,
    },
    {
      name: 'text/plain',
      make: (side) => ({
        body: consumeBody(side),
        headers: [['content-type', 'text/plain'], bearer(side.token)],
      }),
      lane: false,
    },
    {
      name: 'a chunked body',
      make: (side) => ({ body: consumeBody(side), headers: [json, bearer(side.token)], chunked: true }),
      lane: false,
    },
    {
      name: 'a query string',
      make: (side) => ({ body: consumeBody(side), headers: [json, bearer(side.token)], path: `${PATH}?x=1` }),
      lane: false,
    },
  ];
});

afterAll(async () => {
  await servers.close();
  await e.t.close();
});

describe('the consume lane', () => {
  it('answers every request exactly as the app alone does: status, body and headers', async () => {
    const ids = [sides.appOnly.id, sides.laned.id];
    for (const a of asks) {
      const plain = await ask(servers.appOnly, sides.appOnly, a);
      const fast = await ask(servers.laned, sides.laned, a);
      expect(comparable(fast, ids), a.name).toEqual(comparable(plain, ids));
    }
    // Both accounts went through the same history.
    const [plain, fast] = await Promise.all(
      ids.map((id) =>
        getBalance(e.t.deps, id, 'ai_tokens').then((b) => ({
          ...b,
          grants: b.grants.map(({ id: _, ...g }) => g),
        })),
      ),
    );
    expect(fast).toEqual(plain);
    expect(plain!.available).toBeLessThan(100);
  });

  it('answers the consumptions itself, leaves everything else to the app, and writes nothing for those', async () => {
    for (const a of asks) {
      if (a.before) await send(servers.laned, (a.before === true ? a.make : a.before)(sides.laneOnly));
      const before = await countRows(e.t.deps.database, CREDIT_TABLES);
      const res = await send(servers.laneOnly, a.make(sides.laneOnly));
      if (a.lane) expect(res.status, a.name).not.toBe(STAND_IN);
      else {
        expect(res.status, a.name).toBe(STAND_IN);
        expect(await countRows(e.t.deps.database, CREDIT_TABLES), a.name).toEqual(before);
      }
    }
  });

  it('counts its answers under the route', async () => {
    const metric = () => answersCounted(e.t, PATH, 200);
    const counted = await metric();
    const res = await send(servers.laneOnly, asks[0]!.make({ ...sides.laneOnly, tag: 'metric' }));
    expect(res.status).toBe(200);
    expect(await metric()).toBe(counted + 1);
  });

  it('leaves requests to the app while the instance drains (it answers 503)', async () => {
    const lifecycle = e.t.deps.lifecycle!;
    lifecycle.draining = true;
    try {
      expect((await send(servers.laneOnly, asks[0]!.make({ ...sides.laneOnly, tag: 'd1' }))).status).toBe(
        STAND_IN,
      );
      expect((await send(servers.laned, asks[0]!.make({ ...sides.laneOnly, tag: 'd2' }))).status).toBe(503);
    } finally {
      lifecycle.draining = false;
    }
  });
});

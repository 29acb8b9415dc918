import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ApiCaller, PASSWORD, signupUser } from '../harness';
import type { Instance } from './kit/apps';
import { allCounts, countChanges } from './kit/db';
import { count, mismatch, registerSecret } from './kit/report';
import { startSystem, type System } from './kit/system';

/**
 * Attackers at the front door (issue 13, item 4): CSRF, session fixation, log-out and brute force. Two
 * instances share one PostgreSQL, as behind a load balancer. (Redirects, headers and the emulator's
 * control API: web-exposure.test.ts.)
 */
let sys: System;
let a: Instance;
let b: Instance;
let call: ApiCaller;

beforeAll(async () => {
  sys = await startSystem({
    template: inject('templateDb'),
    label: 'websec',
    instances: 2,
    fixedTime: false,
    env: { LOGIN_MAX_FAILURES: '5', LOGIN_MAX_FAILURES_PER_IP: '40' },
  });
  [a, b] = sys.instances as [Instance, Instance];
  call = a.call;
});
afterAll(() => sys?.close());

let n = 0;
async function person(tag: string) {
  const u = await signupUser(call, `${tag}-${++n}@reliability.test`);
  registerSecret('session_token', u.token);
  registerSecret('csrf_token', u.csrf);
  return u;
}

const cookieOf = (res: Response, name: string) =>
  res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0]!)
    .find((c) => c.startsWith(`${name}=`))
    ?.slice(name.length + 1);

async function jsonLogin(inst: Instance, email: string, headers: Record<string, string> = {}) {
  return inst.fetch('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
}

describe('CSRF', () => {
  it('a cookie-authenticated change without the right CSRF token is refused (403 csrf_failed) and writes nothing', async () => {
    const victim = await person('csrf');
    const other = await person('csrf-other');
    const session = cookieOf(await jsonLogin(a, victim.email), 'paywire_session')!;
    const me = await a.fetch('/api/v1/me', { headers: { cookie: `paywire_session=${session}` } });
    const csrf = ((await me.json()) as { csrf_token: string }).csrf_token;
    registerSecret('csrf_token', csrf);
    const before = await allCounts(sys.database);
    for (const token of [undefined, '', 'forged', other.csrf, csrf.slice(0, -2)]) {
      count('attacks');
      const res = await a.fetch('/api/v1/api-keys', {
        method: 'POST',
        headers: {
          cookie: `paywire_session=${session}`,
          'content-type': 'application/json',
          ...(token === undefined ? {} : { 'x-csrf-token': token }),
        },
        body: JSON.stringify({ name: 'csrf', scopes: ['credits:read'] }),
      });
      expect(res.status, `token ${token}`).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('csrf_failed');
    }
    // A form post (what another site can make a browser send) without _csrf: refused too.
    const form = await a.fetch('/api/v1/api-keys', {
      method: 'POST',
      headers: { cookie: `paywire_session=${session}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'name=csrf&scopes=credits:read',
    });
    expect(form.status).toBe(403);
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
    // The right token works, on either instance.
    const ok = await b.fetch('/api/v1/api-keys', {
      method: 'POST',
      headers: {
        cookie: `paywire_session=${session}`,
        'content-type': 'application/json',
        'x-csrf-token': csrf,
      },
      body: JSON.stringify({ name: 'csrf', scopes: ['credits:read'] }),
    });
    expect(ok.status).toBe(201);
    registerSecret('api_key', ((await ok.json()) as { key: string }).key);
  });

  it('log-in and sign-up forms refuse cross-site posts (login CSRF) and set no session', async () => {
    const victim = await person('logincsrf');
    const before = await allCounts(sys.database);
    for (const headers of [
      { 'sec-fetch-site': 'cross-site' } as Record<string, string>,
      { 'sec-fetch-site': 'same-site' },
      { origin: 'https://evil.example' },
    ]) {
      for (const path of ['/login', '/signup']) {
        count('attacks');
        const res = await a.fetch(path, {
          method: 'POST',
          redirect: 'manual',
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
          body: new URLSearchParams({
            email: path === '/login' ? victim.email : 'new-csrf@reliability.test',
            password: PASSWORD,
          }),
        });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(403);
        expect(cookieOf(res, 'paywire_session')).toBeUndefined();
      }
    }
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
  });
});

describe('sessions', () => {
  it('session fixation: a planted cookie is never adopted; log-in always issues a new token', async () => {
    const victim = await person('fix');
    const attacker = await person('fix-attacker');
    for (const planted of ['pws_attacker_chosen_value_0123456789abcdef', attacker.token]) {
      count('attacks');
      const form = await a.fetch('/login', {
        method: 'POST',
        redirect: 'manual',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          cookie: `paywire_session=${planted}`,
        },
        body: new URLSearchParams({ email: victim.email, password: PASSWORD, next: '/account/billing' }),
      });
      // Either a fresh session, or - when the planted cookie is someone's live session - a refusal (a
      // cookie-authenticated post without that session's CSRF token). Never the planted token.
      if (planted === attacker.token) expect([303, 403]).toContain(form.status);
      else expect(form.status).toBe(303);
      const issued = cookieOf(form, 'paywire_session');
      registerSecret('session_token', issued);
      if (form.status === 303) expect(issued).toBeTruthy();
      expect(issued).not.toBe(planted);
      const jsonRes = await jsonLogin(b, victim.email, { cookie: `paywire_session=${planted}` });
      const json = cookieOf(jsonRes, 'paywire_session');
      registerSecret('session_token', json);
      expect([200, 403]).toContain(jsonRes.status);
      expect(json).not.toBe(planted);
      // The planted value is still not the victim: unknown, or the attacker's own account.
      const me = await call('GET', 'me', { token: planted });
      if (me.status === 200) expect(me.body.user.email).toBe(attacker.email);
      else expect(me.status).toBe(401);
    }
  });

  it('log-out ends the session for bearer and cookie use, on both instances', async () => {
    const u = await person('logout');
    const res = await jsonLogin(a, u.email);
    const token = ((await res.json()) as { token: string }).token;
    registerSecret('session_token', token);
    expect((await b.call('GET', 'me', { token })).status).toBe(200); // cached on B
    expect((await a.call('POST', 'auth/logout', { token })).status).toBe(200);
    // B hears of it through the invalidation bus within moments.
    await eventually(async () => (await b.call('GET', 'me', { token })).status === 401);
    expect((await a.call('GET', 'me', { token })).status).toBe(401);
    const cookie = await a.fetch('/api/v1/me', { headers: { cookie: `paywire_session=${token}` } });
    expect(cookie.status).toBe(401);
    // The web form log-out too, and it clears the cookies.
    const web = ((await (await jsonLogin(a, u.email)).json()) as { token: string }).token;
    registerSecret('session_token', web);
    const out = await a.fetch('/logout', {
      method: 'POST',
      redirect: 'manual',
      headers: {
        cookie: `paywire_session=${web}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ _csrf: (await a.call('GET', 'me', { token: web })).body.csrf_token }),
    });
    expect(out.status).toBe(303);
    expect(out.headers.getSetCookie().some((c) => /^paywire_session=;/.test(c) || /Max-Age=0/i.test(c))).toBe(
      true,
    );
    await eventually(async () => (await a.call('GET', 'me', { token: web })).status === 401);
  });

  /**
   * The instance that ends a session or revokes a key must stop honouring it at once, not when its own
   * LISTEN connection hears the notification back (a window of milliseconds when idle, longer under load
   * or with a distant database; this suite saw 1-3 of 20 ended sessions and revoked keys still accepted
   * while auth used a bare pg_notify). Here that connection is made slow - its socket paused - so the
   * window is always open: only a local drop at once (`publishInvalidation`) passes.
   */
  it('log-out and key revocation take effect at once on the instance that did them', async () => {
    const u = await person('atonce');
    // The pause itself works: a log-out made on B stays unheard on A (a cached session) until A's
    // listener resumes - the documented "within moments on the other instances".
    const elsewhere = ((await (await jsonLogin(a, u.email)).json()) as { token: string }).token;
    registerSecret('session_token', elsewhere);
    await a.call('GET', 'me', { token: elsewhere });
    const deaf = pauseListener(a);
    try {
      await b.call('POST', 'auth/logout', { token: elsewhere });
      expect((await a.call('GET', 'me', { token: elsewhere })).status, 'A is deaf while paused').toBe(200);
    } finally {
      deaf.resume();
    }
    await eventually(async () => (await a.call('GET', 'me', { token: elsewhere })).status === 401);

    const slow = pauseListener(a);
    let sessions = 0;
    let keys = 0;
    try {
      for (let i = 0; i < 5; i++) {
        const token = ((await (await jsonLogin(a, u.email)).json()) as { token: string }).token;
        registerSecret('session_token', token);
        await a.call('GET', 'me', { token });
        await a.call('POST', 'auth/logout', { token });
        if ((await a.call('GET', 'me', { token })).status !== 401) sessions++;
        const k = (
          await a.call('POST', 'api-keys', { token: u.token, body: { name: 'k', scopes: ['credits:read'] } })
        ).body;
        registerSecret('api_key', k.key);
        await a.call('GET', 'credits/balance', { token: k.key });
        await a.call('DELETE', `api-keys/${k.id}`, { token: u.token });
        if ((await a.call('GET', 'credits/balance', { token: k.key })).status !== 401) keys++;
        count('attacks', 2);
      }
    } finally {
      slow.resume();
    }
    if (sessions || keys) {
      mismatch(
        `log-out / revocation not effective at once: ${sessions} of 5 sessions, ${keys} of 5 keys still accepted`,
      );
    }
    expect({ sessions_still_accepted: sessions, revoked_keys_still_accepted: keys }).toEqual({
      sessions_still_accepted: 0,
      revoked_keys_still_accepted: 0,
    });
  });

  it('brute force: the sixth wrong password locks the account (429 with Retry-After), the right one too, others unaffected, nothing written', async () => {
    const victim = await person('brute');
    const bystander = await person('bystander');
    const before = await allCounts(sys.database);
    const attempt = (password: string, email = victim.email) => {
      count('attacks');
      return call('POST', 'auth/login', { body: { email, password } });
    };
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong password ${i}`)).status).toBe(401);
    const locked = await attempt('wrong password 5');
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('rate_limited');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await attempt(PASSWORD)).status, 'the right password while locked').toBe(429);
    // The web form shares the throttle.
    const form = await a.fetch('/login', {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email: victim.email, password: PASSWORD }),
    });
    expect(form.status).toBe(429);
    expect(countChanges(before, await allCounts(sys.database))).toEqual([]);
    expect((await attempt(PASSWORD, bystander.email)).status).toBe(200);
  });

  it('brute force across many accounts from one address hits the per-address limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12 && !statuses.includes(429); i++) {
      const v = await person(`spray-${i}`);
      for (let j = 0; j < 4; j++) {
        count('attacks');
        // Through the socket: the per-address limit needs a client address.
        statuses.push(
          (await b.call('POST', 'auth/login', { body: { email: v.email, password: `nope ${j}` } })).status,
        );
      }
    }
    expect(statuses).toContain(429);
    expect(statuses.indexOf(429)).toBeLessThanOrEqual(40);
  });
});

/**
 * Makes an instance's invalidation listener slow: the socket of the pool client that LISTENs is paused,
 * so notifications wait in the kernel until resume() (pg internals, test-only).
 */
function pauseListener(inst: Instance) {
  type Client = {
    listenerCount(e: string): number;
    connection: { stream: { pause(): void; resume(): void } };
  };
  const clients = (inst.t.deps.database.pool as unknown as { _clients: Client[] })._clients;
  const listener = clients.find((c) => c.listenerCount('notification') > 0);
  if (!listener) throw new Error('no LISTEN connection found');
  listener.connection.stream.pause();
  return { resume: () => listener.connection.stream.resume() };
}

async function eventually(check: () => Promise<boolean>, ms = 3000) {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

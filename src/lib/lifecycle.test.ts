import type Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, createTestApp, type TestApp } from '../../test/harness';
import { overrideHandlers } from '../webhooks/dispatch';
import { defineHandler } from '../webhooks/handler';
import { processEvent, recordEvent } from '../webhooks/inbox';
import { Lifecycle } from './lifecycle';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe('graceful shutdown bookkeeping', () => {
  it('idle() waits for requests and event processing in flight, or gives up at its timeout', async () => {
    const l = new Lifecycle();
    expect(await l.idle(10)).toBe(true);
    const done = l.enterRequest();
    let release!: () => void;
    const event = l.trackEvent(() => new Promise<void>((r) => (release = r)));
    expect(l.inFlight).toEqual({ requests: 1, events: 1 });
    expect(await l.idle(20)).toBe(false);
    const waiting = l.idle(5_000);
    done();
    done(); // twice is harmless
    release();
    await event;
    expect(await waiting).toBe(true);
    expect(l.inFlight).toEqual({ requests: 0, events: 0 });
  });

  it('counts webhook processing in flight, wherever it started', async () => {
    let release!: () => void;
    overrideHandlers(t.deps, {
      'test.slow': defineHandler({ apply: () => new Promise<void>((r) => (release = r)) }),
    });
    try {
      const event = {
        id: 'evt_slow',
        type: 'test.slow',
        created: 1,
        data: { object: {} },
      } as unknown as Stripe.Event;
      await recordEvent(t.deps, event);
      const processing = processEvent(t.deps, 'evt_slow');
      await new Promise((r) => setTimeout(r, 50));
      expect(t.deps.lifecycle!.inFlight.events).toBe(1);
      release();
      expect(await processing).toBe('processed');
      expect(t.deps.lifecycle!.inFlight.events).toBe(0);
    } finally {
      overrideHandlers(t.deps, null);
    }
  });

  it('while draining, new requests get 503 shutting_down with Connection: close and write nothing', async () => {
    const before = await countRows(t.deps.database, ['stripe_events', 'users']);
    t.deps.lifecycle!.draining = true;
    try {
      const hook = await t.app.request('/api/v1/webhooks/stripe', { method: 'POST', body: '{}' });
      expect(hook.status).toBe(503);
      expect(hook.headers.get('connection')).toBe('close');
      expect((await hook.json()).error.code).toBe('shutting_down');
      const signup = await t.app.request('/api/v1/auth/signup', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'late@example.com', password: 'correct horse battery' }),
      });
      expect(signup.status).toBe(503);
      expect((await t.app.request('/readyz')).status).toBe(503);
      expect((await t.app.request('/healthz')).status).toBe(200);
      expect(await countRows(t.deps.database, ['stripe_events', 'users'])).toEqual(before);
    } finally {
      t.deps.lifecycle!.draining = false;
    }
  });
});

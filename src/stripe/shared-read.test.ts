import type Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../lib/clock';
import { sharedRead } from './shared-read';

/** A read the test settles by hand, counting how many were started. */
function reads() {
  const started: Array<{ resolve: (v: string) => void; reject: (e: unknown) => void }> = [];
  const read = () =>
    new Promise<string>((resolve, reject) => {
      started.push({ resolve, reject });
    });
  return { started, read };
}

const setup = () => {
  const clock = new ManualClock(new Date('2026-01-01T00:00:00Z'));
  return { deps: { wallClock: clock }, clock, stripe: {} as Stripe, ...reads() };
};

/** A moment on the monotonic clock strictly after every read started so far. */
async function later(): Promise<number> {
  const before = performance.now();
  while (performance.now() <= before) await new Promise((r) => setTimeout(r, 1));
  return performance.now();
}

describe('sharedRead', () => {
  it('shares a read in flight that started after the delivery arrived', async () => {
    const { deps, stripe, started, read } = setup();
    const arrived = performance.now();
    await later();
    const first = sharedRead(deps, stripe, 'subscription:sub_1', arrived, read);
    const second = sharedRead(deps, stripe, 'subscription:sub_1', arrived, read);
    expect(started).toHaveLength(1);
    expect(second.value).toBe(first.value);
    started[0]!.resolve('v1');
    expect(await second.value).toBe('v1');
  });

  it('does not share a read that started before the delivery arrived: the newer read is joined after', async () => {
    const { deps, stripe, started, read } = setup();
    const old = sharedRead(deps, stripe, 'subscription:sub_1', undefined, read);
    const arrived = await later();
    const own = sharedRead(deps, stripe, 'subscription:sub_1', arrived, read);
    expect(started).toHaveLength(2);
    expect(own.value).not.toBe(old.value);
    // The old read settling does not forget the newer one, which a delivery arrived before it joins.
    started[0]!.resolve('old');
    await old.value;
    const joined = sharedRead(deps, stripe, 'subscription:sub_1', arrived - 1, read);
    expect(joined.value).toBe(own.value);
    expect(started).toHaveLength(2);
    started[1]!.resolve('new');
    expect(await joined.value).toBe('new');
  });

  it('never shares without an arrival, nor across keys or Stripe clients', async () => {
    const { deps, stripe, started, read } = setup();
    const arrived = performance.now();
    await later();
    sharedRead(deps, stripe, 'invoice:in_1?expand=payments', arrived, read);
    sharedRead(deps, stripe, 'invoice:in_1?expand=payments', undefined, read);
    sharedRead(deps, stripe, 'invoice:in_1', arrived, read);
    sharedRead(deps, {} as Stripe, 'invoice:in_1?expand=payments', arrived, read);
    expect(started).toHaveLength(4);
  });

  it('rejects every sharer when the shared read fails', async () => {
    const { deps, stripe, started, read } = setup();
    const arrived = performance.now();
    await later();
    const first = sharedRead(deps, stripe, 'price:price_1', arrived, read);
    const second = sharedRead(deps, stripe, 'price:price_1', arrived, read);
    started[0]!.reject(Object.assign(new Error('boom'), { statusCode: 500 }));
    await expect(first.value).rejects.toThrow('boom');
    await expect(second.value).rejects.toThrow('boom');
  });

  it('hands every sharer the wall time the read started as its watermark', async () => {
    const { deps, clock, stripe, started, read } = setup();
    const arrived = performance.now();
    await later();
    const first = sharedRead(deps, stripe, 'product:prod_1', arrived, read);
    clock.advance(5_000);
    const second = sharedRead(deps, stripe, 'product:prod_1', arrived, read);
    expect(first.asOf).toEqual(new Date('2026-01-01T00:00:00Z'));
    expect(second.asOf).toEqual(first.asOf);
    started[0]!.resolve('p');
    await second.value;
  });

  it('keeps nothing once the read settles, fulfilled or rejected', async () => {
    const { deps, stripe, started, read } = setup();
    const arrived = performance.now();
    await later();
    const done = sharedRead(deps, stripe, 'checkout_session:cs_1', arrived, read);
    started[0]!.resolve('s');
    await done.value;
    const again = sharedRead(deps, stripe, 'checkout_session:cs_1', arrived, read);
    expect(started).toHaveLength(2);
    started[1]!.reject(new Error('down'));
    await expect(again.value).rejects.toThrow('down');
    sharedRead(deps, stripe, 'checkout_session:cs_1', arrived, read);
    expect(started).toHaveLength(3);
  });
});

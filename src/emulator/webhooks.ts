import type { EmulatorLogger } from './context';
import type { EmulatorEvent } from './events';
import type { FaultState } from './faults';
import { signPayload } from './signing';
import type { Store } from './store';

/**
 * Webhook delivery. Each target (a webhook endpoint, or the `forwardTo` URL) has its own queue and a
 * single worker, so first attempts reach one target in event creation order. A failed attempt (non-2xx,
 * timeout, connection error) is retried after `retryDelaysMs[n]`, then given up. Nothing here ever runs
 * inside the state lock: the receiving app may call the emulator while handling the webhook.
 */
export interface WebhookEndpointRecord {
  id: string;
  url: string;
  enabled_events: string[];
  status: 'enabled' | 'disabled';
}

interface Delivery {
  id: number;
  eventId: string;
  target: string; // endpoint id, or FORWARD
  attempts: number;
  firstAttempt: Promise<void>;
  markAttempted: () => void;
}

export interface PendingDeliveryJSON {
  eventId: string;
  target: string;
  attempts: number;
}

const FORWARD = '__forward__';
export const DEFAULT_RETRY_DELAYS_MS = [1_000, 5_000, 30_000, 120_000];
const ATTEMPT_TIMEOUT_MS = 10_000;

export interface WebhookDeps {
  store: Store;
  faults: FaultState;
  logger: EmulatorLogger;
  retryDelaysMs: number[];
  forwardTo: string | null;
  forwardSecret: string;
  /** The private collection holding endpoint secrets, keyed by endpoint id. */
  secretOf(endpointId: string): string | undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class WebhookDispatcher {
  private seq = 0;
  private queues = new Map<string, Delivery[]>();
  private running = new Map<string, Promise<void>>();
  private retryTimers = new Map<Delivery, NodeJS.Timeout>();
  private unattempted = new Set<Delivery>();
  private closed = false;

  constructor(private deps: WebhookDeps) {}

  private endpoints(): WebhookEndpointRecord[] {
    return this.deps.store.all<WebhookEndpointRecord>('webhook_endpoints');
  }

  private static matches(ep: WebhookEndpointRecord, type: string): boolean {
    return ep.status === 'enabled' && (ep.enabled_events.includes('*') || ep.enabled_events.includes(type));
  }

  matchingEndpointCount(type: string): number {
    return this.endpoints().filter((ep) => WebhookDispatcher.matches(ep, type)).length;
  }

  /** Queues deliveries for a just-created event (unless delivery is switched off by a fault). */
  enqueue(event: EmulatorEvent): void {
    const fault = this.deps.faults.delivery;
    if (this.closed || fault.off) return;
    const targets = this.endpoints()
      .filter((ep) => WebhookDispatcher.matches(ep, event.type))
      .map((ep) => ep.id);
    if (this.deps.forwardTo) targets.push(FORWARD);
    const copies = 1 + Math.max(0, fault.duplicate ?? 0);
    for (const target of targets) for (let i = 0; i < copies; i++) this.add(event.id, target, 0);
  }

  private add(eventId: string, target: string, attempts: number): void {
    let markAttempted!: () => void;
    const firstAttempt = new Promise<void>((r) => {
      markAttempted = r;
    });
    const d: Delivery = { id: ++this.seq, eventId, target, attempts, firstAttempt, markAttempted };
    if (attempts === 0) this.unattempted.add(d);
    else d.markAttempted();
    this.push(d);
  }

  private push(d: Delivery): void {
    const q = this.queues.get(d.target) ?? [];
    q.push(d);
    this.queues.set(d.target, q);
    // Start on a later tick so every event of the current request is queued first (shuffle, order).
    setImmediate(() => this.kick(d.target));
  }

  private kick(target: string): Promise<void> {
    const existing = this.running.get(target);
    if (existing) return existing;
    const run = this.work(target).finally(() => this.running.delete(target));
    this.running.set(target, run);
    return run;
  }

  private async work(target: string): Promise<void> {
    const q = this.queues.get(target);
    while (q && q.length > 0 && !this.closed) {
      const fault = this.deps.faults.delivery;
      const idx = fault.shuffle ? Math.floor(Math.random() * q.length) : 0;
      const [d] = q.splice(idx, 1);
      if (fault.delay_ms) await sleep(fault.delay_ms);
      await this.attempt(d);
    }
  }

  private async attempt(d: Delivery): Promise<void> {
    d.attempts++;
    let ok = false;
    const event = this.deps.store.get<EmulatorEvent>('events', d.eventId);
    const dest = this.destination(d.target);
    try {
      if (!event || !dest) {
        ok = true; // endpoint deleted/disabled or event reset away: nothing to deliver
      } else if (d.attempts <= (this.deps.faults.delivery.fail_first ?? 0)) {
        ok = false; // injected failure: the attempt never leaves the emulator
      } else {
        const body = JSON.stringify(event, null, 2);
        const res = await fetch(dest.url, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json; charset=utf-8',
            'User-Agent': 'Stripe/1.0 (+https://stripe.com/docs/webhooks)',
            'Stripe-Signature': signPayload(body, dest.secret),
          },
          body,
          signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
        });
        await res.arrayBuffer().catch(() => undefined);
        ok = res.status >= 200 && res.status < 300;
        if (!ok)
          this.deps.logger.warn(
            { event: d.eventId, status: res.status, attempt: d.attempts },
            'webhook rejected',
          );
      }
    } catch (err) {
      this.deps.logger.warn({ event: d.eventId, attempt: d.attempts, err: String(err) }, 'webhook failed');
    }
    this.unattempted.delete(d);
    d.markAttempted();
    if (!ok && !this.closed) this.scheduleRetry(d);
  }

  private destination(target: string): { url: string; secret: string } | null {
    if (target === FORWARD) {
      return this.deps.forwardTo ? { url: this.deps.forwardTo, secret: this.deps.forwardSecret } : null;
    }
    const ep = this.deps.store.get<WebhookEndpointRecord>('webhook_endpoints', target);
    const secret = this.deps.secretOf(target);
    if (ep?.status !== 'enabled' || !secret) return null;
    return { url: ep.url, secret };
  }

  private scheduleRetry(d: Delivery): void {
    const delays = this.deps.retryDelaysMs;
    const delay = delays[d.attempts - 1];
    if (delay === undefined) {
      this.deps.logger.warn({ event: d.eventId, attempts: d.attempts }, 'webhook delivery given up');
      return;
    }
    const timer = setTimeout(() => {
      this.retryTimers.delete(d);
      this.push(d);
    }, delay);
    timer.unref();
    this.retryTimers.set(d, timer);
  }

  /** Resolves when every delivery queued so far has had its first attempt (or after timeoutMs). */
  async settle(timeoutMs = 30_000): Promise<void> {
    const waits = [...this.unattempted].map((d) => d.firstAttempt);
    if (waits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(waits),
      new Promise<void>((r) => {
        timer = setTimeout(r, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** Attempts everything pending now, pulling scheduled retries forward; resolves when done. */
  async flush(): Promise<void> {
    for (const [d, timer] of this.retryTimers) {
      clearTimeout(timer);
      this.retryTimers.delete(d);
      const q = this.queues.get(d.target) ?? [];
      q.push(d);
      this.queues.set(d.target, q);
    }
    // Twice: a worker already running when flush began may finish before the newly queued items.
    for (let i = 0; i < 2; i++) {
      await Promise.all([...this.queues.keys()].map((t) => this.kick(t)));
    }
  }

  pendingCount(): number {
    let n = this.retryTimers.size;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  toJSON(): PendingDeliveryJSON[] {
    const out: PendingDeliveryJSON[] = [];
    for (const q of this.queues.values())
      for (const d of q) out.push({ eventId: d.eventId, target: d.target, attempts: d.attempts });
    for (const d of this.retryTimers.keys())
      out.push({ eventId: d.eventId, target: d.target, attempts: d.attempts });
    return out;
  }

  restore(pending: PendingDeliveryJSON[]): void {
    for (const p of pending) this.add(p.eventId, p.target, p.attempts);
  }

  /** Drops everything queued (reset). */
  clear(): void {
    for (const t of this.retryTimers.values()) clearTimeout(t);
    this.retryTimers.clear();
    for (const q of this.queues.values()) q.length = 0;
    for (const d of this.unattempted) d.markAttempted();
    this.unattempted.clear();
  }

  close(): void {
    this.closed = true;
    this.clear();
  }
}

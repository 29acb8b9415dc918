import type { Database } from '../../../src/db/client';
import type { Deps } from '../../../src/deps';
import { type Emulator, startEmulator } from '../../../src/emulator/index';
import { seedDemoCatalog } from '../../../src/modules/catalog/demo';
import { createStripeClient } from '../../../src/stripe/client';
import { signupUser } from '../../harness';
import { cloneTemplate, openPostgres, type ScratchDatabase } from './db';
import { type Instance, startInstance } from './apps';
import { count, registerSecret, saveLog } from './report';

export const ADMIN_EMAIL = 'admin@reliability.test';
export const PUBLIC_URL = 'http://127.0.0.1:8000';
export const DAY = 86_400;
/**
 * Business time of every lifecycle run starts here (the emulator clock is moved to it before anything
 * happens), so that Stripe-side times - periods, proration dates - are the same in every run and two runs
 * can be compared row by row. A fixed date in the future: the emulator clock only moves forward.
 */
export const T0 = Math.max(
  Date.UTC(2031, 0, 6, 12, 0, 0) / 1000,
  // Should the suite still run after that date: a year ahead, on a day boundary (the same in a process).
  Math.ceil((Date.now() / 1000 + 366 * DAY) / DAY) * DAY,
);

/**
 * A whole deployment for one test: a fresh PostgreSQL database (cloned from the migrated template), one
 * emulator, and N app instances, each with its own pool, its own Stripe client and its own webhook
 * endpoint registered with the emulator (so every event reaches every instance), the demo catalog and
 * an admin.
 */
export interface System {
  label: string;
  db: ScratchDatabase;
  emu: Emulator;
  instances: Instance[];
  /** The first instance's deps: for reading state (services, raw SQL). */
  deps: Deps;
  database: Database;
  adminToken: string;
  /** Control API of the emulator (JSON). */
  control<T = Any>(method: string, path: string, body?: unknown): Promise<T>;
  /** Moves the emulator clock to T0 + offset seconds (renewals and dunning run) and drains deliveries. */
  at(offsetSeconds: number): Promise<void>;
  /** Delivers every pending webhook, retries included, until nothing is pending. */
  drain(): Promise<void>;
  /** Ids of the events the emulator made after the instances' endpoints were registered. */
  deliverableEvents(): string[];
  deliveries(): number;
  close(): Promise<void>;
}

export interface SystemOptions {
  template: string;
  label: string;
  instances: number;
  env?: Record<string, string>;
  retryDelaysMs?: number[];
  /** Where the apps' Stripe clients point (a recording proxy); default the emulator itself. */
  stripeUrl?: (emulatorUrl: string) => Promise<string> | string;
  /** Move the clock to T0 before seeding (lifecycle runs); default true. */
  fixedTime?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: control answers are inspected freely
type Any = any;

export async function startSystem(opts: SystemOptions): Promise<System> {
  const db = await cloneTemplate(opts.template, opts.label.replace(/[^a-z0-9]/g, '').slice(0, 12) || 'r');
  const emuLog: string[] = [];
  const emuLogger = {
    info: (o: object, m?: string) => void emuLog.push(`${JSON.stringify({ level: 'info', msg: m, ...o })}\n`),
    warn: (o: object, m?: string) => void emuLog.push(`${JSON.stringify({ level: 'warn', msg: m, ...o })}\n`),
  };
  const emu = await startEmulator({
    port: 0,
    retryDelaysMs: opts.retryDelaysMs ?? [10, 20, 40, 80, 160, 320],
    logger: emuLogger,
  });
  if (opts.fixedTime !== false) emu.ctx.clock.advanceTo(T0);
  const stripeUrl = opts.stripeUrl ? await opts.stripeUrl(emu.url) : emu.url;
  const databases: Database[] = [];
  const instances: Instance[] = [];
  for (let i = 0; i < opts.instances; i++) {
    const database = await openPostgres(db.url, 8);
    databases.push(database);
    const stripe = createStripeClient({ STRIPE_ENABLED: true }, { emulatorUrl: stripeUrl })!;
    instances.push(
      await startInstance({
        name: `${opts.label}-${String.fromCharCode(65 + i)}`,
        database,
        stripe,
        clock: emu.clock,
        env: { ADMIN_EMAIL, PUBLIC_URL, ...opts.env },
      }),
    );
  }
  const deps = instances[0]!.t.deps;
  // Seeded before any endpoint exists, as the billing harness does: the push and its own price.* events
  // would otherwise race each other.
  await seedDemoCatalog(deps);
  const before = new Set(emu.ctx.store.all<{ id: string }>('events').map((e) => e.id));
  for (const inst of instances) {
    const endpoint = await deps.stripe!.webhookEndpoints.create({
      url: inst.webhookUrl,
      enabled_events: ['*'],
    });
    inst.t.config.webhookSecrets.push(endpoint.secret!);
    registerSecret('webhook_secret', endpoint.secret);
  }
  const admin = await signupUser(instances[0]!.call, ADMIN_EMAIL);
  registerSecret('session_token', admin.token);

  const control = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${emu.url}${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`emulator ${method} ${path}: ${res.status} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  };

  const drain = async () => {
    for (let i = 0; i < 100; i++) {
      await emu.flush();
      if (emu.ctx.webhooks.pendingCount() === 0) return;
    }
    throw new Error(
      `${opts.label}: webhook deliveries did not drain (${emu.ctx.webhooks.pendingCount()} pending)`,
    );
  };

  let closed = false;
  const system: System = {
    label: opts.label,
    db,
    emu,
    instances,
    deps,
    database: deps.database,
    adminToken: admin.token,
    control,
    drain,
    async at(offset) {
      const target = T0 + offset;
      if (target > emu.clock.nowSeconds()) await control('POST', '/_emulator/clock/advance', { to: target });
      await drain();
    },
    deliverableEvents: () =>
      emu.ctx.store
        .all<{ id: string }>('events')
        .map((e) => e.id)
        .filter((id) => !before.has(id)),
    deliveries: () => instances.reduce((n, i) => n + i.deliveries(), 0),
    async close() {
      if (closed) return;
      closed = true;
      count('deliveries', system.deliveries());
      await emu.close();
      for (const inst of instances) await inst.close();
      for (const d of databases) await d.close().catch(() => undefined);
      saveLog(`emulator-${opts.label}`, emuLog);
      await db.drop();
    },
  };
  return system;
}

export type { Any };

import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createEmulatorApp } from './app';
import { advanceClock } from './billing/index';
import type { EmulatorContext, EmulatorLogger } from './context';
import { StateSaver, readStateFile, restoreState } from './persistence';
import { sweepExpiredSessions } from './resources/checkout';
import type { EmulatorApp } from './router';

export { createEmulatorApp } from './app';
export type { EmulatorContext } from './context';
export { API_VERSION } from './context';
export { signPayload } from './signing';

export interface EmulatorOptions {
  /** 0 = a random free port; default 12111. */
  port?: number;
  /** Default 127.0.0.1 (the emulator is never meant to be exposed). */
  host?: string;
  /** State file; loaded at start, written atomically after changes and on close. */
  dataFile?: string;
  /** Also deliver every event here, signed with `forwardSecret` (like `stripe listen --forward-to`). */
  forwardTo?: string;
  /** Webhook retry delays; default 1 s, 5 s, 30 s, 2 min, then give up. Use ms values in tests. */
  retryDelaysMs?: number[];
  logger?: EmulatorLogger;
}

export interface Emulator {
  url: string;
  port: number;
  host: string;
  /** The emulator-wide clock (business time). */
  clock: { now(): Date; nowSeconds(): number };
  /** Secret that signs deliveries to `forwardTo` (kept in the data file across restarts). */
  forwardSecret: string;
  app: EmulatorApp;
  ctx: EmulatorContext;
  /** Delivers every pending webhook now (retries included); resolves when done. */
  flush(): Promise<void>;
  /** Advances the emulator-wide clock (billing runs renewals etc.); resolves after deliveries. */
  advanceClock(seconds: number): Promise<void>;
  /** Stops the server and writes the state file. */
  close(): Promise<void>;
}

const SWEEP_INTERVAL_MS = 15_000;

export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const host = opts.host ?? '127.0.0.1';
  const state = opts.dataFile ? readStateFile(opts.dataFile) : null;
  const { app, ctx } = createEmulatorApp({
    forwardTo: opts.forwardTo ?? null,
    forwardSecret: state?.forwardSecret,
    retryDelaysMs: opts.retryDelaysMs,
    logger: opts.logger,
  });
  let saver: StateSaver | null = null;
  if (opts.dataFile) {
    const s = new StateSaver(ctx, opts.dataFile);
    saver = s;
    ctx.persistSoon = () => s.schedule();
    ctx.store.onChange(() => s.schedule());
  }
  if (state) restoreState(ctx, state);

  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const srv = serve({ fetch: app.fetch, port: opts.port ?? 12111, hostname: host }, () => resolve(srv));
    srv.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;
  ctx.baseUrl = url;

  // Sessions also expire in wall time, not only when the clock is advanced.
  const sweep = setInterval(() => {
    void ctx.lock.run(() => sweepExpiredSessions(ctx)).catch(() => undefined);
  }, SWEEP_INTERVAL_MS);
  sweep.unref();

  let closed = false;
  const emulator: Emulator = {
    url,
    port,
    host,
    clock: ctx.clock,
    forwardSecret: ctx.forwardSecret,
    app,
    ctx,
    flush: () => ctx.webhooks.flush(),
    advanceClock: (seconds) => advanceClock(ctx, ctx.clock.nowSeconds() + seconds),
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
      });
      if (saver) {
        ctx.store.changed();
        await saver.flush();
      }
      ctx.webhooks.close();
    },
  };
  opts.logger?.info(
    { url, dataFile: opts.dataFile ?? null, forwardTo: opts.forwardTo ?? null },
    'stripe emulator listening',
  );
  return emulator;
}

import type { Database } from '../../src/db/client';
import type { Deps } from '../../src/deps';
import type { BenchDatabase } from './database';
import type { ChildServer } from './servers';

/** What every benchmark gets from the orchestrator. */
export interface BenchContext {
  pg: BenchDatabase;
  /** The orchestrator's own pool on the bench database (library figures and baselines). */
  database: Database;
  deps: Deps;
  /** The product (startServer in a child process) on the same database. */
  app: ChildServer;
  /** The standalone Stripe emulator the app talks to. */
  emulatorUrl: string;
  /** An admin's service key on the app (acts for users through `user_id`). */
  serviceKey: string;
  /** Measured seconds per figure, and warm-up seconds before each. */
  seconds: number;
  warmup: number;
  /** Also measure on PGlite. */
  pglite: boolean;
  log(message: string): void;
}

export const CONCURRENCY = 64;

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { EmulatorContext } from './context';
import type { IdempotencyRecord } from './idempotency';
import type { StoredObject } from './store';
import type { PendingDeliveryJSON } from './webhooks';

/**
 * The state file: every object, event, idempotency record, the clock offset, the forward secret and
 * pending deliveries. Written atomically (temp file + rename) after a short debounce, and on close.
 */
export interface StateFile {
  version: 1;
  savedAt: string;
  clockOffsetMs: number;
  forwardSecret: string;
  store: Record<string, StoredObject[]>;
  idempotency: Array<[string, IdempotencyRecord]>;
  deliveries: PendingDeliveryJSON[];
}

export function readStateFile(file: string): StateFile | null {
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  if (!text.trim()) return null;
  const data = JSON.parse(text) as StateFile;
  if (data.version !== 1) throw new Error(`Unsupported emulator state file version in ${file}`);
  return data;
}

export function restoreState(ctx: EmulatorContext, state: StateFile): void {
  ctx.store.load(state.store);
  ctx.clock.restoreOffset(state.clockOffsetMs);
  ctx.idempotency.load(state.idempotency ?? []);
  ctx.webhooks.restore(state.deliveries ?? []);
  for (const hook of ctx.resetHooks) hook();
}

function snapshot(ctx: EmulatorContext): StateFile {
  return {
    version: 1,
    savedAt: new Date().toISOString(),
    clockOffsetMs: ctx.clock.offsetMs(),
    forwardSecret: ctx.forwardSecret,
    store: ctx.store.toJSON(),
    idempotency: ctx.idempotency.toJSON(),
    deliveries: ctx.webhooks.toJSON(),
  };
}

export class StateSaver {
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;

  constructor(
    private ctx: EmulatorContext,
    private file: string,
    private debounceMs = 250,
  ) {
    mkdirSync(dirname(file), { recursive: true });
  }

  schedule(): void {
    this.dirty = true;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.debounceMs);
  }

  /** Writes now if anything changed; serialised so two writes never race on the temp file. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.dirty) return this.writing;
    this.dirty = false;
    const data = JSON.stringify(snapshot(this.ctx));
    this.writing = this.writing.then(async () => {
      const tmp = `${this.file}.${process.pid}.tmp`;
      await writeFile(tmp, data);
      await rename(tmp, this.file);
    });
    return this.writing.catch((err) => {
      this.ctx.logger.warn({ err: String(err), file: this.file }, 'emulator state write failed');
    });
  }
}

/**
 * The state lock: one async section at a time. Only state changes run inside it; webhook deliveries and
 * anything that waits for another HTTP answer run outside (the in-process app may call back into the
 * emulator while handling a webhook, which would deadlock otherwise). Not re-entrant.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  private held = false;

  get isHeld(): boolean {
    return this.held;
  }

  async run<T>(fn: () => T | Promise<T>): Promise<T> {
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((r) => {
      release = r;
    });
    await previous;
    this.held = true;
    try {
      return await fn();
    } finally {
      this.held = false;
      release();
    }
  }
}

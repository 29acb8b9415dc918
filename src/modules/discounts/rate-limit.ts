/**
 * A fixed-window request counter per key, in memory and per instance (like the log-in throttle): it
 * only has to stop one client from guessing codes quickly; N instances allow N times the budget.
 */
export class WindowLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  /** Counts one request; returns 0 when allowed, else the milliseconds until the window resets. */
  hit(key: string): number {
    const now = this.now();
    const w = this.windows.get(key);
    if (!w || w.resetAt <= now) {
      this.windows.set(key, { count: 1, resetAt: now + this.windowMs });
      if (this.windows.size > 100_000) this.evict(now);
      return 0;
    }
    if (w.count >= this.max) return w.resetAt - now;
    w.count += 1;
    return 0;
  }

  private evict(now: number): void {
    for (const [key, w] of this.windows) if (w.resetAt <= now) this.windows.delete(key);
  }
}

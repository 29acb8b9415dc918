/**
 * Failed log-in throttling: per account (low threshold) and per client address (high threshold), in
 * memory with a fixed window. It is per instance on purpose: a failed log-in writes no row. With N
 * instances an attacker gets at most N times the per-account budget per window.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; until: number }>();

  constructor(
    private readonly maxPerAccount: number,
    private readonly maxPerAddress: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the next attempt is allowed, or 0. */
  blockedFor(account: string, address: string): number {
    return Math.max(
      this.check(`a:${account}`, this.maxPerAccount),
      this.check(`i:${address}`, this.maxPerAddress),
    );
  }

  recordFailure(account: string, address: string): void {
    this.bump(`a:${account}`);
    this.bump(`i:${address}`);
  }

  recordSuccess(account: string): void {
    this.failures.delete(`a:${account}`);
  }

  private check(key: string, max: number): number {
    const entry = this.failures.get(key);
    if (!entry) return 0;
    const left = entry.until - this.now();
    if (left <= 0) {
      this.failures.delete(key);
      return 0;
    }
    return entry.count >= max ? left : 0;
  }

  private bump(key: string): void {
    const now = this.now();
    const entry = this.failures.get(key);
    if (!entry || entry.until <= now) this.failures.set(key, { count: 1, until: now + this.windowMs });
    else entry.count += 1;
    if (this.failures.size > 100_000) this.evict(now);
  }

  private evict(now: number): void {
    for (const [key, entry] of this.failures) if (entry.until <= now) this.failures.delete(key);
  }
}

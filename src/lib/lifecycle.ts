/**
 * What a graceful shutdown waits for: HTTP requests being answered and Stripe events being processed
 * (from the webhook route, a replay, the retry job or `paywire sync`). Once `draining` is set, the app
 * answers new requests 503 with `Connection: close`, so a load balancer or Stripe tries elsewhere or later.
 */
export class Lifecycle {
  draining = false;
  private requests = 0;
  private events = 0;
  private waiters = new Set<() => void>();

  get inFlight(): { requests: number; events: number } {
    return { requests: this.requests, events: this.events };
  }

  /** Counts one HTTP request until the returned function is called. */
  enterRequest(): () => void {
    this.requests++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.requests--;
      this.wake();
    };
  }

  /** Runs `fn` counted as event processing. */
  async trackEvent<T>(fn: () => Promise<T>): Promise<T> {
    this.events++;
    try {
      return await fn();
    } finally {
      this.events--;
      this.wake();
    }
  }

  /** Resolves true once nothing is in flight, or false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.requests === 0 && this.events === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (this.requests !== 0 || this.events !== 0) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        resolve(false);
      }, timeoutMs);
      timer.unref();
      this.waiters.add(check);
    });
  }

  private wake(): void {
    if (this.requests === 0 && this.events === 0) for (const w of [...this.waiters]) w();
  }
}

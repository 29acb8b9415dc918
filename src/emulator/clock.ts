/**
 * The emulator-wide clock. It starts at wall time and only ever moves forward by an offset, which is
 * persisted so a restart keeps the same business time. Listeners run synchronously after every advance
 * (checkout expiry sweeps and the like); billing's advance engine moves it step by step.
 */
export interface EmulatorClock {
  now(): Date;
  nowSeconds(): number;
  /** Milliseconds added to wall time. */
  offsetMs(): number;
  /** Move to an absolute Unix time (seconds). Never moves backwards (earlier values are ignored). */
  advanceTo(seconds: number): void;
  advanceBy(seconds: number): void;
  /** Register a callback run after each advance with the new time (seconds). */
  onAdvance(listener: (nowSeconds: number) => void): void;
  /** Used by persistence when loading state. */
  restoreOffset(offsetMs: number): void;
}

export function createClock(initialOffsetMs = 0): EmulatorClock {
  let offset = initialOffsetMs;
  const listeners: Array<(now: number) => void> = [];
  const nowMs = () => Date.now() + offset;
  const clock: EmulatorClock = {
    now: () => new Date(nowMs()),
    nowSeconds: () => Math.floor(nowMs() / 1000),
    offsetMs: () => offset,
    advanceTo(seconds) {
      const target = seconds * 1000;
      if (target <= nowMs()) return;
      offset = target - Date.now();
      for (const l of listeners) l(clock.nowSeconds());
    },
    advanceBy(seconds) {
      if (seconds <= 0) return;
      clock.advanceTo(Math.floor(nowMs() / 1000) + seconds);
    },
    onAdvance(listener) {
      listeners.push(listener);
    },
    restoreOffset(o) {
      offset = o;
    },
  };
  return clock;
}

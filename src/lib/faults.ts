/**
 * Test-only crash points for the reliability suite (test/reliability/crashes.test.ts). Inert unless the
 * process was started with `PAYWIRE_FAULT=<point>` or `PAYWIRE_FAULT=<point>@<detail>` (e.g.
 * `webhook:after-handler@checkout.session.completed`), and always inert in production. When a call names
 * the armed point, the process kills itself with SIGKILL: no cleanup, no rollback from our side, the
 * database connection simply drops - as in a power cut or an OOM kill.
 *
 * Read once at start-up, so a call on the hot path costs one comparison.
 */
const armed: { point: string; detail: string | null } | null = (() => {
  const raw = process.env.PAYWIRE_FAULT?.trim();
  if (!raw || process.env.NODE_ENV === 'production') return null;
  const at = raw.indexOf('@');
  return at < 0 ? { point: raw, detail: null } : { point: raw.slice(0, at), detail: raw.slice(at + 1) };
})();

/** Crash points compiled into the product (the suite checks each one it arms exists here). */
export const FAULT_POINTS = [
  'webhook:after-insert',
  'webhook:after-handler',
  'webhook:after-commit',
  'credits:before-commit',
  'credits:after-commit',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export function faultPoint(point: FaultPoint, detail?: string): void {
  if (armed === null || armed.point !== point) return;
  if (armed.detail !== null && armed.detail !== detail) return;
  process.stderr.write(`PAYWIRE_FAULT: ${point}${detail ? `@${detail}` : ''} reached, killing the process\n`);
  process.kill(process.pid, 'SIGKILL');
}

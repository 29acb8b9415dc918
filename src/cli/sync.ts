import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { AppError } from '../lib/errors';
import { type Progress, type SyncSummary, syncFromStripe } from '../modules/sync/sync.service';
import type { ObjectCounts } from '../modules/sync/sync.types';
import { withStripeDeps } from './stripe-deps';

/** `paywire sync [--dry-run] [--since ISO | --all-events]`: catch up with Stripe after a webhook outage. */
export function registerSyncCommand(program: Command): void {
  program
    .command('sync')
    .description(
      're-read Stripe (catalog, customers, subscriptions, invoices, charges, disputes) and catch up on ' +
        'events since the last sync, through the same handlers as webhooks; a second run changes nothing',
    )
    .option('--dry-run', 'compute what would change, write nothing (one rolled-back transaction)')
    .option('--since <iso>', 'list events created since this time instead of since the stored cursor')
    .option('--all-events', 'list every event Stripe still keeps (30 days), ignoring the cursor')
    .action(async (opts: { dryRun?: boolean; since?: string; allEvents?: boolean }) => {
      let since: Date | null | undefined;
      if (opts.allEvents) since = null;
      else if (opts.since) {
        since = new Date(opts.since);
        if (Number.isNaN(since.getTime())) throw new Error(`--since: not a date: ${opts.since}`);
      }
      const progress = progressReporter(process.stdout.isTTY === true);
      let summary: SyncSummary;
      try {
        summary = await withStripeDeps((deps) =>
          syncFromStripe(deps, { dryRun: !!opts.dryRun, onProgress: progress.update, since }),
        );
      } catch (err) {
        if (err instanceof AppError) throw new Error(err.message);
        throw err;
      } finally {
        progress.stop();
      }
      for (const line of formatSummary(summary)) console.log(line);
      if (summary.failures.length || summary.events.failed) process.exitCode = 1;
    });
}

const counts = (c: ObjectCounts) =>
  `${c.seen} seen, ${c.changed} changed, ${c.unchanged} unchanged` +
  (c.skipped ? `, ${c.skipped} not Paywire's` : '') +
  (c.failed ? `, ${c.failed} FAILED` : '');

/** The summary as lines: what changed (or would have), then failures. */
export function formatSummary(s: SyncSummary): string[] {
  const e = s.events;
  const lines = [
    s.dry_run ? 'Dry run: nothing was written. This is what sync would do:' : 'Sync finished.',
    `  products:      ${s.catalog.products.created} created, ${s.catalog.products.updated} updated, ${s.catalog.products.unchanged} unchanged`,
    `  prices:        ${s.catalog.prices.created} created, ${s.catalog.prices.updated} updated, ${s.catalog.prices.unchanged} unchanged`,
    `  customers:     ${counts(s.customers)}`,
    `  events:        ${e.listed} listed since ${e.since ?? 'the beginning'}: ${e.recorded} missed, ${e.processed} applied, ` +
      `${e.ignored} ignored, ${e.duplicate} already handled${e.failed ? `, ${e.failed} FAILED (retried by the webhooks.retry job)` : ''}`,
    `  subscriptions: ${counts(s.subscriptions)}`,
    `  checkouts:     ${counts(s.checkouts)}`,
    `  invoices:      ${counts(s.invoices)}`,
    `  charges:       ${counts(s.charges)}`,
    `  disputes:      ${counts(s.disputes)}`,
    s.changes === 0
      ? 'Local state already matched Stripe: nothing changed.'
      : `${s.changes} change(s)${s.dry_run ? ' would be made' : ''}.`,
  ];
  if (!s.dry_run && e.cursor) lines.push(`Event cursor: ${e.cursor}`);
  for (const w of s.warnings) lines.push(`warning: ${w}`);
  for (const f of s.failures) lines.push(`FAILED ${f.object} ${f.id}: ${f.error}`);
  return lines;
}

/** A bar per phase on a terminal; otherwise a line when a phase starts and when it ends (logs, CI). */
export function progressReporter(tty: boolean, out: (line: string) => void = console.log) {
  let bar: cliProgress.SingleBar | null = null;
  let phase = '';
  const update: Progress = (p, done, total) => {
    if (p !== phase) {
      bar?.stop();
      bar = null;
      phase = p;
      if (tty) {
        bar = new cliProgress.SingleBar(
          { format: `${p.padEnd(13)} [{bar}] {value}/{total}`, hideCursor: true },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, done);
      } else out(`${p}: ${total} to check`);
    } else bar?.update(done);
    if (!tty && done === total && total > 0) out(`${p}: ${done}/${total} done`);
  };
  return {
    update,
    stop: () => {
      bar?.stop();
      bar = null;
    },
  };
}

import cliProgress from 'cli-progress';
import type { Command } from 'commander';
import { AppError } from '../lib/errors';
import { readCatalogFile } from '../modules/catalog/catalog-file';
import {
  type Progress,
  type PushResult,
  diffCatalog,
  pullCatalog,
  pushCatalog,
} from '../modules/catalog/sync';
import { withStripeDeps } from './stripe-deps';

/** `paywire catalog pull | push FILE | diff FILE`. */
export function registerCatalogCommands(program: Command): void {
  const catalog = program
    .command('catalog')
    .description('sync the catalog with Stripe and with a catalog file');

  catalog
    .command('pull')
    .description(
      'import every product and price from Stripe (matched on Stripe ids; grants from price metadata)',
    )
    .action(() =>
      run(async () => {
        const progress = progressReporter();
        const result = await withStripeDeps((deps) => pullCatalog(deps, { onProgress: progress.update }));
        progress.stop();
        for (const [what, c] of [
          ['Products', result.products],
          ['Prices', result.prices],
        ] as const) {
          console.log(
            `${what}: ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged` +
              (c.skipped ? `, ${c.skipped} skipped` : ''),
          );
        }
        for (const w of result.warnings) console.error(`warning: ${w}`);
      }),
    );

  catalog
    .command('push')
    .argument('<file>', 'catalog file (JSON), e.g. paywire.catalog.json')
    .description('make Stripe and the local catalog match FILE (idempotent: a second push changes nothing)')
    .action((file: string) =>
      run(async () => {
        const parsed = readCatalogFile(file);
        const result = await withStripeDeps((deps) => pushCatalog(deps, parsed));
        report(result, file);
      }),
    );

  catalog
    .command('diff')
    .argument('<file>', 'catalog file (JSON)')
    .option('--exit-code', 'exit with status 1 when the push would change something')
    .description('print what `catalog push FILE` would do, changing nothing (a dry run)')
    .action((file: string, opts: { exitCode?: boolean }) =>
      run(async () => {
        const parsed = readCatalogFile(file);
        const result = await withStripeDeps((deps) => diffCatalog(deps, parsed));
        report(result, file);
        if (opts.exitCode && result.actions.length) process.exitCode = 1;
      }),
    );
}

export function report(result: PushResult, file: string): void {
  for (const a of result.actions) console.log(a.detail);
  if (!result.actions.length) {
    console.log(`Nothing to do: the catalog matches ${file}.`);
    return;
  }
  const parts: string[] = [];
  for (const [object, kinds] of Object.entries(result.counts)) {
    for (const [kind, n] of Object.entries(kinds)) if (n) parts.push(`${n} ${object}(s) ${pastTense(kind)}`);
  }
  console.log(`${result.dryRun ? 'Would have: ' : ''}${parts.join(', ')}.`);
}

const pastTense = (kind: string) =>
  ({ create: 'created', update: 'updated', replace: 'replaced', archive: 'archived', import: 'imported' })[
    kind
  ] ?? kind;

/** A progress bar on a terminal; plain start/end lines otherwise (logs, CI). */
function progressReporter(): { update: Progress; stop(): void } {
  const tty = process.stdout.isTTY;
  let bar: cliProgress.SingleBar | null = null;
  let phase = '';
  return {
    update: (p, done, total) => {
      if (p !== phase) {
        bar?.stop();
        phase = p;
        if (tty) {
          bar = new cliProgress.SingleBar(
            { format: `${p.padEnd(8)} [{bar}] {value}/{total}`, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(total, done);
        } else {
          console.log(`Importing ${total} ${p} from Stripe...`);
        }
        return;
      }
      bar?.update(done);
    },
    stop: () => bar?.stop(),
  };
}

/** Turns service errors into plain messages (the CLI prints them and exits 1). */
async function run(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof AppError) throw new Error(err.message);
    throw err;
  }
}

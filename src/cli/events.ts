import type { Command } from 'commander';
import { AppError } from '../lib/errors';
import { replayEvent } from '../webhooks/inbox';
import { withStripeDeps } from './stripe-deps';

/** `paywire events replay <id>`: process a stored (or, if missing, fetched) Stripe event again. */
export function registerEventCommands(program: Command): void {
  const events = program.command('events').description('the inbox of received Stripe events');
  events
    .command('replay')
    .argument('<id>', 'Stripe event id (evt_...)')
    .description('process an unhandled event again; one not in the inbox is fetched from Stripe first')
    .action(async (id: string) => {
      try {
        const { outcome, event } = await withStripeDeps((deps) => replayEvent(deps, id));
        console.log(`${event.id} (${event.type}): ${outcome.replace('_', ' ')}`);
        if (outcome === 'failed') {
          console.error(`  error: ${event.lastError}`);
          process.exitCode = 1;
        }
      } catch (err) {
        if (err instanceof AppError) throw new Error(err.message);
        throw err;
      }
    });
}

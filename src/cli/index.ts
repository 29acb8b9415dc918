import 'dotenv/config';
import { Command } from 'commander';
import { registerAdminCommands } from './admin';
import { registerCatalogCommands } from './catalog';
import { registerCreditsCommands } from './credits';
import { registerDbCommands } from './db';
import { registerEventCommands } from './events';
import { registerEmulatorCommand } from './emulator';
import { registerSyncCommand } from './sync';

export function buildCli(): Command {
  const program = new Command();
  program
    .name('paywire')
    .description('Paywire: Stripe Checkout, webhooks, entitlements, credits and discounts on PostgreSQL.')
    .showHelpAfterError();

  program
    .command('serve')
    .description('start the HTTP server (the same as npm start)')
    .action(async () => {
      const { main } = await import('../main');
      await main();
    });

  registerDbCommands(program);
  registerAdminCommands(program);
  registerCatalogCommands(program);
  registerCreditsCommands(program);
  registerEventCommands(program);
  registerEmulatorCommand(program);
  registerSyncCommand(program);
  return program;
}

export async function run(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}

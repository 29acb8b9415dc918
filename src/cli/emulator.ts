import type { Command } from 'commander';
import { runEmulatorCli } from '../emulator/cli';

export function registerEmulatorCommand(program: Command): void {
  program
    .command('emulator')
    .description('run a standalone Stripe emulator (point apps at it with STRIPE_API_BASE)')
    .option('--port <port>', 'port to listen on', '12111')
    .option('--host <host>', 'address to bind (default 127.0.0.1; never expose it publicly)')
    .option('--forward-to <url>', 'also deliver every webhook to this URL, like stripe listen --forward-to')
    .option('--data <file>', 'state file: loaded at start, written atomically and on shutdown')
    .action(async (opts: { port: string; host?: string; forwardTo?: string; data?: string }) => {
      await runEmulatorCli({ port: opts.port, host: opts.host, forwardTo: opts.forwardTo, data: opts.data });
    });
}

import { startEmulator } from './index';

export interface EmulatorCliOptions {
  port?: number | string;
  host?: string;
  forwardTo?: string;
  data?: string;
}

/**
 * `paywire emulator`: starts a standalone emulator, prints where it listens and the signing secret of
 * the forward target, and writes the state file on SIGINT/SIGTERM before exiting.
 */
export async function runEmulatorCli(options: EmulatorCliOptions = {}): Promise<void> {
  const port = options.port === undefined ? 12111 : Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port: ${options.port}`);
  const logger = {
    info: (o: object, msg?: string) => console.error(msg ?? '', JSON.stringify(o)),
    warn: (o: object, msg?: string) => console.error(`warn: ${msg ?? ''}`, JSON.stringify(o)),
  };
  const emulator = await startEmulator({
    port,
    host: options.host,
    forwardTo: options.forwardTo,
    dataFile: options.data,
    logger,
  });
  console.log(`Stripe emulator listening on ${emulator.url}`);
  console.log(`  point the SDK at it: STRIPE_API_BASE=${emulator.url}  (any sk_test_ key works)`);
  if (options.forwardTo) console.log(`  forwarding webhooks to ${options.forwardTo}`);
  console.log(`Your webhook signing secret is ${emulator.forwardSecret}`);
  if (options.data) console.log(`  state file: ${options.data}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.error(`${signal}: writing state and stopping`);
    try {
      await emulator.close();
    } finally {
      process.exit(0);
    }
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/** A standalone Stripe emulator (as `paywire emulator` runs it) for the webhook benchmark's re-reads. */
import { startEmulator } from '../../src/emulator/index';

const emulator = await startEmulator({ port: 0 });
console.log(`READY ${emulator.url}`);
process.once('SIGTERM', () => void emulator.close().then(() => process.exit(0)));

/**
 * The product as `npm start` runs it (startServer: migrations, Stripe or a standalone emulator, jobs,
 * caches), configured by the environment the orchestrator passes. Prints `READY <url>`.
 */
import { loadConfig } from '../../src/config';
import { startServer } from '../../src/server';

const server = await startServer(loadConfig(process.env));
console.log(`READY ${server.url}`);
const stop = async () => {
  await server.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config';

const expectProblems = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration', () => {
  it('has embedded defaults: port 8000, PUBLIC_URL from the port, the emulator', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(8000);
    expect(c.PUBLIC_URL).toBe('http://127.0.0.1:8000');
    expect(c.PAYWIRE_DATA_DIR).toBe('./.data');
    expect(c.STRIPE_EMULATOR_PORT).toBe(12111);
    expect(c.useEmbeddedEmulator).toBe(true);
    expect(loadConfig({ PORT: '9001' }).PUBLIC_URL).toBe('http://127.0.0.1:9001');
  });

  it('names the bad variable', () => {
    expect(expectProblems({ PORT: 'eighty' })).toMatch(/PORT/);
    expect(expectProblems({ STRIPE_ENABLED: 'maybe' })).toMatch(/STRIPE_ENABLED/);
    expect(expectProblems({ DATABASE_URL: 'not a url' })).toMatch(/DATABASE_URL/);
  });

  it('splits several webhook secrets and checks each', () => {
    expect(loadConfig({ STRIPE_WEBHOOK_SECRET: 'whsec_a, whsec_b' }).webhookSecrets).toEqual([
      'whsec_a',
      'whsec_b',
    ]);
    expect(expectProblems({ STRIPE_WEBHOOK_SECRET: 'whsec_a,oops' })).toMatch(/STRIPE_WEBHOOK_SECRET/);
  });

  it('refuses production without the Stripe key, webhook secret, database and a real session secret', () => {
    const msg = expectProblems({ NODE_ENV: 'production' });
    for (const name of ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'DATABASE_URL', 'SESSION_SECRET']) {
      expect(msg).toContain(name);
    }
  });

  it('refuses STRIPE_API_BASE in production and never uses the emulator there', () => {
    const prod = {
      NODE_ENV: 'production',
      STRIPE_SECRET_KEY: 'sk_live_abc',
      STRIPE_WEBHOOK_SECRET: 'whsec_x',
      DATABASE_URL: 'postgres://u@h/db',
      SESSION_SECRET: 'x'.repeat(40),
    };
    expect(loadConfig(prod).useEmbeddedEmulator).toBe(false);
    expect(expectProblems({ ...prod, STRIPE_API_BASE: 'http://127.0.0.1:12111' })).toMatch(/STRIPE_API_BASE/);
  });
});

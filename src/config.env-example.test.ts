import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envVariableNames } from './config';

describe('.env.example', () => {
  it('documents every variable of the configuration schema', () => {
    const text = readFileSync(new URL('../.env.example', import.meta.url), 'utf8');
    const documented = new Set([...text.matchAll(/^([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]));
    for (const name of envVariableNames) expect(documented, name).toContain(name);
  });
});

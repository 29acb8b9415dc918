import type Stripe from 'stripe';

/** Thrown when a dry run would have written to Stripe (a handler cancelling a duplicate subscription). */
export class DryRunWriteError extends Error {
  constructor(readonly call: string) {
    super(`dry run: would call Stripe ${call}`);
    this.name = 'DryRunWriteError';
  }
}

const READ = /^(retrieve|list|search)/;

/**
 * The same client, with every resource method that is not a read (`retrieve*`, `list*`, `search*`)
 * replaced by one that throws DryRunWriteError: `--dry-run` reads Stripe and never changes it.
 */
export function readOnlyStripe(stripe: Stripe): Stripe {
  const wrap = (target: object, path: string): object =>
    new Proxy(target, {
      get(obj, prop, receiver) {
        const value = Reflect.get(obj, prop, receiver);
        if (typeof prop !== 'string' || prop.startsWith('_')) return value;
        if (typeof value === 'function') {
          if (READ.test(prop)) return value.bind(obj);
          return () => {
            throw new DryRunWriteError(`${path}.${prop}`);
          };
        }
        return value && typeof value === 'object' ? wrap(value, `${path}.${prop}`) : value;
      },
    });
  return new Proxy(stripe, {
    get(obj, prop, receiver) {
      const value = Reflect.get(obj, prop, receiver);
      // Root-level helpers (webhooks, errors, constants) pass through; resources are wrapped.
      if (typeof prop !== 'string' || prop.startsWith('_') || prop === 'webhooks' || prop === 'errors') {
        return value;
      }
      return value && typeof value === 'object' ? wrap(value, prop) : value;
    },
  });
}

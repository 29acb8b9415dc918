import { defineHandler } from '../handler';

/**
 * Acknowledged and ignored on purpose (SPEC section 5): `invoice.paid` carries the same news, and
 * handling both would be the classic way to record a renewal twice.
 */
export default defineHandler<void>({
  async apply() {},
});

import { priceSync } from './catalog-sync';

/** A price edited in Stripe (active, lookup key, nickname, metadata grants: a grants change bumps the version). */
export default priceSync;

import { priceSync } from './catalog-sync';

/** A price made in Stripe; its grants are read back from its `paywire_grants` metadata. */
export default priceSync;

import { productSync } from './catalog-sync';

/** A product edited in Stripe: name, description, active, Paywire metadata. */
export default productSync;

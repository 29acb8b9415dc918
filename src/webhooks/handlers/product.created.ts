import { productSync } from './catalog-sync';

/** A product made in Stripe (dashboard, or by Paywire itself: then the row already exists). */
export default productSync;

/**
 * Endpoints of the payments module that the pages call but SPEC section 13 does not name. They are
 * handed to the browser script through data attributes, so this is the one place to change if the
 * module puts them elsewhere.
 */
export const ADMIN_PAYMENTS_PATH = '/api/v1/admin/payments';
/** `{id}` is replaced by the payment id. Body: `{amount?, reason}` (minor units; default: what is left). */
export const ADMIN_REFUND_PATH = '/api/v1/admin/payments/{id}/refund';

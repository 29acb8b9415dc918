import { applyFailedInvoice } from '../../modules/subscriptions/invoices';
import { defineHandler } from '../handler';
import { type FreshInvoice, freshInvoice } from './billing-fetch';

/** A renewal charge failed: past_due (the grace period starts), the payment recorded as failed. */
export default defineHandler<FreshInvoice>({
  prepare: (event, deps) => freshInvoice(deps, event, { checkout: false }),
  apply: (tx, _event, fresh, deps) => applyFailedInvoice(deps, tx, { ...fresh, actionRequired: false }),
});

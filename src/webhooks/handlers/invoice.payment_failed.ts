import { applyFailedInvoice } from '../../modules/subscriptions/invoices';
import { defineHandler } from '../handler';
import { type FreshInvoice, freshInvoice } from './billing-fetch';

/** A renewal charge failed: past_due (the grace period starts), the payment recorded as failed. */
export default defineHandler<FreshInvoice>({
  prepare: (event, deps, context) =>
    freshInvoice(deps, event, { checkout: false, arrivedAt: context?.arrivedAt }),
  apply: (tx, _event, fresh, deps) => applyFailedInvoice(deps, tx, { ...fresh, actionRequired: false }),
});

import { applyFailedInvoice } from '../../modules/subscriptions/invoices';
import { defineHandler } from '../handler';
import { type FreshInvoice, freshInvoice } from './billing-fetch';

/** A renewal needs the customer's authentication (3-D Secure): handled like a failed renewal. */
export default defineHandler<FreshInvoice>({
  prepare: (event, deps, context) =>
    freshInvoice(deps, event, { checkout: false, arrivedAt: context?.arrivedAt }),
  apply: (tx, _event, fresh, deps) => applyFailedInvoice(deps, tx, { ...fresh, actionRequired: true }),
});

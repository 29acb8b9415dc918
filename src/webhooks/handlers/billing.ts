import type { HandlerRegistry } from '../handler';
import chargeDisputeClosed from './charge.dispute.closed';
import chargeDisputeCreated from './charge.dispute.created';
import chargeDisputeUpdated from './charge.dispute.updated';
import chargeRefunded from './charge.refunded';
import checkoutAsyncFailed from './checkout.session.async_payment_failed';
import checkoutAsyncSucceeded from './checkout.session.async_payment_succeeded';
import checkoutCompleted from './checkout.session.completed';
import checkoutExpired from './checkout.session.expired';
import customerDeleted from './customer.deleted';
import subscriptionCreated from './customer.subscription.created';
import subscriptionDeleted from './customer.subscription.deleted';
import subscriptionPaused from './customer.subscription.paused';
import subscriptionResumed from './customer.subscription.resumed';
import subscriptionTrialWillEnd from './customer.subscription.trial_will_end';
import subscriptionUpdated from './customer.subscription.updated';
import invoicePaid from './invoice.paid';
import invoiceActionRequired from './invoice.payment_action_required';
import invoicePaymentFailed from './invoice.payment_failed';

/**
 * Checkout, subscription, invoice, refund, dispute and customer events (issues 8 and 9).
 * `invoice.payment_succeeded` has no handler on purpose (SPEC section 5): `invoice.paid` carries the
 * same news, and handling both would be the classic way to record a renewal twice. Without a handler it
 * is stored already acknowledged, in one statement, instead of opening a transaction that does nothing.
 */
export const billingHandlers: HandlerRegistry = {
  'checkout.session.completed': checkoutCompleted,
  'checkout.session.async_payment_succeeded': checkoutAsyncSucceeded,
  'checkout.session.async_payment_failed': checkoutAsyncFailed,
  'checkout.session.expired': checkoutExpired,
  'customer.subscription.created': subscriptionCreated,
  'customer.subscription.updated': subscriptionUpdated,
  'customer.subscription.deleted': subscriptionDeleted,
  'customer.subscription.paused': subscriptionPaused,
  'customer.subscription.resumed': subscriptionResumed,
  'customer.subscription.trial_will_end': subscriptionTrialWillEnd,
  'invoice.paid': invoicePaid,
  'invoice.payment_failed': invoicePaymentFailed,
  'invoice.payment_action_required': invoiceActionRequired,
  'charge.refunded': chargeRefunded,
  'charge.dispute.created': chargeDisputeCreated,
  'charge.dispute.updated': chargeDisputeUpdated,
  'charge.dispute.closed': chargeDisputeClosed,
  'customer.deleted': customerDeleted,
};

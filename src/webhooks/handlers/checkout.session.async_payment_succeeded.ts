import checkoutCompleted from './checkout.session.completed';

/** A delayed payment method (bank debit) succeeded: fulfilled exactly like a completed session. */
export default checkoutCompleted;

import { disputeSync } from './dispute-sync';

/** charge.dispute.closed: see dispute-sync.ts. */
export default disputeSync;

import { disputeSync } from './dispute-sync';

/** charge.dispute.created: see dispute-sync.ts. */
export default disputeSync;

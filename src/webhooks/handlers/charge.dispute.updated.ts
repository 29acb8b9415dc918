import { disputeSync } from './dispute-sync';

/** charge.dispute.updated: see dispute-sync.ts. */
export default disputeSync;

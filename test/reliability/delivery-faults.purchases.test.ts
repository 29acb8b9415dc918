import { describeLifecycles } from './kit/scenario';

// Delivery faults (issue 13, item 1) for the lifecycles around one-time payments. Split from the
// subscription lifecycles so that the two files run in parallel.
describeLifecycles(['one-time purchase', 'refund', 'dispute']);

import { describeLifecycles } from './kit/scenario';

// Delivery faults (issue 13, item 1) for the subscription lifecycles.
describeLifecycles(['subscription with renewals and a failure', 'upgrade', 'cancel']);

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Outcomes of a credit consumption (`consume()` and the route guard). */
export type ConsumeOutcome = 'consumed' | 'replayed' | 'insufficient' | 'error';

/**
 * The service's Prometheus metrics, one registry per app instance (never prom-client's global one, so
 * several apps in one process - tests, a host app - do not mix). Hot paths use the pre-bound children
 * (`creditConsumptions.consumed.inc()`), which allocate nothing per call.
 */
export interface Metrics {
  registry: Registry;
  /** Stripe events through the inbox, by type and outcome (processed, duplicate, ignored, failed, conflict, rejected). */
  webhookEvents: Counter<'type' | 'outcome'>;
  /** Seconds from the start of processing an event to its outcome. */
  webhookDuration: Histogram<'type' | 'outcome'>;
  /** Webhook requests being handled right now (what a graceful shutdown waits for). */
  webhooksInFlight: Gauge;
  creditConsumptions: Record<ConsumeOutcome, Counter.Internal>;
  /** Entitlement questions (`can`, `check`) by answer. */
  entitlementChecks: Record<'can' | 'check', Record<'allowed' | 'denied', Counter.Internal>>;
  jobRuns: Counter<'job' | 'status'>;
  jobDuration: Histogram<'job'>;
  /** HTTP request duration by method, matched route pattern (never the raw path) and status. */
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

export interface MetricsOptions {
  /** Also collect Node.js process metrics (CPU, memory, event loop lag, GC). Default false. */
  processMetrics?: boolean;
  /** Labels added to every series (e.g. `{instance: 'a'}`). */
  defaultLabels?: Record<string, string>;
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics(opts: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultLabels) registry.setDefaultLabels(opts.defaultLabels);
  if (opts.processMetrics) collectDefaultMetrics({ register: registry, prefix: 'paywire_' });
  const registers = [registry];

  const webhookEvents = new Counter({
    name: 'paywire_webhook_events_total',
    help: 'Stripe events through the inbox, by type and outcome',
    labelNames: ['type', 'outcome'] as const,
    registers,
  });
  const webhookDuration = new Histogram({
    name: 'paywire_webhook_processing_seconds',
    help: 'Time to process one Stripe event (Stripe reads, transaction, commit)',
    labelNames: ['type', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const webhooksInFlight = new Gauge({
    name: 'paywire_webhooks_in_flight',
    help: 'Webhook requests being handled right now',
    registers,
  });
  const consumptions = new Counter({
    name: 'paywire_credit_consumptions_total',
    help: 'Credit consumptions by outcome (consumed, replayed, insufficient, error)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const checks = new Counter({
    name: 'paywire_entitlement_checks_total',
    help: 'Entitlement questions (can, check) by answer',
    labelNames: ['kind', 'result'] as const,
    registers,
  });
  const jobRuns = new Counter({
    name: 'paywire_job_runs_total',
    help: 'Scheduled job runs by job and status (succeeded, failed, skipped)',
    labelNames: ['job', 'status'] as const,
    registers,
  });
  const jobDuration = new Histogram({
    name: 'paywire_job_duration_seconds',
    help: 'Duration of job runs that ran (not skipped)',
    labelNames: ['job'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300],
    registers,
  });
  const httpDuration = new Histogram({
    name: 'paywire_http_request_duration_seconds',
    help: 'HTTP request duration by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });

  const outcome = (o: ConsumeOutcome) => consumptions.labels({ outcome: o });
  const check = (kind: 'can' | 'check') => ({
    allowed: checks.labels({ kind, result: 'allowed' }),
    denied: checks.labels({ kind, result: 'denied' }),
  });
  return {
    registry,
    webhookEvents,
    webhookDuration,
    webhooksInFlight,
    creditConsumptions: {
      consumed: outcome('consumed'),
      replayed: outcome('replayed'),
      insufficient: outcome('insufficient'),
      error: outcome('error'),
    },
    entitlementChecks: { can: check('can'), check: check('check') },
    jobRuns,
    jobDuration,
    httpDuration,
  };
}

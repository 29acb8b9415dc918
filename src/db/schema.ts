// Every table of every module, for drizzle-kit and for typed queries.
export * from '../modules/auth/auth.tables';
export * from '../modules/catalog/catalog.tables';
export * from '../webhooks/inbox.tables';
export * from '../modules/credits/credits.tables';
export * from '../jobs/jobs.tables';
export * from '../modules/discounts/discounts.tables';
export * from '../modules/entitlements/entitlements.tables';
export * from '../modules/users/users.tables';
export * from '../modules/payments/payments.tables';
export * from '../modules/subscriptions/subscriptions.tables';
export * from '../modules/sync/sync.tables';

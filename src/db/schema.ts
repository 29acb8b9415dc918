// Every table of every module, for drizzle-kit and for typed queries.
export * from '../modules/auth/auth.tables';
export * from '../modules/users/users.tables';

import type { Role } from '../users/users.tables';

export const SCOPES = [
  'billing:read',
  'billing:write',
  'credits:read',
  'credits:write',
  'entitlements:read',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

const USER_SCOPES: readonly Scope[] = SCOPES.filter((s) => s !== 'admin');

/** Every scope a role holds; a session carries all of them. */
export const scopesOfRole = (role: Role): readonly Scope[] => (role === 'admin' ? SCOPES : USER_SCOPES);

export const scopesWithinRole = (scopes: readonly string[], role: Role): boolean => {
  const allowed = scopesOfRole(role);
  return scopes.every((s) => (allowed as readonly string[]).includes(s));
};

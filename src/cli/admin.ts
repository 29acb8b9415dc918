import type { Command } from 'commander';
import { AppError } from '../lib/errors';
import { createUser, findUserByEmail, setPassword, setRole } from '../modules/users/users.service';
import { withDatabase } from './context';
import { readPassword } from './prompt';

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('manage administrators');
  admin
    .command('create')
    .description('create an admin account, or promote an existing user to admin')
    .requiredOption('--email <email>', 'the admin’s email')
    .option('--name <name>', 'display name')
    .option('--password <password>', 'password (for scripts; prefer --password-stdin or the prompt)')
    .option('--password-stdin', 'read the password from standard input')
    .action(async (opts: { email: string; name?: string; password?: string; passwordStdin?: boolean }) => {
      const password = opts.password ?? (await readPassword(!!opts.passwordStdin));
      if (password.length < 10) throw new Error('The password must be at least 10 characters.');
      await withDatabase(async ({ db }) => {
        const existing = await findUserByEmail(db, opts.email);
        if (existing) {
          await setRole(db, existing.id, 'admin');
          await setPassword(db, existing.id, password);
          console.log(`Promoted ${existing.email} to admin (password updated).`);
          return;
        }
        try {
          const user = await createUser(db, { email: opts.email, password, name: opts.name, role: 'admin' });
          console.log(`Created admin ${user.email} (${user.id}).`);
        } catch (err) {
          if (err instanceof AppError) throw new Error(err.message);
          throw err;
        }
      });
    });
}

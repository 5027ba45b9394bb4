/**
 * The chaos run's stack and its monkey: a real `npm start` (scripts/dev.ts, the supervisor) on
 * ports and a data directory of its own, and a loop that SIGKILLs one of its parts — the worker,
 * the API, the PostgreSQL postmaster or the Temporal dev server — at random moments, then waits for
 * the supervisor to bring it back before it picks the next one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '../../config';
import { freePort } from './services';

export const KILLABLE = ['worker', 'api', 'postgres', 'temporal'] as const;
export type Killable = (typeof KILLABLE)[number];

const READY_LINE = 'Ctrl-C stops everything.';
const START_TIMEOUT_MS = 5 * 60_000;
const STOP_TIMEOUT_MS = 2 * 60_000;

export interface StackPorts {
  api: number;
  postgres: number;
  temporal: number;
  temporalUi: number;
  smtp: number;
  mailInbox: number;
}

export interface ChaosStack {
  dataDir: string;
  ports: StackPorts;
  apiUrl: string;
  tokens: Record<'rep' | 'tech_consultant' | 'manager' | 'admin', string>;
  /** Everything the stack printed so far (its own log, the worker's and the API's). */
  output(): string;
  /** The current pid of a part, from the files the stack keeps. */
  pid(part: Killable): number | null;
  /** How often the supervisor reported a part restarted, or ended without being asked. */
  restarts(part: string): number;
  endedUnexpectedly(part: string): number;
  /** SIGINT to the stack's process group (a terminal's Ctrl-C); the exit code, or null after a forced kill. */
  stop(): Promise<{ code: number | null; forced: boolean }>;
  /** Parts still running after the stack had stopped (killed then). */
  leftovers(): string[];
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').split('\n')[0].trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;

/** Starts `npm start` on `dataDir` with free ports; resolves once it has printed its tokens. */
export async function startStack(dataDir: string, logFile: string): Promise<ChaosStack> {
  fs.mkdirSync(dataDir, { recursive: true });
  // As root the embedded cluster runs as the `postgres` user, which must reach its directory.
  fs.chmodSync(dataDir, 0o777);
  const ports: StackPorts = {
    api: await freePort(), postgres: await freePort(), temporal: await freePort(), temporalUi: await freePort(), smtp: await freePort(), mailInbox: await freePort(),
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATA_DIR: dataDir, PORT: String(ports.api), EMBEDDED_PG_PORT: String(ports.postgres), TEMPORAL_DEV_PORT: String(ports.temporal),
    TEMPORAL_UI_PORT: String(ports.temporalUi), SMTP_PORT: String(ports.smtp), MAIL_INBOX_PORT: String(ports.mailInbox),
    // The embedded parts, whatever the caller's shell points at.
    DATABASE_URL: '', TEMPORAL_ADDRESS: '', SMTP_HOST: '', PUBLIC_URL: '',
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
  const log = fs.createWriteStream(logFile);
  let output = '';
  // What `npm start` runs, in a process group of its own, like a shell's foreground job.
  const child: ChildProcess = spawn(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(PROJECT_ROOT, 'scripts', 'dev.ts')], {
    cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  const take = (chunk: Buffer) => {
    output += chunk.toString();
    log.write(chunk);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!output.includes(READY_LINE)) {
    if (child.exitCode !== null) throw new Error(`the stack exited while starting (code ${child.exitCode}); see ${logFile}`);
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`the stack did not start within ${START_TIMEOUT_MS / 1000} s; see ${logFile}`);
    }
    await sleep(250);
  }
  const tokens = Object.fromEntries([...output.matchAll(/^ {4}(rep|tech_consultant|manager|admin)\s+.+?\s(sps_[\w-]+)$/gm)].map((m) => [m[1], m[2]]));
  for (const role of ['rep', 'tech_consultant', 'manager', 'admin']) {
    if (!tokens[role]) throw new Error(`the stack printed no token for ${role}; see ${logFile}`);
  }

  const pidFiles: Record<Killable, string> = {
    worker: path.join(dataDir, 'run', 'worker.pid'),
    api: path.join(dataDir, 'run', 'api.pid'),
    temporal: path.join(dataDir, 'run', 'temporal.pid'),
    postgres: path.join(dataDir, 'postgres', 'postmaster.pid'),
  };
  let stopped: Promise<{ code: number | null; forced: boolean }> | undefined;
  const leftovers: string[] = [];
  return {
    dataDir, ports, apiUrl: `http://127.0.0.1:${ports.api}`, tokens: tokens as ChaosStack['tokens'],
    output: () => output,
    pid: (part) => readPid(pidFiles[part]),
    restarts: (part) => count(output, new RegExp(`\\[${part}\\] ${part} restarted`, 'g')),
    endedUnexpectedly: (part) => count(output, new RegExp(`\\[${part}\\] ${part} ended unexpectedly`, 'g')),
    async stop() {
      stopped ??= stopOnce();
      return stopped;
    },
    leftovers: () => leftovers,
  };

  async function stopOnce(): Promise<{ code: number | null; forced: boolean }> {
    let result: { code: number | null; forced: boolean } = { code: child.exitCode, forced: false };
    if (child.exitCode === null) {
      process.kill(-child.pid!, 'SIGINT');
      const code = await Promise.race([exited, sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const)]);
      result = { code: code === 'timeout' ? null : code, forced: code === 'timeout' };
    }
    // Whatever is left — the parts run in process groups of their own — goes now.
    for (const part of KILLABLE) {
      const pid = readPid(pidFiles[part]);
      if (pid && alive(pid)) {
        leftovers.push(`${part} (pid ${pid})`);
        process.kill(pid, 'SIGKILL');
      }
    }
    if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
    log.end();
    return result;
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same kill schedule and stagger. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Kill {
  part: Killable;
  pid: number;
  /** Seconds since the monkey started. */
  at: number;
  /** Seconds until the supervisor reported the part restarted; null if it never did. */
  backAfter: number | null;
  /** Seconds until the API answered /health 200 again after that; null if it never did. */
  healthyAfter: number | null;
}

export interface MonkeyOptions {
  parts: readonly Killable[];
  /** The gap before each kill, in ms, drawn uniformly from [min, max]. */
  gapMs: [number, number];
  /** How long a part may take to come back before it counts as not restarted. */
  restartTimeoutMs: number;
  /** Whether the stack serves again (the API reaches Postgres and Temporal). */
  healthy: () => Promise<boolean>;
  random: () => number;
}

/**
 * Kills a part, waits until it is back and the stack serves again, waits a random gap, kills the
 * next: the parts are taken from a shuffled bag, so each is killed once before any is killed twice.
 * The gap starts from a working stack, so that the processes get somewhere between two kills.
 */
export function startMonkey(stack: ChaosStack, options: MonkeyOptions): { kills: Kill[]; stop(): Promise<void> } {
  const kills: Kill[] = [];
  const started = Date.now();
  let stopping = false;
  const interruptible = async (ms: number) => {
    const until = Date.now() + ms;
    while (!stopping && Date.now() < until) await sleep(Math.min(200, until - Date.now()));
  };
  const loop = (async () => {
    let bag: Killable[] = [];
    while (!stopping) {
      const [min, max] = options.gapMs;
      await interruptible(min + options.random() * (max - min));
      if (stopping) break;
      if (bag.length === 0) {
        bag = [...options.parts];
        for (let i = bag.length - 1; i > 0; i--) {
          const j = Math.floor(options.random() * (i + 1));
          [bag[i], bag[j]] = [bag[j], bag[i]];
        }
      }
      const part = bag.shift()!;
      const pid = stack.pid(part);
      if (!pid || !alive(pid)) {
        bag.push(part); // down already (a restart in progress): its turn comes later
        continue;
      }
      const before = stack.restarts(part);
      process.kill(pid, 'SIGKILL');
      const kill: Kill = { part, pid, at: (Date.now() - started) / 1000, backAfter: null, healthyAfter: null };
      kills.push(kill);
      const killedAt = Date.now();
      // Not while it is coming back: a part killed again in its backoff tells us nothing new.
      while (Date.now() - killedAt < options.restartTimeoutMs) {
        if (stack.restarts(part) > before) {
          kill.backAfter = (Date.now() - killedAt) / 1000;
          break;
        }
        await sleep(200);
      }
      while (Date.now() - killedAt < options.restartTimeoutMs) {
        if (await options.healthy()) {
          kill.healthyAfter = (Date.now() - killedAt) / 1000;
          break;
        }
        await sleep(500);
      }
    }
  })();
  return {
    kills,
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

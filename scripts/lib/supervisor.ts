/**
 * Keeps the dev stack's parts alive. `npm start` runs the API and the worker as processes of their
 * own (as production does), so one crashing cannot take the others down, and restarts any part
 * that dies — the API, the worker, the Temporal dev server, MailDev or PostgreSQL — after a short
 * backoff (1 s, doubling to 30 s; back to 1 s once a part has stayed up for a minute). A part
 * stopped by the supervisor itself (Ctrl-C) is not restarted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config';
import type { Logger } from '../../config/logger';
import { stopLeftover } from './services';

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 30_000;
const STABLE_AFTER_MS = 60_000;

/** A running instance of a part: how to stop it, and a promise that settles when it ends by itself. */
export interface Running {
  stop(): Promise<void>;
  ended: Promise<unknown>;
  pid?: number;
}

export interface Supervised {
  name: string;
  /** The pid of the current instance, if it has one. */
  pid(): number | undefined;
  /** Restarts counted since the stack started. */
  restarts(): number;
  /** No more restarts: the stack is stopping (a terminal's Ctrl-C may already have reached the part). */
  hold(): void;
  stop(): Promise<void>;
}

/**
 * Starts a part with `start` and starts it again whenever it ends without being asked to. The
 * first start's failure is the caller's (the stack cannot come up); later ones are retried.
 */
export async function supervise(name: string, start: () => Promise<Running>, log: Logger): Promise<Supervised> {
  let current = await start();
  let stopping = false;
  let restarts = 0;
  let backoff = FIRST_BACKOFF_MS;
  let startedAt = Date.now();
  let wake: (() => void) | null = null;

  const watch = async (): Promise<void> => {
    while (!stopping) {
      await current.ended.catch(() => undefined);
      if (stopping) return;
      if (Date.now() - startedAt > STABLE_AFTER_MS) backoff = FIRST_BACKOFF_MS;
      log.warn({ restartInMs: backoff }, `${name} ended unexpectedly; restarting it`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, backoff);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = null;
      if (stopping) return;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      try {
        current = await start();
        startedAt = Date.now();
        restarts++;
        log.info({ pid: current.pid, restarts }, `${name} restarted`);
      } catch (error) {
        log.error({ err: error }, `${name} did not start again; retrying`);
        current = { stop: async () => undefined, ended: Promise.resolve() };
      }
    }
  };
  void watch();

  return {
    name,
    pid: () => current.pid,
    restarts: () => restarts,
    hold() {
      stopping = true;
      (wake as (() => void) | null)?.();
    },
    async stop() {
      stopping = true;
      (wake as (() => void) | null)?.();
      await current.stop();
    },
  };
}

export interface NodePartOptions {
  /** The TypeScript entry point, relative to the project. */
  entry: string;
  env: NodeJS.ProcessEnv;
  /** Where the pid is kept, so a later start can stop a leftover of a killed stack. */
  pidFile: string;
  log: Logger;
  /** How long to wait for the part to say it is ready. */
  readyTimeoutMs?: number;
}

/**
 * One of our own Node processes (the API, the worker): its output goes straight to ours, it runs in
 * a process group of its own (a terminal's Ctrl-C reaches only the supervisor, which stops the parts
 * in order), and it reports `{ ready: true }` over IPC once it serves.
 */
export function nodePart({ entry, env, pidFile, log, readyTimeoutMs = 120_000 }: NodePartOptions): () => Promise<Running> {
  return async () => {
    await stopLeftover(pidFile, log);
    const child: ChildProcess = spawn(process.execPath, ['--require', 'tsx/cjs', path.join(PROJECT_ROOT, entry)], {
      cwd: PROJECT_ROOT, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true,
    });
    fs.mkdirSync(path.dirname(pidFile), { recursive: true });
    if (child.pid) fs.writeFileSync(pidFile, String(child.pid));
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${entry} did not get ready in ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
      child.on('message', (message: { ready?: boolean }) => {
        if (message?.ready) {
          clearTimeout(timer);
          resolve();
        }
      });
      void ended.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${entry} exited before it was ready (code ${code}, signal ${signal})`));
      });
    });
    return {
      pid: child.pid,
      ended,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await ended;
        clearTimeout(killer);
        fs.rmSync(pidFile, { force: true });
      },
    };
  };
}

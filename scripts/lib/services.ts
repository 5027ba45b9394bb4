/**
 * The stack's child processes (Temporal dev server, MailDev): started with their output folded into
 * our logs, awaited until they answer, and stopped with SIGTERM (then SIGKILL after a grace period).
 * Shared by `npm start` and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import readline from 'node:readline';
import { Connection } from '@temporalio/client';
import { PROJECT_ROOT } from '../../config';
import type { Logger } from '../../config/logger';
import { devServerSearchAttributeArgs } from '../../worker/searchAttributes';

export interface Service {
  name: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A process left running by a parent that was killed (no Ctrl-C) would hold its port: stop it
 * (SIGTERM, then SIGKILL after 10 s), and forget its pid file.
 */
export async function stopLeftover(pidFile: string, log: Logger): Promise<void> {
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
    log.warn({ pid }, 'stopping a process left running by an earlier run');
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  fs.rmSync(pidFile, { force: true });
}

export interface ServiceOptions {
  /**
   * Remember the pid here, and stop a leftover with the same file first. Such a service runs in its
   * own process group, so a terminal's Ctrl-C reaches only us and we stop the parts in order.
   */
  pidFile?: string;
}

export async function startService(name: string, command: string, args: string[], log: Logger, options: ServiceOptions = {}): Promise<Service> {
  if (options.pidFile) await stopLeftover(options.pidFile, log);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: PROJECT_ROOT, detached: Boolean(options.pidFile) });
  if (options.pidFile && child.pid) {
    fs.mkdirSync(path.dirname(options.pidFile), { recursive: true });
    fs.writeFileSync(options.pidFile, String(child.pid));
  }
  // The last lines it wrote, for the warning when it fails (its output is logged at debug only).
  const lastLines: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    readline.createInterface({ input: stream }).on('line', (line) => {
      if (!line.trim()) return;
      log.debug(line);
      lastLines.push(line.length > 500 ? `${line.slice(0, 500)}…` : line);
      if (lastLines.length > 20) lastLines.shift();
    });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // `close`, not `exit`: by then its output has been read to the end.
  child.once('close', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM' && signal !== 'SIGINT') log.warn({ code, signal, lastOutput: lastLines }, `${name} exited`);
  });
  return {
    name,
    process: child,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
      if (options.pidFile) fs.rmSync(options.pidFile, { force: true });
    },
  };
}

export async function waitFor(what: string, probe: () => Promise<boolean>, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`${what} exited before it was ready`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} was not ready after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function portOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export { freePort } from '../../config/ports';

export async function temporalReady(address: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: 1_000 });
  try {
    await connection.workflowService.getSystemInfo({});
    return true;
  } finally {
    await connection.close();
  }
}

export interface DevServerOptions extends ServiceOptions {
  cli: string;
  dbFile: string;
  port: number;
  uiPort: number;
  namespace: string;
  log: Logger;
}

/** The Temporal dev server: real server, SQLite file kept across restarts, Web UI on a fixed port. */
export async function startTemporalDevServer(options: DevServerOptions): Promise<Service> {
  fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
  const service = await startService('temporal', options.cli, [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    '--ui-port', String(options.uiPort),
    '--db-filename', options.dbFile,
    '--namespace', options.namespace,
    '--log-level', 'warn',
    ...devServerSearchAttributeArgs(),
  ], options.log, options);
  await waitFor('the Temporal dev server', () => temporalReady(`127.0.0.1:${options.port}`), 60_000, service.process);
  return service;
}

export interface ReceivedEmail {
  subject: string;
  text: string;
  html: string;
  to: Array<{ address: string }>;
  messageId: string;
  headers: Record<string, string>;
}

export interface MailInbox extends Service {
  smtpPort: number;
  webUrl: string;
  /** The messages received so far (MailDev's REST API). */
  emails(): Promise<ReceivedEmail[]>;
}

/** MailDev: an SMTP catch-all with a web inbox, so a person can read what the sequences send. */
export async function startMailInbox(options: ServiceOptions & { smtpPort: number; webPort: number; mailDir?: string; log: Logger }): Promise<MailInbox> {
  const bin = require.resolve('maildev/bin/maildev');
  const args = ['--ip', '127.0.0.1', '--smtp', String(options.smtpPort), '--web', String(options.webPort), '--silent'];
  if (options.mailDir) {
    fs.mkdirSync(options.mailDir, { recursive: true });
    args.push('--mail-directory', options.mailDir);
  }
  const service = await startService('maildev', process.execPath, [bin, ...args], options.log, options);
  const webUrl = `http://localhost:${options.webPort}`;
  await waitFor('MailDev', async () => (await portOpen(options.smtpPort)) && (await portOpen(options.webPort)), 30_000, service.process);
  return {
    ...service,
    smtpPort: options.smtpPort,
    webUrl,
    async emails() {
      const response = await fetch(`${webUrl}/email`);
      return (await response.json()) as ReceivedEmail[];
    },
  };
}

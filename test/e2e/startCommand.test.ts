/**
 * The start command itself (`npm start` = scripts/dev.ts): it brings the whole stack up on
 * embedded defaults, prints where everything is and a token per role, stops cleanly on Ctrl-C
 * (SIGINT), and a second start resumes the sequence that was running.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config';
import { testEnv } from '../helpers/env';
import { client } from '../helpers/http';
import { eventually } from '../helpers/temporal';
import { freePort, portOpen } from '../../scripts/lib/services';
import type { Enrolled, Lead, Nurture, Timeline } from '../helpers/apiTypes';

interface Stack {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

async function startStack(env: NodeJS.ProcessEnv): Promise<Stack> {
  let output = '';
  // What `npm start` runs, in a process group of its own, like a shell's foreground job.
  const child = spawn(path.join(PROJECT_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(PROJECT_ROOT, 'scripts', 'dev.ts')], {
    cwd: PROJECT_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`the stack exited early:\n${output}`);
    return output.includes('Ctrl-C stops everything.');
  }, 'the stack to start', 90_000);
  return { child, output: () => output, exited };
}

/** Ctrl-C on a terminal: SIGINT to the whole foreground process group. */
async function stop(stack: Stack): Promise<number | null> {
  process.kill(-stack.child.pid!, 'SIGINT');
  return stack.exited;
}

describe('the start command', function () {
  this.timeout(240_000);
  let env: NodeJS.ProcessEnv;
  let stack: Stack | null = null;

  before(async function () {
    const dataDir = path.join(testEnv.dataDir, 'stack');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.chmodSync(dataDir, 0o777);
    env = {
      ...process.env,
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
      TEMPORAL_DEV_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      SMTP_PORT: String(await freePort()),
      MAIL_INBOX_PORT: String(await freePort()),
      LOG_LEVEL: 'info',
      DATABASE_URL: '',
      TEMPORAL_ADDRESS: '',
      SMTP_HOST: '',
    };
  });

  afterEach(async function () {
    if (stack && stack.child.exitCode === null) await stop(stack);
    stack = null;
  });

  it('starts everything, prints the URLs and a token per role, and a restart resumes the running sequence', async function () {
    stack = await startStack(env);
    const printed = stack.output();
    const api = `http://localhost:${env.PORT}`;
    for (const line of [`API            ${api}`, `API docs       ${api}/docs`, `Temporal UI    http://localhost:${env.TEMPORAL_UI_PORT}/`, `Mail inbox     http://localhost:${env.MAIL_INBOX_PORT}`]) {
      assert.ok(printed.includes(line), `prints "${line}"`);
    }
    const tokens = Object.fromEntries([...printed.matchAll(/^ {4}(rep|tech_consultant|manager|admin)\s+.+?\s(sps_[\w-]+)$/gm)].map((m) => [m[1], m[2]]));
    assert.deepEqual(Object.keys(tokens).sort(), ['admin', 'manager', 'rep', 'tech_consultant']);
    const order = ['PostgreSQL', 'migrations applied', 'Temporal dev server ready', 'mail catch-all ready', 'worker polling', 'API listening'].map((s) => printed.indexOf(s));
    assert.ok(order.every((at, i) => at >= 0 && (i === 0 || at > order[i - 1])), `starts in order: ${order}`);

    const rep = client(api, tokens.rep);
    assert.equal((await client(api).get('/health')).status, 200);
    assert.equal((await fetch(`http://localhost:${env.TEMPORAL_UI_PORT}/`)).status, 200, 'the Temporal Web UI answers');
    const lead = (await rep.post<Lead>('/leads', { topic: 'Cameras', lastName: 'Moss', email: 'abbie.restart@fabrikam.example', companyName: 'Fabrikam', customerType: 'corporate' })).body;
    const enrolled = (await rep.post<Enrolled>(`/leads/${lead.id}/nurture`)).body;
    await eventually(async () => (await rep.get<Nurture>(`/leads/${lead.id}/nurture`)).body.steps?.[0].state === 'done', 'the intro call');

    assert.equal(await stop(stack), 0, 'Ctrl-C stops the stack cleanly');
    assert.match(stack.output(), /stopped; state is kept/);
    for (const port of [env.PORT, env.EMBEDDED_PG_PORT, env.TEMPORAL_DEV_PORT, env.SMTP_PORT]) {
      assert.equal(await portOpen(Number(port)), false, `nothing listens on ${port} any more`);
    }

    stack = await startStack(env);
    const again = Object.fromEntries([...stack.output().matchAll(/^ {4}(rep|tech_consultant|manager|admin)\s+.+?\s(sps_[\w-]+)$/gm)].map((m) => [m[1], m[2]]));
    assert.equal(again.rep, tokens.rep, 'the same users and tokens after a restart');
    const state = (await rep.get<Nurture>(`/leads/${lead.id}/nurture`)).body;
    assert.equal(state.runId, enrolled.runId);
    assert.equal(state.status, 'running');
    assert.equal(state.steps[0].state, 'done');
    assert.equal(state.currentStep, 'information_email');
    const paused = await rep.post(`/leads/${lead.id}/nurture/pause`);
    assert.equal(paused.status, 200, 'the resumed sequence answers its updates');
    assert.equal((await rep.get<Timeline>(`/leads/${lead.id}/timeline`)).body.page.total, 1, 'the intro call was not repeated');
  });
});

/**
 * An error no handler caught — thrown from a timer, a rejected promise nobody awaits, an 'error'
 * event nobody listens to — must not end the API process: the request it belongs to is answered
 * 500 problem+json, and the same process goes on serving (test/fixtures/strayErrorApi.ts).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { PROJECT_ROOT } from '../../config';

describe('the API process guard', function () {
  this.timeout(60_000);
  let child: ChildProcess;
  let url: string;

  before(async function () {
    child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(PROJECT_ROOT, 'test', 'fixtures', 'strayErrorApi.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve) => readline.createInterface({ input: child.stdout! }).once('line', resolve));
    url = `http://127.0.0.1:${port}`;
  });

  after(function () {
    child?.kill('SIGKILL');
  });

  for (const route of ['/throw-later', '/reject-later', '/emitter-error']) {
    it(`answers ${route} with 500 problem+json and keeps serving from the same process`, async function () {
      const { pid } = await (await fetch(`${url}/ok`)).json() as { pid: number };
      const response = await fetch(`${url}${route}`);
      assert.equal(response.status, 500);
      assert.match(response.headers.get('content-type') ?? '', /application\/problem\+json/);
      const body = await response.json() as { code: string; requestId: string };
      assert.equal(body.code, 'internal_error');
      assert.equal(body.requestId, 'stray-test');
      const again = await fetch(`${url}/ok`);
      assert.equal(again.status, 200);
      assert.equal(((await again.json()) as { pid: number }).pid, pid, 'the same process');
      assert.equal(child.exitCode, null);
    });
  }
});

/**
 * Provisioning: a second run rebuilds nothing, and on a machine without Go, Maven or internet it
 * stops with a message that says exactly what to install.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../config';
import { internetReachable } from '../../scripts/lib/tools';
import { testEnv } from '../helpers/env';

const run = promisify(execFile);
const provision = (env: NodeJS.ProcessEnv) =>
  run(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(PROJECT_ROOT, 'scripts', 'provision.ts')], { cwd: PROJECT_ROOT, env, timeout: 60_000 });

describe('provisioning the tools', function () {
  it('does nothing on a second run: the tools are present and nothing is rebuilt', async function () {
    const tools = path.join(PROJECT_ROOT, '.tools');
    const stamps = ['temporal-cli.stamp', 'temporal-test-server.stamp'].map((f) => fs.statSync(path.join(tools, f)).mtimeMs);
    const { stdout } = await provision({ ...process.env, LOG_LEVEL: 'info' });
    assert.match(stdout, /tools ready/);
    assert.doesNotMatch(stdout, /building|resolving/);
    assert.deepEqual(['temporal-cli.stamp', 'temporal-test-server.stamp'].map((f) => fs.statSync(path.join(tools, f)).mtimeMs), stamps);
  });

  it('without Go, Maven or internet, fails saying what to install', async function () {
    if (await internetReachable()) this.skip(); // reason: with internet the SDK download is the fallback, not this failure
    const empty = path.join(testEnv.dataDir, 'empty-tools');
    fs.mkdirSync(empty, { recursive: true });
    const nodeOnly = path.join(testEnv.dataDir, 'node-only-bin');
    fs.mkdirSync(nodeOnly, { recursive: true });
    fs.symlinkSync(process.execPath, path.join(nodeOnly, 'node'));
    await assert.rejects(
      provision({ ...process.env, PATH: nodeOnly, TOOLS_DIR: empty }),
      (error: { code?: number; stderr?: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr!, /install Go 1\.22 or newer/);
        return true;
      },
    );
  });
});

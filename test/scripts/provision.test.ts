/**
 * Provisioning: a second run rebuilds nothing, and on a machine without Go, Maven or internet, or
 * without a Python that can make a virtual environment, it stops saying exactly what to install.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT, loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import { ProvisionError, ensureSchemathesis, internetReachable } from '../../scripts/lib/tools';
import { testEnv } from '../helpers/env';

const run = promisify(execFile);
const provision = (env: NodeJS.ProcessEnv) =>
  run(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(PROJECT_ROOT, 'scripts', 'provision.ts')], { cwd: PROJECT_ROOT, env, timeout: 60_000 });

describe('provisioning the tools', function () {
  it('does nothing on a second run: the tools are present and nothing is rebuilt', async function () {
    const tools = loadConfig().toolsDir;
    const stampFiles = ['temporal-cli.stamp', 'temporal-test-server.stamp', 'schemathesis.stamp'];
    const stamps = stampFiles.map((f) => fs.statSync(path.join(tools, f)).mtimeMs);
    const { stdout } = await provision({ ...process.env, LOG_LEVEL: 'info' });
    assert.match(stdout, /tools ready/);
    assert.doesNotMatch(stdout, /building|resolving|installing/);
    assert.deepEqual(stampFiles.map((f) => fs.statSync(path.join(tools, f)).mtimeMs), stamps);
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

  describe('schemathesis, into a Python virtual environment', function () {
    const log = createLogger('silent');
    const toolsDir = () => fs.mkdtempSync(path.join(testEnv.dataDir, 'python-tools-'));

    it('without Python, fails saying what to install, and leaves nothing behind', async function () {
      const dir = toolsDir();
      await assert.rejects(ensureSchemathesis(dir, log, path.join(dir, 'no-such-python3')), (error: Error) => {
        assert.ok(error instanceof ProvisionError);
        assert.match(error.message, /install Python 3\.11 or newer with its venv module .*apt-get install python3 python3-venv/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(dir), []);
    });

    it('with a Python that cannot make a virtual environment (Debian without python3-venv), says so and what to install', async function () {
      const dir = toolsDir();
      // Answers the version probe like a Python 3.11, and fails `-m venv` as Debian's does without ensurepip.
      const python = path.join(dir, 'python3');
      fs.writeFileSync(python, '#!/bin/sh\nif [ "$1" = "-m" ]; then echo "The virtual environment was not created successfully because ensurepip is not available." >&2; exit 1; fi\nexit 0\n', { mode: 0o755 });
      await assert.rejects(ensureSchemathesis(dir, log, python), (error: Error) => {
        assert.ok(error instanceof ProvisionError);
        assert.match(error.message, /-m venv` could not create a virtual environment/);
        assert.match(error.message, /apt-get install python3 python3-venv/);
        assert.match(error.message, /ensurepip is not available/);
        return true;
      });
      assert.deepEqual(fs.readdirSync(dir), ['python3'], 'no half-made environment is left');
    });

    it('with a Python older than 3.11, says which version is needed', async function () {
      const dir = toolsDir();
      const python = path.join(dir, 'python3');
      fs.writeFileSync(python, '#!/bin/sh\nexit 3\n', { mode: 0o755 });
      await assert.rejects(ensureSchemathesis(dir, log, python), /needs Python 3\.11 or newer/);
    });
  });
});

/**
 * Replay: every stored history under test/replay/histories (completed nurture, deal and order runs,
 * recorded by `npm run histories:record`) must replay against the current workflow code without a
 * nondeterminism error. A change that would break running executions fails here, in CI, before it
 * ships: guard it with `patched()` instead.
 * The files are `History.toJSON()` output, decoded here with its inverse, `History.fromObject`
 * (the SDK's own JSON loader trips over the two copies of protobufjs this install has).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from '../helpers/temporal';

const DIR = path.join(__dirname, 'histories');
const FILES = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

describe('replaying stored workflow histories against the current code', function () {
  it('has completed nurture, deal and order histories to replay', function () {
    const types = FILES.map((f) => f.split('-')[0]);
    assert.ok(types.includes('leadNurtureWorkflow'), 'a nurture history');
    assert.ok(types.includes('dealLifecycleWorkflow'), 'a deal history');
    assert.ok(types.includes('orderToCashWorkflow'), 'an order history');
  });

  it('replays every history without nondeterminism', async function () {
    const histories = FILES.map((file) => ({ workflowId: file.replace(/\.json$/, ''), history: temporal.api.history.v1.History.fromObject(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8'))) }));
    const failures: string[] = [];
    let replayed = 0;
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      replayed += 1;
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    assert.equal(replayed, FILES.length);
    assert.deepEqual(failures, []);
  });
});

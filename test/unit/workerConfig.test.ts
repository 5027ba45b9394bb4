/**
 * The worker's sticky cache size (issue 9): bounded by default so a worker with 10,000 running
 * enrollments stays under 1 GiB (docs/capacity.md), and overridable per deployment.
 */
import assert from 'node:assert/strict';
import { DEFAULT_WORKER_MAX_CACHED_WORKFLOWS, loadConfig } from '../../config';

describe('WORKER_MAX_CACHED_WORKFLOWS', function () {
  it('defaults to the measured 1,000 runs rather than the SDK\'s heap-sized default', function () {
    assert.equal(DEFAULT_WORKER_MAX_CACHED_WORKFLOWS, 1000);
    assert.equal(loadConfig({}).workerMaxCachedWorkflows, 1000);
  });

  it('takes a deployment\'s own size, and 0 turns the cache off', function () {
    assert.equal(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '250' }).workerMaxCachedWorkflows, 250);
    assert.equal(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '0' }).workerMaxCachedWorkflows, 0);
  });

  it('refuses what is not a whole number, naming the variable', function () {
    for (const bad of ['lots', '-5', '2.5']) {
      assert.throws(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: bad }), /WORKER_MAX_CACHED_WORKFLOWS must be a whole number/);
    }
  });
});

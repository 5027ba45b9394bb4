/**
 * A full pass's match spread over shards (activities/customerUnificationShards.ts): the same
 * customers as the one-activity match, with one worker or two sharing the shards; each shard
 * loads only its records; a shard retried after a failure writes its links once; and the next
 * pass can still be incremental. On the dev server with the real workflow, activities and Postgres,
 * shards forced small (150 records) over customers-sample (573 records: 4 shards per rule).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCustomerUnificationActivities, type CustomerUnificationDeps } from '../../activities/customerUnification';
import { loadConfig } from '../../config';
import { blockKey, blockSpec } from '../../domain/customers/matcher';
import { compileRules, type MatchRule } from '../../domain/customers/rules';
import type { PassView } from '../../workflows/customerUnification.contract';
import { startTestWorker, testLog, uniqueTaskQueue, type RunningTestWorker } from '../helpers/temporal';
import { importCsv, unificationFixture } from './helpers';

const SHARD_RECORDS = 150;

describe('customer unification: the match sharded over workers (dev server)', function () {
  this.timeout(240_000);
  const fixture = unificationFixture();
  const { unify, membership } = fixture;
  const db = () => fixture.database.db;

  /** A worker whose match shards hold at most about SHARD_RECORDS records. */
  function shardingWorker(taskQueue: string, identity: string, hooks?: CustomerUnificationDeps['hooks'], settings: { shardRecords?: number; matchRulesFile?: string } = {}): Promise<RunningTestWorker> {
    const customers = { ...loadConfig().customers, shardRecords: SHARD_RECORDS, ...settings };
    return startTestWorker(fixture.env, db(), taskQueue, {
      identity,
      wrapActivities: (activities) => ({ ...activities, ...createCustomerUnificationActivities({ db: db(), log: testLog, customers, hooks }) }),
    });
  }

  /** A second worker in a process of its own (one process runs one worker per task queue). */
  async function workerProcess(taskQueue: string, identity: string): Promise<{ stop(): Promise<void> }> {
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(__dirname, '..', '..', 'bench', 'customers', 'unificationWorker.ts')], {
      env: { ...process.env, TEMPORAL_ADDRESS: fixture.env.address, TASK_QUEUE: taskQueue, DATABASE_URL: fixture.database.url, WORKER_IDENTITY: identity, UNIFICATION_SHARD_RECORDS: String(SHARD_RECORDS) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child.once('exit', () => reject(new Error('the worker process exited before it was ready')));
    });
    return {
      async stop() {
        child.kill('SIGTERM');
        await exited;
      },
    };
  }

  /** A full pass served by `worker`, which is stopped afterwards whatever happens. */
  async function fullPassWith(worker: { stop(): Promise<void> }, taskQueue: string): Promise<PassView> {
    try {
      return await unify(taskQueue, true);
    } finally {
      await worker.stop();
    }
  }

  const matchStats = (pass: PassView) => pass.phases.find((p) => p.phase === 'match')!.stats!;

  /** The pass's links as `step:a:b`, sorted (duplicates kept, so a duplicate shows). */
  async function linksOf(passId: string): Promise<string[]> {
    const rows = await db()('customer_match_links').where({ pass_id: passId }).select('step', 'a', 'b');
    return rows.map((l: { step: number; a: string; b: string }) => `${l.step}:${l.a}:${l.b}`).sort();
  }

  /** Activity type → the identities of the workers that ran its (last) attempts, and the attempts, from the run's history. */
  async function activityRuns(pass: PassView, workflowRunId: string) {
    const { events } = await fixture.env.client.workflow.getHandle('customer-unification', workflowRunId).fetchHistory();
    const typeOf = new Map<string, string>();
    for (const e of events!) if (e.activityTaskScheduledEventAttributes) typeOf.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType!.name!);
    const runs = events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => ({
      type: typeOf.get(String(e.activityTaskStartedEventAttributes!.scheduledEventId))!,
      identity: e.activityTaskStartedEventAttributes!.identity!,
      attempt: Number(e.activityTaskStartedEventAttributes!.attempt),
    }));
    assert.ok(pass.passId);
    return runs;
  }

  async function runOf(passId: string): Promise<string> {
    return (await db()('customer_unification_passes').where({ id: passId }).first('workflow_run_id')).workflow_run_id;
  }

  let unsharded: Map<string, string>;
  let shardedLinks: string[];

  it('a sharded full pass makes the customers the one-activity match makes, and each shard loads only its records', async function () {
    const taskQueue = uniqueTaskQueue('shard');
    const plain = await startTestWorker(fixture.env, db(), taskQueue);
    const reference = await fullPassWith(plain, taskQueue);
    assert.equal(matchStats(reference).sharded, 'no');
    assert.match(String(matchStats(reference).shardReason), /573 records fit one shard of 200000/);
    unsharded = await membership();
    assert.equal(new Set(unsharded.values()).size, 394);

    const sharding = await shardingWorker(taskQueue, 'shard-worker-a');
    const pass = await fullPassWith(sharding, taskQueue);
    const stats = matchStats(pass);
    assert.equal(stats.sharded, 'yes', String(stats.shardReason));
    assert.equal(stats.shards, 4);
    assert.equal(stats['shard.activities'], 12, 'three deterministic rules × four shards');
    assert.equal(stats.records, 573);
    assert.ok(Number(stats['links.source_link']) > 0 && Number(stats['links.email_and_name']) > 0, 'links from the SQL step and from the shards');
    assert.equal(pass.summary!.links, stats.links);
    assert.deepEqual([pass.summary!.created, pass.summary!.joined, pass.summary!.split, pass.summary!.kept], [0, 0, 0, 394], 'the same groups: every CustomerId kept');
    assert.deepEqual(await membership(), unsharded, 'the same CustomerId for every record');

    // Each shard loaded only the records whose block key for its rule hashes to it: together, for
    // each rule, exactly the records with a block key, and no shard anywhere near all of them.
    const rules = await compileRules((await db()('customer_unification_passes').where({ id: pass.passId }).first('rules')).rules, 'the pass rules');
    const keys = (await db()('customer_record_keys').pluck('keys')) as Array<Record<string, string | null>>;
    const shards = await db()('customer_unification_checkpoints').where({ pass_id: pass.passId, phase: 'match_shard' }).select('step', 'result');
    assert.equal(shards.length, 12);
    for (const [index, rule] of rules.config.rules.entries()) {
      if (rule.type !== 'match' || !rule.enabled) continue;
      const spec = blockSpec(rule as MatchRule);
      const withKey = keys.filter((k) => blockKey(spec, k) !== null).length;
      const loaded = shards.filter((s: { step: number }) => Math.floor(s.step / 1000) === index + 1).map((s: { result: { loaded: number } }) => s.result.loaded);
      assert.equal(loaded.length, 4, rule.name);
      assert.equal(loaded.reduce((a: number, b: number) => a + b, 0), withKey, `${rule.name}: the shards together load each record with a block key once`);
      assert.ok(Math.max(...loaded) < 0.5 * keys.length, `${rule.name}: shards of ${loaded.join(', ')} records out of ${keys.length}`);
    }
    assert.ok(Number(stats['shard.loadedMax']) < keys.length);

    // Each rule's checkpoint is as an unsharded match leaves it: the next incremental pass reads its oversized blocks.
    const match = await db()('customer_unification_checkpoints').where({ pass_id: pass.passId, phase: 'match' }).orderBy('step').select('step', 'result');
    assert.deepEqual(match.map((m: { step: number }) => m.step), [0, 1, 2, 3, 4, 5]);
    assert.ok(match.every((m: { result: { oversizedKeys?: unknown } }) => Array.isArray(m.result.oversizedKeys) || m.result.oversizedKeys === undefined));
    assert.ok(match.filter((m: { step: number }) => m.step >= 2 && m.step <= 4).every((m: { result: { oversizedKeys?: unknown } }) => Array.isArray(m.result.oversizedKeys)));
    shardedLinks = await linksOf(pass.passId!);
    assert.equal(new Set(shardedLinks).size, shardedLinks.length, 'no link written twice');
  });

  it('two worker processes share the shards of one pass and reach the same CustomerIds as one worker', async function () {
    const taskQueue = uniqueTaskQueue('shard');
    const [a, b] = await Promise.all([shardingWorker(taskQueue, 'shard-worker-a'), workerProcess(taskQueue, 'shard-worker-b')]);
    let pass: PassView;
    try {
      pass = await unify(taskQueue, true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    assert.equal(matchStats(pass).sharded, 'yes');
    const runs = await activityRuns(pass, await runOf(pass.passId!));
    const identities = new Set(runs.filter((r) => r.type === 'matchCustomerShard').map((r) => r.identity));
    assert.deepEqual([...identities].sort(), ['shard-worker-a', 'shard-worker-b'], 'both workers ran shards');
    assert.equal(matchStats(pass)['shard.workers'], 2, 'the shard checkpoints name two worker processes');
    assert.deepEqual(await membership(), unsharded, 'the same CustomerId for every record');
    assert.deepEqual(await linksOf(pass.passId!), shardedLinks, 'the same links as with one worker');
  });

  it('a shard that fails before or after its commit is retried, and its links are written once', async function () {
    const taskQueue = uniqueTaskQueue('shard');
    const failed = new Set<string>();
    const failOnce = (where: string) => {
      if (failed.has(where)) return;
      failed.add(where);
      throw new Error(`injected failure ${where}`);
    };
    const worker = await shardingWorker(taskQueue, 'shard-worker-a', {
      beforeShardCommit: (step, shard) => step === 2 && shard === 0 && failOnce('before the commit of rule 2, shard 0'),
      afterShardCheckpoint: (step, shard) => step === 3 && shard === 1 && failOnce('after the checkpoint of rule 3, shard 1'),
    });
    const pass = await fullPassWith(worker, taskQueue);
    assert.equal(failed.size, 2, 'both failures happened');
    const runs = await activityRuns(pass, await runOf(pass.passId!));
    assert.equal(runs.filter((r) => r.type === 'matchCustomerShard' && r.attempt >= 2).length, 2, 'the two shards ran a second attempt');
    assert.deepEqual(await linksOf(pass.passId!), shardedLinks, 'the same links, none twice');
    assert.deepEqual(await membership(), unsharded);
  });

  it('after a sharded full pass, a pass over a few changed records is incremental and joins the new record', async function () {
    const taskQueue = uniqueTaskQueue('shard');
    const worker = await shardingWorker(taskQueue, 'shard-worker-a');
    try {
      const header = 'LoyaltyId,ContactId,FirstName,LastName,FullName,DateOfBirth,Gender,EMail,Telephone,RewardPoints,CreditCard,CreatedOn';
      await importCsv(db(), { loyalty: `${header}\nLOYID_9001,CNTID_1103,Alan,Hernandez,Alan Hernandez,1957-04-28,Male,alan.hernandez@icloud.com,,10,No,2024-01-01\n` });
      const pass = await unify(taskQueue);
      assert.equal(pass.mode, 'incremental');
      const after = await membership();
      assert.equal(after.get('LOYID_9001'), after.get('CNTID_1103'), 'the new record joined its contact');
    } finally {
      await worker.stop();
    }
  });

  it('always-match overrides and source links, matched in SQL beside the shards, join what the one-activity match joins', async function () {
    // Two records of different customers, joined by an override.
    const before = await membership();
    const [first, ...rest] = [...before.keys()].sort();
    const second = rest.find((key) => before.get(key) !== before.get(first))!;
    const sourceOf = async (key: string) => (await db()('customer_source_records').where({ source_key: key }).first('source')).source as string;
    const rules = JSON.parse(fs.readFileSync(loadConfig().customers.matchRulesFile, 'utf8'));
    rules.overrides.alwaysMatch = [[`${await sourceOf(first)}:${first}`, `${await sourceOf(second)}:${second}`]];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rules-'));
    const matchRulesFile = path.join(dir, 'customer-matching.json');
    fs.writeFileSync(matchRulesFile, JSON.stringify(rules));
    try {
      const taskQueue = uniqueTaskQueue('shard');
      const plain = await shardingWorker(taskQueue, 'plain-worker', undefined, { matchRulesFile, shardRecords: 200_000 });
      const reference = await fullPassWith(plain, taskQueue);
      assert.equal(matchStats(reference).sharded, 'no');
      const joined = await membership();
      assert.equal(joined.get(first), joined.get(second), 'the override joined the two');

      const sharding = await shardingWorker(taskQueue, 'shard-worker-a', undefined, { matchRulesFile });
      const pass = await fullPassWith(sharding, taskQueue);
      assert.equal(matchStats(pass).sharded, 'yes');
      assert.equal(matchStats(pass)['links.always_match'], 1);
      assert.deepEqual([pass.summary!.created, pass.summary!.joined, pass.summary!.split], [0, 0, 0]);
      assert.deepEqual(await membership(), joined, 'the same CustomerId for every record');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

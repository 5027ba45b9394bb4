/**
 * The match phase of a full unification pass, spread over activities any worker takes, so that no
 * worker holds every person record (docs/customer-unification.md, "Sharding the match").
 *
 * planMatchShards         whether the pass can be sharded, and into how many shards
 * matchCustomerSourceLinks the always-match overrides and the source-link rules, in SQL (no records in memory)
 * matchCustomerShard      one deterministic rule over one shard: the records whose block key for
 *                         that rule hashes to the shard (so every block is wholly in one shard)
 * combineMatchShards      the shards' stats as the match phase's, and each rule's checkpoint as an
 *                         unsharded match leaves it (oversized block keys included, for the next
 *                         incremental pass)
 *
 * Each shard writes its links and its checkpoint in one transaction, the checkpoint first: a
 * retried or superseded attempt finds it and writes nothing, so no link is written twice.
 */
import os from 'node:os';
import { Context } from '@temporalio/activity';
import type { CustomerConfig } from '../config';
import type { Logger } from '../config/logger';
import { copyInto, withConnection } from '../db/customers/copy';
import type { Db } from '../db/knex';
import { MAX_OVERSIZED_KEPT, Matcher, blockSpec, stepNames, type StepStats } from '../domain/customers/matcher';
import { pacer } from '../domain/customers/pace';
import { keyId, splitRecordRef, type CompiledRules, type MatchRule } from '../domain/customers/rules';
import type { MatchShardPlan, MatchShardRef, PassRef, PhaseResult, PhaseStats, UnificationPhase } from '../workflows/customerUnification.contract';

/** The checkpoints of a pass's shards: phase `match_shard`, step `rule step × SHARD_STEP + shard`. */
const SHARD_PHASE = 'match_shard';

/** What a checkpoint belongs to: a phase, an incremental pass's plan, or a shard of the match. */
export type CheckpointPhase = UnificationPhase | 'plan' | typeof SHARD_PHASE;

/**
 * The match phase's totals from its rules' checkpoints (step → stats), as the one-activity match
 * and the sharded one both report them: links, comparisons, oversized blocks, and each rule's links.
 */
export function matchTotals(names: string[], byStep: Map<number, PhaseStats>): PhaseStats {
  const totals: PhaseStats = { links: 0, comparisons: 0, oversizedBlocks: 0 };
  for (const [step, s] of [...byStep].sort(([a], [b]) => a - b)) {
    totals.links = Number(totals.links) + Number(s.links);
    totals.comparisons = Number(totals.comparisons) + Number(s.comparisons);
    totals.oversizedBlocks = Number(totals.oversizedBlocks) + Number(s.oversizedBlocks);
    totals[`links.${names[step]}`] = Number(s.links);
  }
  return totals;
}
const SHARD_STEP = 1000;
const PAGE = 20_000;

export interface ShardHooks {
  /** Fault injection for tests: inside a shard's transaction, its links written, before the commit. */
  beforeShardCommit?: (step: number, shard: number) => void;
  /** Fault injection for tests: once a shard's links and checkpoint are committed. */
  afterShardCheckpoint?: (step: number, shard: number) => void;
}

interface Reporter {
  (details: Record<string, unknown>, force?: boolean): Promise<void>;
  stop(): void;
}

/** What the unification activities lend the shards (one copy of each mechanism). */
export interface ShardSupport {
  passRules(passId: string): Promise<CompiledRules>;
  checkpoints(passId: string, phase: CheckpointPhase): Promise<Map<number, PhaseStats>>;
  checkpoint(trx: Db, passId: string, phase: CheckpointPhase, step: number, result: unknown): Promise<void>;
  reporter(passId: string, phase: UnificationPhase): Reporter;
  stepClock(): { step<T>(name: string, run: () => Promise<T>): Promise<T>; stats: PhaseStats };
}

/**
 * The SQL twin of `blockKey` over customer_record_keys.keys (alias `k`): each key's value, cut to
 * its prefix, then U+0001; null when a key is missing (the record is in no block of the rule).
 */
export function blockKeySql(spec: ReadonlyArray<{ keyId: string; prefix?: number }>): { sql: string; bindings: string[] } {
  return {
    sql: spec.map((b) => `${b.prefix ? `left(k.keys->>?, ${Number(b.prefix)})` : '(k.keys->>?)'} || chr(1)`).join(' || '),
    bindings: spec.map((b) => b.keyId),
  };
}

/** The deterministic rules a sharded match splits, by step (1..n as in `stepNames`). */
function shardedRules(rules: CompiledRules): Array<{ step: number; rule: MatchRule }> {
  return rules.config.rules.map((rule, i) => ({ rule, step: i + 1 }))
    .filter((x): x is { step: number; rule: MatchRule } => x.rule.type === 'match' && x.rule.enabled);
}

function attempt(): number | null {
  try {
    return Context.current().info.attempt;
  } catch {
    return null;
  }
}

/** At most `n` callers at once; the others wait their turn (in arrival order). */
function slots(n: number) {
  let free = n;
  const waiting: Array<() => void> = [];
  return {
    async acquire(): Promise<void> {
      if (free > 0) {
        free--;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release(): void {
      const next = waiting.shift();
      if (next) next();
      else free++;
    },
  };
}

export function createMatchShardActivities(
  { db, log, customers, hooks }: { db: Db; log: Logger; customers: CustomerConfig; hooks?: ShardHooks },
  support: ShardSupport,
) {
  // One JavaScript thread per worker: shards run here one after another (UNIFICATION_SHARD_SLOTS),
  // so a worker holds one shard's records at a time, however many shard tasks it took.
  const slot = slots(customers.shardSlots);
  const worker = `${os.hostname()}:${process.pid}`;

  async function shardCheckpoint(passId: string, step: number, shard: number): Promise<PhaseStats | null> {
    const row = await db('customer_unification_checkpoints').where({ pass_id: passId, phase: SHARD_PHASE, step: step * SHARD_STEP + shard }).first('result');
    return row ? (row.result as PhaseStats) : null;
  }

  /**
   * Whether the match of a full pass can be sharded: only deterministic rules over block keys
   * (a probabilistic rule estimates its weights over every record; which links never-match
   * overrides refuse depends on the order links are made in), and more records than one shard
   * holds (UNIFICATION_SHARD_RECORDS). Otherwise the one-activity match, with the reason.
   */
  async function planMatchShards({ passId }: PassRef): Promise<MatchShardPlan> {
    const rules = await support.passRules(passId);
    const names = stepNames(rules.config);
    const [{ records }] = await db('customer_record_keys').count<{ records: number }[]>({ records: '*' });
    const total = Number(records);
    const none = (reason: string): MatchShardPlan => {
      log.info({ passId, reason }, 'unification match not sharded');
      return { shards: [], shardCount: 0, records: total, reason };
    };
    if (rules.config.rules.some((r) => r.type === 'probabilistic' && r.enabled)) return none('a probabilistic rule estimates its weights over every record');
    if (rules.config.overrides.neverMatch.length > 0) return none('never-match overrides depend on the order links are made in');
    const steps = shardedRules(rules);
    if (!steps.length) return none('no deterministic match rule to shard');
    const shardCount = Math.ceil(total / customers.shardRecords);
    if (shardCount <= 1) return none(`${total} records fit one shard of ${customers.shardRecords}`);
    if (shardCount >= SHARD_STEP) return none(`${shardCount} shards of ${customers.shardRecords} records are too many: raise UNIFICATION_SHARD_RECORDS`);
    const shards = steps.flatMap(({ step }) => Array.from({ length: shardCount }, (_, shard) => ({ step, shard, rule: names[step] })));
    const reason = `${total} records in ${shardCount} shards of at most about ${customers.shardRecords} per rule, ${steps.length} rules`;
    log.info({ passId, shardCount, activities: shards.length }, 'unification match sharded');
    return { shards, shardCount, records: total, reason };
  }

  /**
   * Step 0 (always-match overrides) and the source-link rules, straight in SQL: they pair records
   * by their source keys, not by blocks, and need no record in memory. Only records with keys
   * take part, as in the matcher. Each step's links and checkpoint in one transaction.
   */
  async function matchCustomerSourceLinks({ passId }: PassRef): Promise<PhaseResult> {
    const rules = await support.passRules(passId);
    const names = stepNames(rules.config);
    const clock = support.stepClock();
    const stats: PhaseStats = {};
    const steps: Array<{ step: number; confidence: number; select: string; bindings: string[][] }> = [];
    const lefts = rules.config.overrides.alwaysMatch.map(([left]) => splitRecordRef(left));
    const rights = rules.config.overrides.alwaysMatch.map(([, right]) => splitRecordRef(right));
    steps.push({
      step: 0, confidence: 1,
      bindings: [lefts.map((r) => r.source), lefts.map((r) => r.key), rights.map((r) => r.source), rights.map((r) => r.key)],
      select: `with pairs as (select ls, lk, rs, rk from unnest(?::text[], ?::text[], ?::text[], ?::text[]) as p(ls, lk, rs, rk)),
                    ids as (select x.id as a, y.id as b from pairs p
                      join customer_source_records x on x.source = p.ls and x.source_key = p.lk
                      join customer_source_records y on y.source = p.rs and y.source_key = p.rk
                      where x.id <> y.id
                        and exists (select 1 from customer_record_keys k where k.record_id = x.id)
                        and exists (select 1 from customer_record_keys k where k.record_id = y.id))
               select distinct least(a, b) as a, greatest(a, b) as b from ids`,
    });
    rules.config.rules.forEach((rule, i) => {
      if (rule.type !== 'link') return;
      steps.push({
        step: i + 1, confidence: rule.confidence, bindings: [],
        select: `select distinct least(r.id, t.id) as a, greatest(r.id, t.id) as b
                 from customer_record_keys kr join customer_source_records r on r.id = kr.record_id
                 cross join lateral jsonb_each_text(r.links) as l(source, key)
                 join customer_source_records t on t.source = l.source and t.source_key = l.key
                 where t.id <> r.id and r.links <> '{}'::jsonb and exists (select 1 from customer_record_keys kt where kt.record_id = t.id)`,
      });
    });
    // Heartbeats from a timer while the statements run (a million records' links take seconds).
    const report = support.reporter(passId, 'match');
    try {
      for (const { step, confidence, select, bindings } of steps) await sourceLinkStep(step, confidence, select, bindings);
    } finally {
      report.stop();
    }
    return { stats: { ...stats, ...clock.stats } };

    async function sourceLinkStep(step: number, confidence: number, select: string, bindings: string[][]): Promise<void> {
      await report({ rule: names[step], step: 'links' }, true);
      const done = await db('customer_unification_checkpoints').where({ pass_id: passId, phase: 'match', step }).first('result');
      if (done) {
        stats[`links.${names[step]}`] = Number(done.result.links);
        return;
      }
      const links = await clock.step(`rule.${names[step]}`, () => db.transaction(async (trx) => {
        const claimed = await trx.raw("insert into customer_unification_checkpoints (pass_id, phase, step, result) values (?, 'match', ?, '{}') on conflict do nothing returning step", [passId, step]);
        if (!claimed.rows.length) return null;
        const inserted = await trx.raw(`insert into customer_match_links (pass_id, step, a, b, rule, confidence) select ?::uuid, ?::int, s.a, s.b, ?, ? from (${select}) s`,
          [passId, step, names[step], confidence, ...bindings]);
        const result: StepStats = { step, rule: names[step], blocks: 0, comparisons: 0, links: inserted.rowCount ?? 0, oversizedBlocks: 0, largestBlock: 0, refusedByOverride: 0 };
        await trx('customer_unification_checkpoints').where({ pass_id: passId, phase: 'match', step }).update({ result: JSON.stringify(result) });
        return result.links;
      }));
      stats[`links.${names[step]}`] = links ?? Number((await db('customer_unification_checkpoints').where({ pass_id: passId, phase: 'match', step }).first('result')).result.links);
    }
  }

  /** The shard's records for `step`: only the keys its rule reads, in id order (a retry loads the same records in the same order). */
  async function loadShard(rules: CompiledRules, rule: MatchRule, ref: MatchShardRef, report: Reporter): Promise<Matcher> {
    const spec = blockSpec(rule);
    const wanted = [...new Set([...spec.map((b) => b.keyId), ...rule.conditions.map((c) => keyId(c.attribute, c.normalize))])];
    const key = blockKeySql(spec);
    const matcher = new Matcher(null, rules);
    const pause = pacer();
    let after = 0;
    let loaded = 0;
    for (;;) {
      // Only the keys the rule reads, as text columns: no record's whole keys object is parsed.
      const { rows } = await db.raw(
        `select k.record_id as id, r.source, ${wanted.map((_, i) => `k.keys->>? as k${i}`).join(', ')}
         from customer_record_keys k join customer_source_records r on r.id = k.record_id
         where k.record_id > ? and (hashtext(${key.sql}) & 2147483647) % ? = ?
         order by k.record_id limit ?`,
        [...wanted, after, ...key.bindings, ref.shards, ref.shard, PAGE],
      );
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        const keys: Record<string, string | null> = {};
        for (let c = 0; c < wanted.length; c++) keys[wanted[c]] = r[`k${c}`];
        // A match rule never looks a record up by its source key or follows its source links.
        matcher.add({ id: Number(r.id), source: r.source, sourceKey: '', keys, links: {} });
        if ((i & 1023) === 0) await pause();
      }
      loaded += rows.length;
      if (rows.length < PAGE) break;
      after = Number(rows[rows.length - 1].id);
      await report({ step: 'load', rule: rule.name, shard: ref.shard, loaded });
    }
    matcher.seal();
    return matcher;
  }

  /** One deterministic rule over one shard's records; its links and stats once, whatever the retries. */
  async function matchCustomerShard(ref: MatchShardRef): Promise<PhaseResult> {
    const { passId, step, shard } = ref;
    const summary = (s: Record<string, unknown>): PhaseStats => ({ step, shard, loaded: Number(s.loaded), links: Number(s.links), comparisons: Number(s.comparisons), worker: String(s.worker) });
    const done = await shardCheckpoint(passId, step, shard);
    if (done) return { stats: summary(done) };
    const report = support.reporter(passId, 'match');
    await slot.acquire();
    try {
      await report({ rule: step, shard, step: 'start' }, true);
      const rules = await support.passRules(passId);
      const rule = rules.config.rules[step - 1];
      if (rule?.type !== 'match') throw new Error(`step ${step} of pass ${passId} is not a deterministic match rule`);
      const clock = support.stepClock();
      const matcher = await clock.step('load', () => loadShard(rules, rule, ref, report));
      const heapMiB = Math.round(process.memoryUsage().heapUsed / 2 ** 20);
      const { links, stats } = await clock.step(`rule.${rule.name}`, () => matcher.runStep(step, (p) => report({ ...p, shard })));
      const result: Record<string, number | string | null | string[]> = {
        step, shard, shards: ref.shards, rule: rule.name, loaded: matcher.size, links: stats.links, comparisons: stats.comparisons, blocks: stats.blocks,
        oversizedBlocks: stats.oversizedBlocks, largestBlock: stats.largestBlock, heapUsedMiB: heapMiB, worker, ...clock.stats,
        ...(stats.oversizedKeys ? { oversizedKeys: stats.oversizedKeys } : {}),
      };
      const written = await clock.step('write', () => withConnection(db, async (client) => {
        await client.query('begin');
        try {
          // The checkpoint first: a concurrent attempt of the same shard waits here, then finds it taken.
          const claimed = await client.query(`insert into customer_unification_checkpoints (pass_id, phase, step, result) values ($1, '${SHARD_PHASE}', $2, $3) on conflict do nothing returning step`,
            [passId, step * SHARD_STEP + shard, JSON.stringify(result)]);
          if (!claimed.rowCount) {
            await client.query('rollback');
            return false;
          }
          const pause = pacer();
          for (let i = 0; i < links.length; i += 2000) {
            await copyInto(client, 'customer_match_links', ['pass_id', 'step', 'a', 'b', 'rule', 'confidence'], links.slice(i, i + 2000).map((l) => [passId, step, l.a, l.b, l.rule, l.confidence]));
            await pause();
          }
          hooks?.beforeShardCommit?.(step, shard);
          await client.query('commit');
          return true;
        } catch (error) {
          await client.query('rollback').catch(() => undefined);
          throw error;
        }
      }));
      if (!written) return { stats: summary((await shardCheckpoint(passId, step, shard))!) };
      hooks?.afterShardCheckpoint?.(step, shard);
      log.info({ passId, step, shard, loaded: matcher.size, links: links.length, attempt: attempt() }, 'unification match shard done');
      return { stats: summary(result) };
    } finally {
      slot.release();
      report.stop();
    }
  }

  /**
   * The match phase's stats from its shards (the keys an unsharded match reports, so the pass's
   * summary and the API read them alike), and each rule's checkpoint as an unsharded match
   * writes it: blocks, comparisons and links summed, the oversized block keys of every shard.
   */
  async function combineMatchShards({ passId, shardCount, records }: { passId: string; shardCount: number; records: number }): Promise<PhaseResult> {
    const rules = await support.passRules(passId);
    const names = stepNames(rules.config);
    const byStep = new Map<number, Array<Record<string, number | string | null | string[]>>>();
    for (const [at, result] of [...await support.checkpoints(passId, SHARD_PHASE)].sort(([a], [b]) => a - b)) {
      const step = Math.floor(at / SHARD_STEP);
      byStep.set(step, [...(byStep.get(step) ?? []), result as Record<string, number | string | null | string[]>]);
    }
    const stats: PhaseStats = {};
    const add = (key: string, value: number, combine: (a: number, b: number) => number = (a, b) => a + b) => (stats[key] = combine(Number(stats[key] ?? 0), value));
    const loaded: number[] = [];
    const heaps: number[] = [];
    const workers = new Set<string>();
    for (const { step, rule } of shardedRules(rules)) {
      const shards = byStep.get(step) ?? [];
      if (shards.length !== shardCount) throw new Error(`pass ${passId}: rule ${rule.name} has ${shards.length} of ${shardCount} shards done`);
      const keys = shards.every((s) => Array.isArray(s.oversizedKeys)) ? shards.flatMap((s) => s.oversizedKeys as string[]) : null;
      const merged: StepStats = {
        step, rule: rule.name, blocks: 0, comparisons: 0, links: 0, oversizedBlocks: 0, largestBlock: 0, refusedByOverride: 0,
        ...(keys && keys.length <= MAX_OVERSIZED_KEPT ? { oversizedKeys: keys } : {}),
      };
      for (const s of shards) {
        merged.blocks += Number(s.blocks);
        merged.comparisons += Number(s.comparisons);
        merged.links += Number(s.links);
        merged.oversizedBlocks += Number(s.oversizedBlocks);
        merged.largestBlock = Math.max(merged.largestBlock, Number(s.largestBlock));
        loaded.push(Number(s.loaded));
        heaps.push(Number(s.heapUsedMiB));
        workers.add(String(s.worker));
        for (const [key, value] of Object.entries(s)) {
          if (key.startsWith('time.')) add(key, Number(value));
          else if (key.startsWith('loopMax.') || key.startsWith('gcMax.')) add(key, Number(value), Math.max);
        }
      }
      await support.checkpoint(db, passId, 'match', step, merged);
    }
    // Disabled rules match nothing; their checkpoints say so, as an unsharded match's do.
    const checkpoints = await support.checkpoints(passId, 'match');
    for (let step = 0; step < names.length; step++) {
      if (checkpoints.has(step)) continue;
      const empty: StepStats = { step, rule: names[step], blocks: 0, comparisons: 0, links: 0, oversizedBlocks: 0, largestBlock: 0, refusedByOverride: 0, oversizedKeys: [] };
      await support.checkpoint(db, passId, 'match', step, empty);
      checkpoints.set(step, empty as unknown as PhaseStats);
    }
    const result: PhaseStats = {
      records, ...matchTotals(names, checkpoints), resumedFrom: null, ...stats, mode: 'full',
      shards: shardCount, 'shard.activities': loaded.length, 'shard.loadedMax': Math.max(...loaded), 'shard.loadedSum': loaded.reduce((a, b) => a + b, 0), 'shard.workers': workers.size,
      // The largest heap a worker had right after loading a shard (its whole heap: garbage and other work included).
      'shard.heapUsedMaxMiB': Math.max(...heaps),
    };
    log.info({ passId, ...result }, 'unification match done (sharded)');
    return { stats: result };
  }

  return { planMatchShards, matchCustomerSourceLinks, matchCustomerShard, combineMatchShards };
}

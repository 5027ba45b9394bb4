/**
 * The phases of customer unification, one activity each. Every phase reads and writes Postgres
 * keyed by the pass id, records durable checkpoints as it goes and heartbeats its progress
 * (shown in the Temporal UI as the activity's heartbeat details): a retry after a crash — on the
 * same worker or another — resumes after the last checkpoint instead of starting over, and a
 * phase that already finished returns its recorded result.
 *
 * map     normalises each changed record for the rules (customer_record_keys)
 * match   runs the rules in order; each rule's links are one checkpoint (customer_match_links)
 * cluster groups linked records and gives each group its stable CustomerId (customer_assignments)
 * merge   builds every profile (customer_profile_staging), then publishes them in one transaction
 */
import crypto from 'node:crypto';
import { PerformanceObserver, monitorEventLoopDelay, performance, type PerformanceEntry } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { parse } from 'csv-parse';
import { to as copyTo } from 'pg-copy-streams';
import type { CustomerConfig } from '../config';
import { loadMappings, loadRulesFile } from '../config/customers';
import type { Logger } from '../config/logger';
import { copyInto, withConnection, type CopyValue } from '../db/customers/copy';
import type { Knex } from 'knex';
import type { Db } from '../db/knex';
import { assignCustomersPaced, type ClusterResult } from '../domain/customers/clusters';
import { blockKeySql, createMatchShardActivities, matchTotals, type CheckpointPhase, type ShardHooks } from './customerUnificationShards';
import { MAX_OVERSIZED_KEPT, Matcher, blockKey, blockSpec, recordKeys, stepNames, type ExtraValues, type Link } from '../domain/customers/matcher';
import { pacer } from '../domain/customers/pace';
import { mergeProfile, type MemberRecord, type Profile } from '../domain/customers/profile';
import { MappingError } from '../domain/customers/mapping';
import { RulesError, compileRules, splitRecordRef, type CompiledRules, type MatchRule } from '../domain/customers/rules';
import {
  UNIFICATION_FAILURES,
  type BeginPassInput,
  type FinishPassInput,
  type PassMode,
  type PassPlan,
  type PassRef,
  type PhaseResult,
  type PhaseStats,
  type UnificationPhase,
  type UnificationSummary,
} from '../workflows/customerUnification.contract';

export interface CustomerUnificationDeps {
  db: Db;
  log: Logger;
  /** Where the match rules live (config `customers`). */
  customers: CustomerConfig;
  /** Fault injection for tests: called once a checkpoint is durable. */
  hooks?: { afterCheckpoint?: (phase: UnificationPhase, step: number) => void } & ShardHooks;
}

const BATCH = 5000;
const PROGRESS_EVERY_MS = 1000;

const HEARTBEAT_EVERY_MS = 5000;

/**
 * A phase's progress: heartbeats (inside an activity) with the latest details — also from a
 * timer, so that long database reads keep the activity alive — the pass's progress row
 * (throttled), and the stop when Temporal cancels the attempt (for instance because its heartbeat
 * timed out and a retry took over): a superseded attempt must not go on writing.
 */
function progressReporter(db: Db, passId: string, phase: UnificationPhase) {
  let last = 0;
  let details: Record<string, unknown> = {};
  let context: Context | null = null;
  try {
    context = Context.current();
  } catch {
    context = null;
  }
  const beat = () => context?.heartbeat({ phase, ...details });
  const timer = context ? setInterval(beat, HEARTBEAT_EVERY_MS) : null;
  timer?.unref();
  const report = async (next: Record<string, unknown>, force = false) => {
    details = next;
    beat();
    if (context?.cancellationSignal.aborted) throw new CancelledFailure(`unification ${phase} attempt cancelled: ${String(context.cancellationSignal.reason ?? '')}`);
    const now = Date.now();
    if (!force && now - last < PROGRESS_EVERY_MS) return;
    last = now;
    await db('customer_unification_passes').where({ id: passId }).update({ phase, progress: JSON.stringify({ phase, ...details, at: new Date(now).toISOString() }) });
  };
  return Object.assign(report, { stop: () => timer && clearInterval(timer) });
}

/** The heartbeat details a previous attempt left (logged; the checkpoints are what resume). */
function previousDetails(): unknown {
  try {
    const { heartbeatDetails, attempt } = Context.current().info;
    return attempt > 1 ? heartbeatDetails : undefined;
  } catch {
    return undefined;
  }
}

type Reporter = ReturnType<typeof progressReporter>;

/**
 * copyInTransaction, but the rows go in slices of COPY_SLICE, each its own COPY statement in the
 * one transaction, with the loop let through between them: a single COPY of a million rows
 * formats them all without returning to the loop.
 */
const COPY_SLICE = 2000;
async function copyPaced(db: Db, spec: { before?: Array<[string, unknown[]]>; table: string; columns: string[]; rows: CopyValue[][]; after?: Array<[string, unknown[]]> }): Promise<void> {
  const pause = pacer();
  await withConnection(db, async (client) => {
    await client.query('begin');
    try {
      for (const [sql, params] of spec.before ?? []) await client.query(sql, params);
      for (let i = 0; i < spec.rows.length; i += COPY_SLICE) {
        await copyInto(client, spec.table, spec.columns, spec.rows.slice(i, i + COPY_SLICE));
        await pause();
      }
      for (const [sql, params] of spec.after ?? []) await client.query(sql, params);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch(() => undefined);
      throw error;
    }
  });
}

/**
 * Where a phase's time goes: each named step's wall time (`time.<step>`, ms, summed when a step
 * runs several times) and the longest the event loop waited while it ran (`loopMax.<step>`, ms,
 * from perf_hooks.monitorEventLoopDelay): both go into the phase's stats, so every pass shows
 * its profile and whether a step held the loop (other workflows' timers and heartbeats).
 */
function stepClock() {
  const stats: PhaseStats = {};
  async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    let gcMax = 0;
    const gc = new PerformanceObserver((list) => {
      for (const entry of list.getEntries() as PerformanceEntry[]) gcMax = Math.max(gcMax, entry.duration);
    });
    gc.observe({ entryTypes: ['gc'] });
    delay.enable();
    const started = performance.now();
    try {
      return await run();
    } finally {
      delay.disable();
      gc.disconnect();
      const add = (key: string, value: number, combine: (a: number, b: number) => number) => (stats[key] = combine(Number(stats[key] ?? 0), Math.round(value)));
      add(`time.${name}`, performance.now() - started, (a, b) => a + b);
      add(`loopMax.${name}`, delay.count > 0 ? delay.max / 1e6 : 0, Math.max);
      // The longest garbage-collection pause in the step: what a loop delay is made of when the code yields often.
      add(`gcMax.${name}`, gcMax, Math.max);
    }
  }
  return { step, stats };
}

/** The id of a group new in this pass: the same on every retry of the pass. */
function newCustomerId(passId: string, smallestRecordId: number): string {
  const hex = crypto.createHash('sha1').update(`${passId}:${smallestRecordId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

interface PassRow {
  id: string;
  rules: unknown;
  rules_hash: string | null;
  status: string;
  started_at: Date;
  published_at: Date | null;
  fingerprint: string | null;
  full_requested: boolean;
  mode: PassMode | null;
  base_pass_id: string | null;
}

/** Past this share of changed records an incremental pass is no cheaper than a full one. */
const INCREMENTAL_MAX_SHARE = 0.2;

export function createCustomerUnificationActivities({ db, log, customers, hooks }: CustomerUnificationDeps) {
  const rulesFile = () => customers.matchRulesFile;

  async function passRow(passId: string) {
    const row = await db('customer_unification_passes').where({ id: passId }).first();
    if (!row) throw ApplicationFailure.nonRetryable(`unification pass ${passId} does not exist`, UNIFICATION_FAILURES.passNotFound);
    return row as PassRow;
  }

  /**
   * What a pass is computed from: the rules (their hash and their normalisations' signature) and
   * the person records — their count, largest id and a checksum over every row's id, source, key,
   * content hash and update time (one scan, about a second at a million records). Taken before
   * the pass reads any record, so a record changed while the pass runs makes the next pass's
   * fingerprint differ, never the reverse.
   */
  async function inputFingerprint(rules: CompiledRules): Promise<string> {
    const { rows } = await db.raw(
      `select count(*)::text || ':' || coalesce(max(id), 0)::text || ':'
              || coalesce(sum(hashtextextended(id::text || ':' || source || ':' || source_key || ':' || row_hash || ':' || updated_at::text, 0)::numeric), 0)::text as records
       from customer_source_records`,
    );
    return crypto.createHash('sha256').update(`v1:${rules.hash}:${rules.keysSignature}:${rows[0].records}`).digest('hex').slice(0, 32);
  }

  async function passRules(passId: string): Promise<CompiledRules> {
    const row = await passRow(passId);
    try {
      return await compileRules(row.rules, `the rules of pass ${passId}`);
    } catch (error) {
      if (error instanceof RulesError) throw ApplicationFailure.nonRetryable(error.message, UNIFICATION_FAILURES.invalidRules);
      throw error;
    }
  }

  async function checkpoints(passId: string, phase: CheckpointPhase): Promise<Map<number, PhaseStats>> {
    const rows = await db('customer_unification_checkpoints').where({ pass_id: passId, phase }).select('step', 'result');
    return new Map(rows.map((r: { step: number; result: PhaseStats }) => [r.step, r.result]));
  }

  async function checkpoint(trx: Db, passId: string, phase: CheckpointPhase, step: number, result: unknown): Promise<void> {
    await trx('customer_unification_checkpoints').insert({ pass_id: passId, phase, step, result: JSON.stringify(result) }).onConflict(['pass_id', 'phase', 'step']).ignore();
  }

  /**
   * How many customers a pass published, as counted in its publishing transaction. An incremental
   * pass counts from its base's (no pass published since: the base is the last to publish)
   * instead of counting every customer.
   */
  async function publishedCustomers(passId: string): Promise<number> {
    const published = (await checkpoints(passId, 'merge')).get(1)?.customers;
    if (published === undefined) throw new Error(`pass ${passId} published no customers`);
    return Number(published);
  }

  /** The ids of the records with these (source, key) pairs, by `source:key`, in one lookup of the key. */
  async function recordIdsByKey(refs: Array<{ source: string; key: string }>): Promise<Map<string, number>> {
    if (!refs.length) return new Map();
    const { rows } = await db.raw('select r.id, r.source, r.source_key from customer_source_records r join unnest(?::text[], ?::text[]) as t(source, key) on r.source = t.source and r.source_key = t.key',
      [refs.map((r) => r.source), refs.map((r) => r.key)]);
    return new Map(rows.map((r: { id: string; source: string; source_key: string }) => [`${r.source}:${r.source_key}`, Number(r.id)]));
  }

  /** Starts (or, on a retry, finds) the pass and freezes the rules it will apply. */
  async function beginUnificationPass(input: BeginPassInput): Promise<{ passId: string; rulesHash: string }> {
    let rules: CompiledRules;
    try {
      rules = await loadRulesFile(rulesFile(), loadMappings(customers.mappingsDir).values());
    } catch (error) {
      if (error instanceof RulesError || error instanceof MappingError) throw ApplicationFailure.nonRetryable(error.message, UNIFICATION_FAILURES.invalidRules);
      throw error;
    }
    const fingerprint = await inputFingerprint(rules);
    await db('customer_unification_passes')
      .insert({
        workflow_id: input.workflowId, workflow_run_id: input.workflowRunId, pass: input.pass, request_ids: JSON.stringify(input.requestIds),
        rules: JSON.stringify(rules.config), rules_hash: rules.hash, phase: 'map', fingerprint, full_requested: input.full === true,
      })
      .onConflict(['workflow_run_id', 'pass'])
      .ignore();
    const row = await db('customer_unification_passes').where({ workflow_run_id: input.workflowRunId, pass: input.pass }).first('id', 'rules_hash');
    log.info({ passId: row.id, pass: input.pass, requests: input.requestIds.length }, 'unification pass started');
    return { passId: row.id, rulesHash: row.rules_hash };
  }

  // -------------------------------------------------------------------------------------------
  // map

  /**
   * Nothing to map when a pass with the same input fingerprint (same records, same rules) finished
   * its map and every record still has its keys: the scan for changed records is skipped.
   */
  async function mappedBefore(passId: string, fingerprint: string | null, total: number): Promise<string | null> {
    if (!fingerprint) return null;
    const earlier = await db('customer_unification_passes as p')
      .join('customer_unification_checkpoints as c', 'c.pass_id', 'p.id')
      .where({ 'p.fingerprint': fingerprint, 'c.phase': 'map', 'c.step': 0 })
      .whereNot('p.id', passId)
      .orderBy('p.started_at', 'desc')
      .first('p.id');
    if (!earlier) return null;
    const [{ keys }] = await db('customer_record_keys').count<{ keys: number }[]>({ keys: '*' });
    return Number(keys) === total ? earlier.id : null;
  }

  /**
   * What a map leaves besides its counts (map checkpoint step 1): the normalisations it mapped
   * with, and the imports it had seen loaded before it read any record.
   */
  interface MapCoverage {
    signature: string;
    imports: string[];
  }

  async function mapCoverage(passId: string): Promise<MapCoverage | null> {
    const row = await db('customer_unification_checkpoints').where({ pass_id: passId, phase: 'map', step: 1 }).first('result');
    return (row?.result as MapCoverage | undefined) ?? null;
  }

  /**
   * The imports loaded since the latest map, when that map used the same normalisations: only
   * their records (and records no import names) can need mapping, found by an index instead of
   * comparing every record's keys. Only the importer writes person records, and every row it
   * inserts or changes names it (`last_import_id`) in the transaction that marks it `loaded`; a
   * map that read the loaded imports before reading records left every record of those imports
   * mapped (an import loaded during the map is not among them: the next map looks at it again).
   * Null when the latest map left no coverage or used other normalisations: look at every record.
   */
  async function importsSinceLastMap(passId: string, signature: string, loaded: string[]): Promise<string[] | null> {
    const latest = await db('customer_unification_checkpoints').where({ phase: 'map', step: 0 }).whereNot('pass_id', passId).orderBy('done_at', 'desc').first('pass_id');
    const coverage = latest ? await mapCoverage(latest.pass_id) : null;
    if (!coverage || coverage.signature !== signature) return null;
    const seen = new Set(coverage.imports);
    return loaded.filter((id) => !seen.has(id));
  }

  async function mapPhase({ passId }: PassRef, report: Reporter): Promise<PhaseResult> {
    const rules = await passRules(passId);
    const resumed = previousDetails();
    const signature = rules.keysSignature;
    // Read before any record (see importsSinceLastMap).
    const loaded = (await db('customer_imports').where({ status: 'loaded' }).orderBy('id').pluck('id')) as string[];
    const [{ total }] = await db('customer_source_records').count<{ total: number }[]>({ total: '*' });
    const { fingerprint } = await passRow(passId);
    const sameAs = await mappedBefore(passId, fingerprint, Number(total));
    if (sameAs) {
      const stats: PhaseStats = { records: Number(total), mapped: 0, unchanged: Number(total), sameInputsAs: sameAs };
      // The same records as that pass read, so what its map had seen is what is mapped now.
      const coverage = await mapCoverage(sameAs);
      await db.transaction(async (trx) => {
        await checkpoint(trx, passId, 'map', 0, stats);
        if (coverage) await checkpoint(trx, passId, 'map', 1, coverage);
      });
      await report(stats, true);
      log.info({ passId, ...stats }, 'unification map: nothing changed since an earlier pass with the same inputs');
      return { stats };
    }
    let fresh = await importsSinceLastMap(passId, signature, loaded);
    if (fresh) {
      // Keys deleted by hand (to force a remap) belong to no new import: then every record is looked at.
      const [{ keys }] = await db('customer_record_keys').count<{ keys: number }[]>({ keys: '*' });
      const { rows: [{ keyless }] } = await db.raw(
        `select count(*)::int as keyless from customer_source_records r
         where (r.last_import_id is null or r.last_import_id = any(?::uuid[])) and not exists (select 1 from customer_record_keys k where k.record_id = r.id)`, [fresh]);
      if (Number(keys) + Number(keyless) !== Number(total)) fresh = null;
    }
    let after = 0;
    let mapped = 0;
    const clock = stepClock();
    await report({ mapped, total: Number(total) }, true);
    for (;;) {
      const rows = await clock.step('read', () => db('customer_source_records as r')
        .leftJoin('customer_record_keys as k', 'k.record_id', 'r.id')
        .where('r.id', '>', after)
        .where((q) => q.whereNull('k.record_id').orWhereRaw("k.basis <> r.row_hash || ':' || ?", [signature]))
        .modify((q) => {
          if (fresh) q.where((w) => w.whereNull('r.last_import_id').orWhereRaw('r.last_import_id = any(?::uuid[])', [fresh]));
        })
        .orderBy('r.id')
        .limit(BATCH)
        .select(
          'r.id', 'r.row_hash', 'r.first_name', 'r.last_name', 'r.full_name', 'r.email', 'r.phone', 'r.gender', 'r.postal_code', 'r.street',
          'r.city', 'r.state', 'r.country', 'r.reward_points', 'r.extra',
          db.raw("to_char(r.date_of_birth, 'YYYY-MM-DD') as date_of_birth"), db.raw("to_char(r.created_on, 'YYYY-MM-DD') as created_on"),
        ));
      if (rows.length === 0) break;
      const out = await clock.step('normalise', async () => rows.map((r: Record<string, unknown>): CopyValue[] => [r.id as number, recordKeys({
        firstName: r.first_name as string, lastName: r.last_name as string, fullName: r.full_name as string, email: r.email as string,
        phone: r.phone as string, gender: r.gender as string, postalCode: r.postal_code as string, street: r.street as string, city: r.city as string,
        state: r.state as string, country: r.country as string, dateOfBirth: r.date_of_birth as string, createdOn: r.created_on as string,
        rewardPoints: r.reward_points as number,
      }, rules, r.extra as ExtraValues), `${r.row_hash}:${signature}`]));
      await clock.step('write', () => copyPaced(db, {
        before: [['create temporary table customer_record_keys_in (record_id bigint, keys jsonb, basis text) on commit drop', []]],
        table: 'customer_record_keys_in',
        columns: ['record_id', 'keys', 'basis'],
        rows: out,
        after: [
          // The keys a record leaves behind: an incremental pass re-matches the blocks it left too.
          ['insert into customer_record_keys_previous (pass_id, record_id, keys) select $1, i.record_id, k.keys from customer_record_keys_in i join customer_record_keys k on k.record_id = i.record_id where k.keys <> i.keys on conflict do nothing', [passId]],
          ['insert into customer_record_keys (record_id, keys, basis) select record_id, keys, basis from customer_record_keys_in on conflict (record_id) do update set keys = excluded.keys, basis = excluded.basis, mapped_at = now()', []],
        ],
      }));
      mapped += rows.length;
      after = Number(rows[rows.length - 1].id);
      await report({ mapped, total: Number(total), after });
    }
    const stats: PhaseStats = { records: Number(total), mapped, unchanged: Number(total) - mapped, scanned: fresh ? 'records of new imports' : 'every record', ...clock.stats };
    await db.transaction(async (trx) => {
      await checkpoint(trx, passId, 'map', 0, stats);
      await checkpoint(trx, passId, 'map', 1, { signature, imports: loaded } satisfies MapCoverage);
    });
    await report(stats, true);
    log.info({ passId, ...stats, resumedFrom: resumed ?? null }, 'unification map done');
    return { stats };
  }

  // -------------------------------------------------------------------------------------------
  // match

  /** Every mapped person record, added to the matcher in slices (the loop stays free between them). */
  async function loadMatcher(rules: CompiledRules, report: Reporter, scopeOf: string | null): Promise<Matcher> {
    const matcher = new Matcher(null, rules);
    const pause = pacer();
    let after = 0;
    let loaded = 0;
    for (;;) {
      const query = db('customer_source_records as r')
        .join('customer_record_keys as k', 'k.record_id', 'r.id')
        .where('r.id', '>', after)
        .orderBy('r.id')
        .limit(BATCH * 4)
        .select('r.id', 'r.source', 'r.source_key', 'r.links', 'k.keys');
      // An incremental pass matches its scope only.
      if (scopeOf) query.join('customer_unification_scope as s', function () { this.on('s.record_id', '=', 'r.id').andOnVal('s.pass_id', '=', scopeOf); });
      const rows = await query;
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i];
        matcher.add({ id: Number(r.id), source: r.source, sourceKey: r.source_key, keys: r.keys, links: r.links });
        if ((i & 1023) === 0) await pause();
      }
      loaded += rows.length;
      if (rows.length < BATCH * 4) break;
      after = Number(rows[rows.length - 1].id);
      await report({ step: 'load', loaded });
    }
    matcher.seal();
    return matcher;
  }

  /**
   * An incremental pass's match: per step, the blocks too large in the whole set, skipped in the
   * scope too however few of their records it holds — the base pass's, except the blocks changed
   * records touched (their size changed), and of those, the ones the plan found too large now (the
   * scope holds only the part of a touched block the changes reach). A plan without `oversized`
   * put every touched block wholly in the scope, where its size is counted.
   */
  async function oversizedOutsideScope(passId: string, base: string): Promise<{ outside: Map<number, string[]> }> {
    const plan = (await checkpoints(passId, 'plan')).get(0) as unknown as { touched: Record<string, string[]>; oversized?: Record<string, string[]> };
    const outside = new Map<number, string[]>();
    for (const [step, result] of await checkpoints(base, 'match')) {
      const keys = result.oversizedKeys as unknown as string[] | undefined;
      if (!Array.isArray(keys)) continue;
      const touched = new Set(plan.touched[String(step)] ?? []);
      outside.set(step, [...keys.filter((k) => !touched.has(k)), ...(plan.oversized?.[String(step)] ?? [])]);
    }
    return { outside };
  }

  async function matchPhase({ passId }: PassRef, report: Reporter): Promise<PhaseResult> {
    const rules = await passRules(passId);
    const names = stepNames(rules.config);
    const done = await checkpoints(passId, 'match');
    const clock = stepClock();
    const row = await passRow(passId);
    const incremental = row.mode === 'incremental' && row.base_pass_id !== null;
    const matcher = await clock.step('load', () => loadMatcher(rules, report, incremental ? passId : null));
    const { outside } = incremental ? await oversizedOutsideScope(passId, row.base_pass_id!) : { outside: new Map<number, string[]>() };
    for (const [step, keys] of outside) matcher.treatAsOversized(step, keys);
    if (done.size) {
      const earlier = await db('customer_match_links').where({ pass_id: passId }).whereIn('step', [...done.keys()]).orderBy(['step', 'a', 'b']).select('a', 'b');
      matcher.replay(earlier.map((l: { a: number; b: number }) => ({ a: Number(l.a), b: Number(l.b), rule: '', confidence: 0 })));
      log.info({ passId, stepsDone: done.size, previous: previousDetails() ?? null }, 'unification match resumes after its last checkpoint');
    }
    const resumedFrom = done.size ? names[Math.min(done.size, names.length - 1)] : null;
    for (let step = 0; step < names.length; step++) {
      if (done.has(step)) continue;
      const { links, stats } = await clock.step(`rule.${names[step]}`, () => matcher.runStep(step, (p) => report({ ...p, stepsDone: step, steps: names.length })));
      if (incremental && stats.oversizedKeys) {
        // This pass's view of the whole set's oversized blocks, for the next incremental pass.
        const all = [...new Set([...(outside.get(step) ?? []), ...stats.oversizedKeys])];
        if (outside.has(step) && all.length <= MAX_OVERSIZED_KEPT) stats.oversizedKeys = all;
        else delete stats.oversizedKeys;
      }
      await clock.step('write', () => copyPaced(db, {
        before: [['delete from customer_match_links where pass_id = $1 and step = $2', [passId, step]]],
        table: 'customer_match_links',
        columns: ['pass_id', 'step', 'a', 'b', 'rule', 'confidence'],
        rows: links.map((l) => [passId, step, l.a, l.b, l.rule, l.confidence]),
        after: [["insert into customer_unification_checkpoints (pass_id, phase, step, result) values ($1, 'match', $2, $3) on conflict do nothing", [passId, step, JSON.stringify(stats)]]],
      }));
      done.set(step, stats as unknown as PhaseStats);
      hooks?.afterCheckpoint?.('match', step);
      await report({ stepsDone: step + 1, steps: names.length, rule: names[step], links: links.length }, true);
    }
    const stats: PhaseStats = { records: matcher.size, ...matchTotals(names, done), resumedFrom, ...clock.stats, mode: incremental ? 'incremental' : 'full' };
    log.info({ passId, ...stats }, 'unification match done');
    return { stats };
  }

  // -------------------------------------------------------------------------------------------
  // cluster

  /** Rows of a large read, in key order and in slices (`after` the last key), so no one result holds the loop. */
  async function readPaged<T>(page: (after: number, limit: number) => Promise<T[]>, keyOf: (row: T) => number, each: (row: T) => void, pause: () => Promise<void>): Promise<void> {
    const LIMIT = 50_000;
    let after = 0;
    for (;;) {
      const rows = await page(after, LIMIT);
      for (let i = 0; i < rows.length; i++) {
        each(rows[i]);
        if ((i & 4095) === 0) await pause();
      }
      if (rows.length < LIMIT) return;
      after = keyOf(rows[rows.length - 1]);
    }
  }

  async function clusterPhase({ passId }: PassRef, report: Reporter): Promise<PhaseResult> {
    const done = await checkpoints(passId, 'cluster');
    if (done.has(0)) return { stats: done.get(0)! };
    await report({ step: 'load' }, true);
    const clock = stepClock();
    const pause = pacer();
    const row = await passRow(passId);
    const incremental = row.mode === 'incremental';
    // An incremental pass groups its scope; every other record keeps its customer as published.
    const inScope = (query: Knex.QueryBuilder, column: string): Knex.QueryBuilder => (incremental
      ? query.whereIn(column, db('customer_unification_scope').where({ pass_id: passId }).select('record_id'))
      : query);
    const { recordIds, links, previous } = await clock.step('load', async () => {
      const recordIds: number[] = [];
      await readPaged((after, limit) => inScope(db('customer_source_records').where('id', '>', after), 'id').orderBy('id').limit(limit).select('id'),
        (r: { id: string }) => Number(r.id), (r) => recordIds.push(Number(r.id)), pause);
      const rows = await db('customer_match_links').where({ pass_id: passId }).orderBy(['step', 'a', 'b']).select('a', 'b', 'rule', 'confidence');
      const links: Link[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const l = rows[i];
        links[i] = { a: Number(l.a), b: Number(l.b), rule: l.rule, confidence: l.confidence };
        if ((i & 4095) === 0) await pause();
      }
      const previous = new Map<number, string>();
      await readPaged((after, limit) => inScope(db('customer_members').where('record_id', '>', after), 'record_id').orderBy('record_id').limit(limit).select('record_id', 'customer_id'),
        (m: { record_id: string }) => Number(m.record_id), (m: { record_id: string; customer_id: string }) => previous.set(Number(m.record_id), m.customer_id), pause);
      return { recordIds, links, previous };
    });
    await report({ step: 'group', records: recordIds.length, links: links.length }, true);
    const result: ClusterResult = await clock.step('group', () => assignCustomersPaced(recordIds, links, previous, (smallest) => newCustomerId(passId, smallest), pause));
    const stats: PhaseStats = { ...result.stats };
    if (incremental) {
      // The customers outside the scope stay as they are, counted as kept: those the base pass
      // published less those the scope's records belonged to.
      const { rows: [{ reached }] } = await db.raw(
        'select count(distinct m.customer_id)::int as reached from customer_unification_scope s join customer_members m on m.record_id = s.record_id where s.pass_id = ?', [passId]);
      const untouched = (await publishedCustomers(row.base_pass_id!)) - Number(reached);
      Object.assign(stats, { scope: result.stats.records, customers: result.stats.customers + untouched, kept: result.stats.kept + untouched, mode: 'incremental' });
    }
    await clock.step('write', () => copyPaced(db, {
      before: [['delete from customer_assignments where pass_id = $1', [passId]]],
      table: 'customer_assignments',
      columns: ['pass_id', 'record_id', 'customer_id', 'rule', 'confidence'],
      rows: result.assignments.map((a) => [passId, a.recordId, a.customerId, a.rule, a.confidence]),
      after: [
        ["insert into customer_unification_checkpoints (pass_id, phase, step, result) values ($1, 'cluster', 0, $2) on conflict do nothing", [passId, JSON.stringify({ ...stats, ...clock.stats })]],
        ["insert into customer_unification_checkpoints (pass_id, phase, step, result) values ($1, 'cluster', 1, $2) on conflict do nothing", [passId, JSON.stringify({ redirects: result.redirects })]],
      ],
    }));
    Object.assign(stats, clock.stats);
    await report(stats, true);
    log.info({ passId, ...stats }, 'unification cluster done');
    return { stats };
  }

  // -------------------------------------------------------------------------------------------
  // merge

  const PROFILE_COLUMNS = ['first_name', 'last_name', 'full_name', 'email', 'phone', 'date_of_birth', 'gender', 'postal_code', 'street', 'city', 'state', 'country'];

  /**
   * Streams every record of the pass, ordered by customer (one `COPY ... TO STDOUT` and one sort in
   * Postgres), merges each customer's records as they go by, and COPYs the profiles into the
   * staging table in batches: flat memory, no per-page queries.
   */
  async function buildProfiles(passId: string, rules: CompiledRules, report: Reporter): Promise<number> {
    await db('customer_profile_staging').where({ pass_id: passId }).delete();
    const select = db.raw(
      `select a.customer_id, r.id, r.source, r.source_key, r.first_name, r.last_name, r.full_name, r.email, r.phone, r.gender,
              r.postal_code, r.street, r.city, r.state, r.country, r.reward_points, r.updated_at,
              to_char(r.date_of_birth, 'YYYY-MM-DD'), to_char(r.created_on, 'YYYY-MM-DD')
       from customer_assignments a join customer_source_records r on r.id = a.record_id
       where a.pass_id = ? order by a.customer_id, r.id`,
      [passId],
    ).toQuery();
    let built = 0;
    let batch: CopyValue[][] = [];
    const flushBatch = async () => {
      if (!batch.length) return;
      const rows = batch;
      batch = [];
      await withConnection(db, (client) => copyInto(client, 'customer_profile_staging',
        ['pass_id', 'customer_id', ...PROFILE_COLUMNS, 'reward_points', 'source_keys', 'emails', 'record_count', 'profile_hash'], rows));
      await report({ step: 'profiles', built });
    };
    let current: string | null = null;
    let members: MemberRecord[] = [];
    const addProfile = () => {
      if (!current) return;
      const p: Profile = mergeProfile(members, rules.config.merge);
      batch.push([passId, current, p.values.firstName, p.values.lastName, p.values.fullName, p.values.email, p.values.phone, p.values.dateOfBirth,
        p.values.gender, p.values.postalCode, p.values.street, p.values.city, p.values.state, p.values.country, p.rewardPoints, p.sourceKeys, p.emails,
        p.recordCount, p.hash]);
      built++;
      members = [];
    };
    const text = (v: string) => (v === '' ? null : v);
    const pause = pacer();
    let read = 0;
    await withConnection(db, async (client) => {
      const parser = (client.query(copyTo(`copy (${select}) to stdout with (format csv)`)) as unknown as Readable).pipe(parse());
      for await (const f of parser as AsyncIterable<string[]>) {
        // Buffered rows come through microtasks only: let the loop through now and then.
        if ((++read & 255) === 0) await pause();
        if (f[0] !== current) {
          addProfile();
          current = f[0];
          if (batch.length >= BATCH) await flushBatch();
        }
        members.push({
          recordId: Number(f[1]), source: f[2], sourceKey: f[3], rewardPoints: f[15] === '' ? null : Number(f[15]),
          createdOn: text(f[18]), updatedAt: new Date(f[16]).toISOString(),
          values: {
            firstName: text(f[4]), lastName: text(f[5]), fullName: text(f[6]), email: text(f[7]), phone: text(f[8]), gender: text(f[9]),
            postalCode: text(f[10]), street: text(f[11]), city: text(f[12]), state: text(f[13]), country: text(f[14]), dateOfBirth: text(f[17]),
          },
        });
      }
    });
    addProfile();
    await flushBatch();
    return built;
  }

  async function mergePhase({ passId }: PassRef, report: Reporter): Promise<PhaseResult> {
    const rules = await passRules(passId);
    const done = await checkpoints(passId, 'merge');
    if (done.has(1)) return { stats: done.get(1)! };
    const clock = stepClock();
    if (!done.has(0)) {
      const built = await clock.step('build', () => buildProfiles(passId, rules, report));
      await checkpoint(db, passId, 'merge', 0, { built });
    }
    await report({ step: 'publish' }, true);
    const redirects = ((await checkpoints(passId, 'cluster')).get(1)?.redirects ?? []) as unknown as Array<{ oldId: string; newId: string }>;
    const row = await passRow(passId);
    const incremental = row.mode === 'incremental';
    const basePublished = incremental ? await publishedCustomers(row.base_pass_id!) : undefined;
    const stats = await clock.step('publish', () => db.transaction(async (trx) => {
      if (incremental) {
        // The customers the scope's records belonged to: the only ones this pass may remove.
        await trx.raw(
          `create temporary table customer_unification_gone on commit drop as
           select distinct m.customer_id as id from customer_members m join customer_unification_scope s on s.record_id = m.record_id where s.pass_id = ?`,
          [passId],
        );
      }
      const set = PROFILE_COLUMNS.map((c) => `${c} = excluded.${c}`).join(', ');
      const upserted = await trx.raw(
        `with up as (
           insert into customers as c (id, ${PROFILE_COLUMNS.join(', ')}, reward_points, source_keys, emails, record_count, profile_hash, pass_id)
           select customer_id, ${PROFILE_COLUMNS.join(', ')}, reward_points, source_keys, emails, record_count, profile_hash, pass_id
           from customer_profile_staging where pass_id = ?
           on conflict (id) do update set ${set}, reward_points = excluded.reward_points, source_keys = excluded.source_keys,
             emails = excluded.emails, record_count = excluded.record_count, profile_hash = excluded.profile_hash,
             pass_id = excluded.pass_id, updated_at = now()
           where c.profile_hash <> excluded.profile_hash
           returning (xmax = 0) as inserted
         ) select count(*) filter (where inserted)::int as created, count(*) filter (where not inserted)::int as changed from up`,
        [passId],
      );
      await trx.raw(
        `insert into customer_members (record_id, customer_id, rule, confidence, pass_id)
         select record_id, customer_id, rule, confidence, pass_id from customer_assignments where pass_id = ?
         on conflict (record_id) do update set customer_id = excluded.customer_id, rule = excluded.rule, confidence = excluded.confidence, pass_id = excluded.pass_id
         where (customer_members.customer_id, customer_members.rule, customer_members.confidence) is distinct from (excluded.customer_id, excluded.rule, excluded.confidence)`,
        [passId],
      );
      const removed = incremental
        ? await trx.raw('delete from customers c where c.id in (select id from customer_unification_gone) and not exists (select 1 from customer_profile_staging s where s.pass_id = ? and s.customer_id = c.id)', [passId])
        : await trx.raw('delete from customers c where not exists (select 1 from customer_profile_staging s where s.pass_id = ? and s.customer_id = c.id)', [passId]);
      for (const r of redirects) {
        await trx('customer_id_redirects').insert({ old_id: r.oldId, new_id: r.newId, pass_id: passId }).onConflict('old_id').merge(['new_id', 'pass_id']);
        // Earlier redirects to the id that just went point at its successor.
        await trx('customer_id_redirects').where({ new_id: r.oldId }).update({ new_id: r.newId });
      }
      // An id that is a live customer again is no longer a redirect.
      await trx.raw('delete from customer_id_redirects r where exists (select 1 from customers c where c.id = r.old_id)');
      await trx('customer_unification_passes').where({ id: passId }).update({ published_at: trx.fn.now() });
      const created = Number(upserted.rows[0].created);
      const customers = basePublished !== undefined
        ? basePublished + created - (removed.rowCount ?? 0)
        : Number((await trx('customers').count<{ customers: number }[]>({ customers: '*' }))[0].customers);
      const result: PhaseStats = {
        customers, created, changed: upserted.rows[0].changed, removed: removed.rowCount ?? 0, redirects: redirects.length,
      };
      await checkpoint(trx, passId, 'merge', 1, result);
      return result;
    }));
    Object.assign(stats, clock.stats);
    await report(stats, true);
    log.info({ passId, ...stats }, 'unification merge published');
    return { stats };
  }

  async function inPhase(passId: string, phase: UnificationPhase, run: (report: Reporter) => Promise<PhaseResult>): Promise<PhaseResult> {
    const report = progressReporter(db, passId, phase);
    try {
      return await run(report);
    } finally {
      report.stop();
    }
  }

  const mapCustomerRecords = (ref: PassRef) => inPhase(ref.passId, 'map', (report) => mapPhase(ref, report));
  const matchCustomerRecords = (ref: PassRef) => inPhase(ref.passId, 'match', (report) => matchPhase(ref, report));
  const clusterCustomerRecords = (ref: PassRef) => inPhase(ref.passId, 'cluster', (report) => clusterPhase(ref, report));
  const mergeCustomerProfiles = (ref: PassRef) => inPhase(ref.passId, 'merge', (report) => mergePhase(ref, report));

  /**
   * After the map: how the pass goes on. `reuse` when nothing was mapped again and the pass that
   * published what is live completed with the same input fingerprint (same records, same rules):
   * matching again would only find the same customers. Else `incremental` when only a few records
   * changed since that pass under the same deterministic rules (see `planScope`), else `full`.
   * A request for a full pass skips both.
   */
  async function planUnificationPass({ passId }: PassRef): Promise<PassPlan> {
    const row = await passRow(passId);
    const mapped = (await checkpoints(passId, 'map')).get(0);
    const published = await db('customer_unification_passes').whereNotNull('published_at').orderBy('published_at', 'desc')
      .first('id', 'status', 'fingerprint', 'stats', 'rules_hash');
    const decide = async (mode: PassMode, reason: string, base: string | null): Promise<PassPlan> => {
      await db('customer_unification_passes').where({ id: passId }).update({ mode, base_pass_id: base });
      log.info({ passId, mode, reason, base }, 'unification pass planned');
      return { reuse: null, mode, reason };
    };
    if (row.full_requested) return decide('full', 'a full pass was asked for', null);
    if (!row.fingerprint) return decide('full', 'the pass has no input fingerprint', null);
    if (!mapped) return decide('full', 'the map phase left no result', null);
    if (!published) return decide('full', 'nothing is published yet', null);
    if (published.status !== 'completed') return decide('full', `the published pass ${published.id} did not complete`, null);
    if (Number(mapped.mapped) === 0 && published.fingerprint === row.fingerprint) {
      const [{ customers }] = await db('customers').count<{ customers: number }[]>({ customers: '*' });
      const previous = (published.stats ?? {}) as Partial<UnificationSummary>;
      const summary: UnificationSummary = {
        records: Number(mapped.records), links: Number(previous.links ?? 0), customers: Number(customers), created: 0, kept: Number(customers),
        joined: 0, split: 0, profilesChanged: 0, profilesRemoved: 0,
      };
      await db('customer_unification_passes').where({ id: passId }).update({ mode: 'reuse', base_pass_id: published.id });
      log.info({ passId, reusedFrom: published.id }, 'unification pass reuses the published result: same records, same rules');
      return { reuse: { fromPassId: published.id, summary }, mode: 'reuse', reason: 'same records and rules as the published pass' };
    }
    const scope = await planScope(passId, row, published, Number(mapped.records));
    if (typeof scope === 'string') return decide('full', scope, null);
    return decide('incremental', `${scope.changed} records changed since pass ${published.id}: ${scope.scope} records to match again`, published.id);
  }

  /**
   * The records an incremental pass must match again, written to customer_unification_scope:
   * the records changed since the base pass (mapped after its map), the block mates a probe
   * matcher groups with them, every record of a block they entered or left whose size crossed
   * maxBlockSize, the records a source link joins to them, and then every record of a customer
   * any of those belonged to. No record outside the scope can gain or lose a link, so its
   * customer stays as it is — and the scope matched alone gives the groups a full match would
   * (docs/customer-unification.md, "An incremental pass after a few changes").
   * Returns why not when the pass cannot be incremental.
   */
  async function planScope(passId: string, row: PassRow, base: { id: string; rules_hash: string | null; stats: Partial<UnificationSummary> | null }, records: number): Promise<{ changed: number; scope: number } | string> {
    const rules = await passRules(passId);
    if (base.rules_hash !== row.rules_hash) return 'the rules changed since the published pass';
    if (rules.config.rules.some((r) => r.type === 'probabilistic' && r.enabled)) return 'a probabilistic rule estimates its weights over every record';
    if (rules.config.overrides.neverMatch.length > 0) return 'never-match overrides depend on the order links are made in';
    const matchRules = rules.config.rules.map((r, i) => ({ r, step: i + 1 })).filter((x): x is { r: MatchRule; step: number } => x.r.type === 'match' && x.r.enabled);
    const specs = matchRules.map(({ r, step }) => ({ step, spec: blockSpec(r) }));
    if (specs.some((x) => x.spec.length === 0)) return 'a rule without block keys compares every record with every other';
    const baseMatch = await checkpoints(base.id, 'match');
    if (specs.some(({ step }) => !Array.isArray(baseMatch.get(step)?.oversizedKeys))) return 'the published pass did not keep its oversized blocks';
    const baseMap = await db('customer_unification_checkpoints').where({ pass_id: base.id, phase: 'map', step: 0 }).first('done_at');
    if (!baseMap) return 'the published pass left no map checkpoint';
    // The records mapped since the base pass (an index on mapped_at).
    const changed = await db('customer_record_keys as k').join('customer_source_records as r', 'r.id', 'k.record_id')
      .where('k.mapped_at', '>', baseMap.done_at).select('r.id', 'r.source', 'r.source_key', 'r.links', 'k.keys');
    if (changed.length > INCREMENTAL_MAX_SHARE * records) return `${changed.length} of ${records} records changed: a full pass is as cheap`;
    const changedIds = changed.map((c: { id: string }) => Number(c.id));
    /*
     * A removed record takes its membership with it, and its customer may split: only a full pass
     * sees that. The base pass gave every record it matched a membership; a record added since has
     * none and was mapped since, so it is among the changed ones. Hence records now = the base's
     * records + the changed records without a membership - the records removed, counted by index
     * lookups instead of counting every membership.
     */
    const [{ members }] = (await db.raw('select count(*)::int as members from customer_members where record_id = any(?::bigint[])', [changedIds])).rows;
    const added = changedIds.length - Number(members);
    if (Number(base.stats?.records ?? -1) + added !== records) return 'records were removed since the published pass';
    const previousKeys = (await db('customer_record_keys_previous').whereIn('record_id', changedIds).pluck('keys')) as Array<Record<string, string | null>>;

    // The blocks the changed records are in (`entered`), and those they left: `touched`.
    const entered = new Map<number, Set<string>>(specs.map(({ step }) => [step, new Set<string>()]));
    const touched = new Map<number, Set<string>>(specs.map(({ step }) => [step, new Set<string>()]));
    const addBlocks = (keys: Record<string, string | null>, into: Array<Map<number, Set<string>>>) => {
      for (const { step, spec } of specs) {
        const key = blockKey(spec, keys);
        if (key !== null) for (const map of into) map.get(step)!.add(key);
      }
    };
    for (const c of changed) addBlocks(c.keys, [entered, touched]);
    for (const keys of previousKeys) addBlocks(keys, [touched]);
    // Each rule's block key as SQL (blockKey's), and the test for a touched block.
    const blockSql = specs.map(({ spec }) => blockKeySql(spec));
    const conditions: string[] = [];
    const params: Array<string | string[]> = [];
    specs.forEach(({ step }, i) => {
      const keys = [...touched.get(step)!];
      if (!keys.length) return;
      params.push(...blockSql[i].bindings, keys);
      conditions.push(`${blockSql[i].sql} = any(?::text[])`);
    });

    /*
     * Which block mates to match again: a probe matcher holds the changed records and every record
     * of a block they entered (unless it is too large to compare now: no pair in it links), and
     * compares only pairs with a changed record in them (focusOn).
     * Rules are pairwise, so a pair of unchanged records compares as in the base pass unless its
     * block crossed maxBlockSize (below: such a block is matched again whole). A record a full
     * pass links to a changed one shares a block with it, so the probe holds it, and links it or
     * connects it otherwise (a matcher skips pairs already connected: components count, not
     * links): it is in the changed record's probe group. A record linked only to an unchanged
     * record was in that record's base customer, which the scope takes whole (below). The rest of
     * a block stays out (docs/customer-unification.md, "How large the scope gets").
     */
    const clock = stepClock();
    const pause = pacer();
    // Every record of each touched block, by step (so the block's size in the whole set now), in one scan of the keys.
    const blockMembers = new Map<number, Map<string, number[]>>(specs.map(({ step }) => [step, new Map<string, number[]>()]));
    if (conditions.length) {
      await clock.step('blocks', async () => {
        const { rows } = await db.raw(`select k.record_id as id, ${blockSql.map(({ sql }, i) => `${sql} as b${i}`).join(', ')} from customer_record_keys k where ${conditions.join(' or ')}`,
          [...blockSql.flatMap(({ bindings }) => bindings), ...params]);
        for (let i = 0; i < rows.length; i++) {
          const row = rows[i] as Record<string, string | null>;
          specs.forEach(({ step }, s) => {
            const key = row[`b${s}`];
            if (key === null || !touched.get(step)!.has(key)) return;
            const list = blockMembers.get(step)!.get(key);
            if (list) list.push(Number(row.id));
            else blockMembers.get(step)!.set(key, [Number(row.id)]);
          });
          if ((i & 1023) === 0) await pause();
        }
      });
    }

    // A touched block's status in the whole set: oversized now (by its size), and before (the base pass's keys).
    const probe = new Matcher(null, rules);
    const seeds = new Set<number>(changedIds);
    const mates = new Set<number>();
    const oversized: Record<string, string[]> = {};
    let crossed = 0;
    for (const { r, step } of matchRules) {
      const maxBlock = r.maxBlockSize ?? rules.config.maxBlockSize;
      const before = new Set(baseMatch.get(step)!.oversizedKeys as unknown as string[]);
      const now: string[] = [];
      for (const key of touched.get(step)!) {
        const ids = blockMembers.get(step)!.get(key) ?? [];
        const large = ids.length > maxBlock;
        if (large) now.push(key);
        // The probe needs a block a changed record entered only when it is small enough to compare.
        else if (entered.get(step)!.has(key)) for (const id of ids) mates.add(id);
        if (large !== before.has(key)) {
          // Every pair of the block changes status (compared, or skipped as too large): all of it again.
          crossed++;
          for (const id of ids) seeds.add(id);
        }
      }
      oversized[String(step)] = now;
      probe.treatAsOversized(step, [...before].filter((k) => !touched.get(step)!.has(k)).concat(now));
    }
    const addToProbe = (r: { id: string | number; source: string; source_key: string; links: Record<string, string>; keys: Record<string, string | null> }) => {
      probe.add({ id: Number(r.id), source: r.source, sourceKey: r.source_key, keys: r.keys, links: r.links });
    };
    for (const c of changed) {
      addToProbe(c);
      mates.delete(Number(c.id));
    }
    await clock.step('load', async () => {
      const ids = [...mates];
      for (let i = 0; i < ids.length; i += BATCH) {
        const { rows } = await db.raw('select r.id, r.source, r.source_key, r.links, k.keys from customer_source_records r join customer_record_keys k on k.record_id = r.id where r.id = any(?::bigint[])',
          [ids.slice(i, i + BATCH)]);
        for (let j = 0; j < rows.length; j++) {
          addToProbe(rows[j]);
          if ((j & 1023) === 0) await pause();
        }
      }
    });
    probe.focusOn(changedIds);
    probe.seal();
    const probeStats = { records: probe.size, comparisons: 0, links: 0 };
    await clock.step('probe', async () => {
      for (let step = 0; step < stepNames(rules.config).length; step++) {
        const { stats } = await probe.runStep(step);
        probeStats.comparisons += stats.comparisons;
        probeStats.links += stats.links;
      }
      for (const id of await probe.groupedWith(changedIds)) seeds.add(id);
    });
    if (rules.config.rules.some((r) => r.type === 'link')) {
      // Records a changed record names (loyalty's ContactId), and records naming a changed record.
      const named = changed.flatMap((c: { links: Record<string, string> }) => Object.entries(c.links ?? {}).map(([source, key]) => ({ source, key })));
      for (const id of (await recordIdsByKey(named)).values()) seeds.add(id);
      // One lookup of the links' GIN index per changed record.
      const naming = await db.raw('select n.id from unnest(?::jsonb[]) as t(link) cross join lateral (select r.id from customer_source_records r where r.links @> t.link) n',
        [changed.map((c: { source: string; source_key: string }) => JSON.stringify({ [c.source]: c.source_key }))]);
      for (const n of naming.rows) seeds.add(Number(n.id));
    }
    // An always-match pair with one record in the scope brings the other.
    const overrides = rules.config.overrides.alwaysMatch;
    const byRef = await recordIdsByKey(overrides.flat().map(splitRecordRef));
    for (const [left, right] of overrides) {
      const pair = [left, right].map((ref) => byRef.get(ref)).filter((id): id is number => id !== undefined);
      if (pair.some((id) => seeds.has(id))) for (const id of pair) seeds.add(id);
    }
    await db.transaction(async (trx) => {
      await trx('customer_unification_scope').where({ pass_id: passId }).delete();
      await trx.raw(
        `insert into customer_unification_scope (pass_id, record_id)
         select ?::uuid, s.id from unnest(?::bigint[]) as s(id)
         union
         select ?::uuid, m.record_id from (select distinct customer_id from customer_members where record_id = any(?::bigint[])) c
           cross join lateral (select record_id from customer_members m where m.customer_id = c.customer_id) m`,
        [passId, [...seeds], passId, [...seeds]],
      );
      await checkpoint(trx, passId, 'plan', 0, {
        changed: changed.length, seeds: seeds.size, crossed, probe: probeStats, ...clock.stats,
        touched: Object.fromEntries([...touched].map(([step, keys]) => [step, [...keys]])),
        // The touched blocks too large in the whole set: the scope holds only part of them (oversizedOutsideScope).
        oversized,
      });
    });
    const [{ scope }] = await db('customer_unification_scope').where({ pass_id: passId }).count<{ scope: number }[]>({ scope: '*' });
    return { changed: changed.length, scope: Number(scope) };
  }

  async function finishUnificationPass(input: FinishPassInput): Promise<void> {
    const reusedFrom = input.reusedFrom ?? null;
    await db.transaction(async (trx) => {
      await trx('customer_unification_passes').where({ id: input.passId }).update({
        status: input.status, error: input.error ?? null, stats: JSON.stringify({ ...(input.summary ?? {}), ...(reusedFrom ? { reusedFrom } : {}) }),
        finished_at: trx.fn.now(), phase: null, reused_from: reusedFrom,
      });
      // The working rows of earlier passes are no longer needed; this pass's stay for inspection
      // (a pass that reused another's result keeps that pass's rows: they are what is live).
      for (const table of ['customer_match_links', 'customer_assignments', 'customer_profile_staging', 'customer_unification_scope']) {
        await trx(table).whereNotIn('pass_id', reusedFrom ? [input.passId, reusedFrom] : [input.passId]).delete();
      }
      // Keys records had before this pass's base: no later incremental pass needs them.
      if (input.status === 'completed') {
        await trx.raw(
          `delete from customer_record_keys_previous where pass_id in (
             select p.id from customer_unification_passes p, customer_unification_passes me where me.id = ? and p.started_at <= me.started_at)`,
          [input.passId],
        );
      }
    });
    log.info({ passId: input.passId, status: input.status, error: input.error, reusedFrom }, 'unification pass finished');
  }

  return {
    beginUnificationPass,
    mapCustomerRecords,
    matchCustomerRecords,
    clusterCustomerRecords,
    mergeCustomerProfiles,
    planUnificationPass,
    finishUnificationPass,
    // A full pass's match spread over shards (activities/customerUnificationShards.ts).
    ...createMatchShardActivities({ db, log, customers, hooks }, { passRules, checkpoints, checkpoint, reporter: (passId, phase) => progressReporter(db, passId, phase), stepClock }),
  };
}

export type CustomerUnificationActivities = ReturnType<typeof createCustomerUnificationActivities>;

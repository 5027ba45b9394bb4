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
import type { Readable } from 'node:stream';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { CancelledFailure } from '@temporalio/common';
import { parse } from 'csv-parse';
import { to as copyTo } from 'pg-copy-streams';
import type { CustomerConfig } from '../config';
import { loadMappings, loadRulesFile } from '../config/customers';
import type { Logger } from '../config/logger';
import { copyInTransaction, copyInto, withConnection, type CopyValue } from '../db/customers/copy';
import type { Db } from '../db/knex';
import { assignCustomers, type ClusterResult } from '../domain/customers/clusters';
import { Matcher, recordKeys, stepNames, type ExtraValues, type Link, type MatchRecord } from '../domain/customers/matcher';
import { mergeProfile, type MemberRecord, type Profile } from '../domain/customers/profile';
import { MappingError } from '../domain/customers/mapping';
import { RulesError, compileRules, type CompiledRules } from '../domain/customers/rules';
import {
  UNIFICATION_FAILURES,
  type BeginPassInput,
  type FinishPassInput,
  type PassRef,
  type PhaseResult,
  type PhaseStats,
  type UnificationPhase,
} from '../workflows/customerUnification.contract';

export interface CustomerUnificationDeps {
  db: Db;
  log: Logger;
  /** Where the match rules live (config `customers`). */
  customers: CustomerConfig;
  /** Fault injection for tests: called once a checkpoint is durable. */
  hooks?: { afterCheckpoint?: (phase: UnificationPhase, step: number) => void };
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

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

type Reporter = ReturnType<typeof progressReporter>;

/** The id of a group new in this pass: the same on every retry of the pass. */
function newCustomerId(passId: string, smallestRecordId: number): string {
  const hex = crypto.createHash('sha1').update(`${passId}:${smallestRecordId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${((parseInt(hex.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${hex.slice(18, 20)}-${hex.slice(20, 32)}`;
}

export function createCustomerUnificationActivities({ db, log, customers, hooks }: CustomerUnificationDeps) {
  const rulesFile = () => customers.matchRulesFile;

  async function passRow(passId: string) {
    const row = await db('customer_unification_passes').where({ id: passId }).first();
    if (!row) throw ApplicationFailure.nonRetryable(`unification pass ${passId} does not exist`, UNIFICATION_FAILURES.passNotFound);
    return row as { id: string; rules: unknown; status: string; published_at: Date | null };
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

  async function checkpoints(passId: string, phase: UnificationPhase): Promise<Map<number, PhaseStats>> {
    const rows = await db('customer_unification_checkpoints').where({ pass_id: passId, phase }).select('step', 'result');
    return new Map(rows.map((r: { step: number; result: PhaseStats }) => [r.step, r.result]));
  }

  async function checkpoint(trx: Db, passId: string, phase: UnificationPhase, step: number, result: unknown): Promise<void> {
    await trx('customer_unification_checkpoints').insert({ pass_id: passId, phase, step, result: JSON.stringify(result) }).onConflict(['pass_id', 'phase', 'step']).ignore();
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
    await db('customer_unification_passes')
      .insert({
        workflow_id: input.workflowId, workflow_run_id: input.workflowRunId, pass: input.pass, request_ids: JSON.stringify(input.requestIds),
        rules: JSON.stringify(rules.config), rules_hash: rules.hash, phase: 'map',
      })
      .onConflict(['workflow_run_id', 'pass'])
      .ignore();
    const row = await db('customer_unification_passes').where({ workflow_run_id: input.workflowRunId, pass: input.pass }).first('id', 'rules_hash');
    log.info({ passId: row.id, pass: input.pass, requests: input.requestIds.length }, 'unification pass started');
    return { passId: row.id, rulesHash: row.rules_hash };
  }

  // -------------------------------------------------------------------------------------------
  // map

  async function mapPhase({ passId }: PassRef, report: Reporter): Promise<PhaseResult> {
    const rules = await passRules(passId);
    const resumed = previousDetails();
    const signature = rules.keysSignature;
    const [{ total }] = await db('customer_source_records').count<{ total: number }[]>({ total: '*' });
    let after = 0;
    let mapped = 0;
    await report({ mapped, total: Number(total) }, true);
    for (;;) {
      const rows = await db('customer_source_records as r')
        .leftJoin('customer_record_keys as k', 'k.record_id', 'r.id')
        .where('r.id', '>', after)
        .where((q) => q.whereNull('k.record_id').orWhereRaw("k.basis <> r.row_hash || ':' || ?", [signature]))
        .orderBy('r.id')
        .limit(BATCH)
        .select(
          'r.id', 'r.row_hash', 'r.first_name', 'r.last_name', 'r.full_name', 'r.email', 'r.phone', 'r.gender', 'r.postal_code', 'r.street',
          'r.city', 'r.state', 'r.country', 'r.reward_points', 'r.extra',
          db.raw("to_char(r.date_of_birth, 'YYYY-MM-DD') as date_of_birth"), db.raw("to_char(r.created_on, 'YYYY-MM-DD') as created_on"),
        );
      if (rows.length === 0) break;
      const out = rows.map((r: Record<string, unknown>): CopyValue[] => [r.id as number, recordKeys({
        firstName: r.first_name as string, lastName: r.last_name as string, fullName: r.full_name as string, email: r.email as string,
        phone: r.phone as string, gender: r.gender as string, postalCode: r.postal_code as string, street: r.street as string, city: r.city as string,
        state: r.state as string, country: r.country as string, dateOfBirth: r.date_of_birth as string, createdOn: r.created_on as string,
        rewardPoints: r.reward_points as number,
      }, rules, r.extra as ExtraValues), `${r.row_hash}:${signature}`]);
      await copyInTransaction(db, {
        before: [['create temporary table customer_record_keys_in (record_id bigint, keys jsonb, basis text) on commit drop', []]],
        table: 'customer_record_keys_in',
        columns: ['record_id', 'keys', 'basis'],
        rows: out,
        after: [['insert into customer_record_keys (record_id, keys, basis) select record_id, keys, basis from customer_record_keys_in on conflict (record_id) do update set keys = excluded.keys, basis = excluded.basis', []]],
      });
      mapped += rows.length;
      after = Number(rows[rows.length - 1].id);
      await report({ mapped, total: Number(total), after });
    }
    const stats = { records: Number(total), mapped, unchanged: Number(total) - mapped };
    await report(stats, true);
    log.info({ passId, ...stats, resumedFrom: resumed ?? null }, 'unification map done');
    return { stats };
  }

  // -------------------------------------------------------------------------------------------
  // match

  async function loadMatchRecords(report: Reporter): Promise<MatchRecord[]> {
    const records: MatchRecord[] = [];
    let after = 0;
    for (;;) {
      const rows = await db('customer_source_records as r')
        .join('customer_record_keys as k', 'k.record_id', 'r.id')
        .where('r.id', '>', after)
        .orderBy('r.id')
        .limit(BATCH * 4)
        .select('r.id', 'r.source', 'r.source_key', 'r.links', 'k.keys');
      for (const r of rows) records.push({ id: Number(r.id), source: r.source, sourceKey: r.source_key, keys: r.keys, links: r.links });
      if (rows.length < BATCH * 4) break;
      after = Number(rows[rows.length - 1].id);
      await report({ step: 'load', loaded: records.length });
      await yieldToLoop();
    }
    return records;
  }

  async function matchPhase({ passId }: PassRef, report: Reporter): Promise<PhaseResult> {
    const rules = await passRules(passId);
    const names = stepNames(rules.config);
    const done = await checkpoints(passId, 'match');
    const records = await loadMatchRecords(report);
    const matcher = new Matcher(records, rules);
    records.length = 0;
    if (done.size) {
      const earlier = await db('customer_match_links').where({ pass_id: passId }).whereIn('step', [...done.keys()]).orderBy(['step', 'a', 'b']).select('a', 'b');
      matcher.replay(earlier.map((l: { a: number; b: number }) => ({ a: Number(l.a), b: Number(l.b), rule: '', confidence: 0 })));
      log.info({ passId, stepsDone: done.size, previous: previousDetails() ?? null }, 'unification match resumes after its last checkpoint');
    }
    const resumedFrom = done.size ? names[Math.min(done.size, names.length - 1)] : null;
    for (let step = 0; step < names.length; step++) {
      if (done.has(step)) continue;
      const { links, stats } = await matcher.runStep(step, (p) => report({ ...p, stepsDone: step, steps: names.length }));
      await copyInTransaction(db, {
        before: [['delete from customer_match_links where pass_id = $1 and step = $2', [passId, step]]],
        table: 'customer_match_links',
        columns: ['pass_id', 'step', 'a', 'b', 'rule', 'confidence'],
        rows: links.map((l) => [passId, step, l.a, l.b, l.rule, l.confidence]),
        after: [["insert into customer_unification_checkpoints (pass_id, phase, step, result) values ($1, 'match', $2, $3) on conflict do nothing", [passId, step, JSON.stringify(stats)]]],
      });
      done.set(step, stats as unknown as PhaseStats);
      hooks?.afterCheckpoint?.('match', step);
      await report({ stepsDone: step + 1, steps: names.length, rule: names[step], links: links.length }, true);
    }
    const perRule: PhaseStats = {};
    let links = 0;
    let comparisons = 0;
    let oversized = 0;
    for (const [step, stats] of [...done.entries()].sort(([a], [b]) => a - b)) {
      perRule[`links.${names[step]}`] = Number(stats.links);
      links += Number(stats.links);
      comparisons += Number(stats.comparisons);
      oversized += Number(stats.oversizedBlocks);
    }
    const stats: PhaseStats = { records: matcher.size, links, comparisons, oversizedBlocks: oversized, resumedFrom, ...perRule };
    log.info({ passId, ...stats }, 'unification match done');
    return { stats };
  }

  // -------------------------------------------------------------------------------------------
  // cluster

  async function clusterPhase({ passId }: PassRef, report: Reporter): Promise<PhaseResult> {
    const done = await checkpoints(passId, 'cluster');
    if (done.has(0)) return { stats: done.get(0)! };
    await report({ step: 'load' }, true);
    const recordIds = (await db('customer_source_records').orderBy('id').pluck('id')).map(Number);
    const links: Link[] = (await db('customer_match_links').where({ pass_id: passId }).orderBy(['step', 'a', 'b']).select('a', 'b', 'rule', 'confidence'))
      .map((l: { a: number; b: number; rule: string; confidence: number }) => ({ a: Number(l.a), b: Number(l.b), rule: l.rule, confidence: l.confidence }));
    const previous = new Map<number, string>();
    for (const m of await db('customer_members').select('record_id', 'customer_id')) previous.set(Number(m.record_id), m.customer_id);
    await report({ step: 'group', records: recordIds.length, links: links.length }, true);
    const result: ClusterResult = assignCustomers(recordIds, links, previous, (smallest) => newCustomerId(passId, smallest));
    const stats: PhaseStats = { ...result.stats };
    await copyInTransaction(db, {
      before: [['delete from customer_assignments where pass_id = $1', [passId]]],
      table: 'customer_assignments',
      columns: ['pass_id', 'record_id', 'customer_id', 'rule', 'confidence'],
      rows: result.assignments.map((a) => [passId, a.recordId, a.customerId, a.rule, a.confidence]),
      after: [
        ["insert into customer_unification_checkpoints (pass_id, phase, step, result) values ($1, 'cluster', 0, $2) on conflict do nothing", [passId, JSON.stringify(stats)]],
        ["insert into customer_unification_checkpoints (pass_id, phase, step, result) values ($1, 'cluster', 1, $2) on conflict do nothing", [passId, JSON.stringify({ redirects: result.redirects })]],
      ],
    });
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
    await withConnection(db, async (client) => {
      const parser = (client.query(copyTo(`copy (${select}) to stdout with (format csv)`)) as unknown as Readable).pipe(parse());
      for await (const f of parser as AsyncIterable<string[]>) {
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
    if (!done.has(0)) {
      const built = await buildProfiles(passId, rules, report);
      await checkpoint(db, passId, 'merge', 0, { built });
    }
    await report({ step: 'publish' }, true);
    const redirects = ((await checkpoints(passId, 'cluster')).get(1)?.redirects ?? []) as unknown as Array<{ oldId: string; newId: string }>;
    const stats = await db.transaction(async (trx) => {
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
      const removed = await trx.raw('delete from customers c where not exists (select 1 from customer_profile_staging s where s.pass_id = ? and s.customer_id = c.id)', [passId]);
      for (const r of redirects) {
        await trx('customer_id_redirects').insert({ old_id: r.oldId, new_id: r.newId, pass_id: passId }).onConflict('old_id').merge(['new_id', 'pass_id']);
        // Earlier redirects to the id that just went point at its successor.
        await trx('customer_id_redirects').where({ new_id: r.oldId }).update({ new_id: r.newId });
      }
      // An id that is a live customer again is no longer a redirect.
      await trx.raw('delete from customer_id_redirects r where exists (select 1 from customers c where c.id = r.old_id)');
      await trx('customer_unification_passes').where({ id: passId }).update({ published_at: trx.fn.now() });
      const [{ customers }] = await trx('customers').count<{ customers: number }[]>({ customers: '*' });
      const result: PhaseStats = {
        customers: Number(customers), created: upserted.rows[0].created, changed: upserted.rows[0].changed, removed: removed.rowCount ?? 0, redirects: redirects.length,
      };
      await checkpoint(trx, passId, 'merge', 1, result);
      return result;
    });
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

  async function finishUnificationPass(input: FinishPassInput): Promise<void> {
    await db.transaction(async (trx) => {
      await trx('customer_unification_passes').where({ id: input.passId }).update({
        status: input.status, error: input.error ?? null, stats: JSON.stringify(input.summary ?? {}), finished_at: trx.fn.now(), phase: null,
      });
      // The working rows of earlier passes are no longer needed; this pass's stay for inspection.
      for (const table of ['customer_match_links', 'customer_assignments', 'customer_profile_staging']) {
        await trx(table).whereNot({ pass_id: input.passId }).delete();
      }
    });
    log.info({ passId: input.passId, status: input.status, error: input.error }, 'unification pass finished');
  }

  return {
    beginUnificationPass,
    mapCustomerRecords,
    matchCustomerRecords,
    clusterCustomerRecords,
    mergeCustomerProfiles,
    finishUnificationPass,
  };
}

export type CustomerUnificationActivities = ReturnType<typeof createCustomerUnificationActivities>;

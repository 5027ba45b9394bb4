/**
 * `npm run chaos`: whole sales processes against a real `npm start` stack while its parts are
 * killed, then a check that nothing was lost, doubled, split or left stuck.
 *
 * Each run starts the stack (scripts/dev.ts, the supervisor) on free ports and a fresh data
 * directory, and drives N processes of each kind through the API at once, as a well-behaved client
 * (scripts/lib/chaosClient.ts: an Idempotency-Key on every change, retries with the same key,
 * `still_processing` followed to its outcome):
 * - nurture: a corporate lead enrolled; its intro call is due at once, then it waits a day;
 * - sale: a lead qualified into a deal, a line, a quote activated, the deal advanced to Close
 *   (through a passed Tech Check for every other deal, worth more than $20,000.00), the quote won
 *   with the deal (the order is created), the order fulfilled in part then completely, invoiced,
 *   paid in part then completely.
 * Meanwhile a monkey SIGKILLs one part at a time — the worker, the API, the PostgreSQL postmaster,
 * the Temporal dev server — at random moments, and waits for the supervisor to bring it back and
 * the API to answer /health before the next. Afterwards every process must have finished or be
 * waiting where it should, with exactly one row per step and Postgres equal to the workflow
 * (scripts/lib/chaosChecks.ts).
 *
 * Options (flag, or environment variable):
 *   --runs N            CHAOS_RUNS        runs, each on a fresh stack (1)
 *   --processes N       CHAOS_PROCESSES   nurture enrollments and sales per run (8)
 *   --kill-every A-B    CHAOS_KILL_EVERY  seconds before each kill, drawn from [A, B] (2-8)
 *   --chaos-max S       CHAOS_MAX_SECONDS the killing stops after S seconds even if processes still run (480);
 *                                         a request still unanswered 3 minutes after that is a stuck process
 *   --parts a,b         CHAOS_PARTS       what may be killed (worker,api,postgres,temporal)
 *   --seed N            CHAOS_SEED        the kill schedule and the processes' stagger (random)
 *   --dir PATH          CHAOS_DIR         stacks' data, logs and reports (.data-chaos)
 *   --keep                                keep each run's data directory (logs are always kept)
 *   --no-report                           do not rewrite the chaos section of BENCHMARKS.md
 * Exit code 1 on a finding: an invariant violated, a process stuck, a part not restarted or dead
 * without being killed, a 5xx other than 503, a keyed retry refused although its first attempt had
 * done the work, or a stack that did not stop cleanly on Ctrl-C.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, Connection } from '@temporalio/client';
import { writeBenchmarkSection } from '../bench/report';
import { PROJECT_ROOT } from '../config';
import { embeddedDatabaseUrl } from '../db/embedded';
import { createDb } from '../db/knex';
import { TECH_CHECK_THRESHOLD_CENTS } from '../workflows/dealLifecycle.contract';
import { ChaosClient, addStats, emptyStats, type Answer, type ClientStats } from './lib/chaosClient';
import { checkInvariants, settle, type NurtureRecord, type SaleRecord, type Violation } from './lib/chaosChecks';
import { KILLABLE, seededRandom, startMonkey, startStack, type ChaosStack, type Kill, type Killable } from './lib/chaosStack';

interface Options {
  runs: number;
  processes: number;
  killEvery: [number, number];
  chaosMaxSeconds: number;
  parts: Killable[];
  seed: number;
  dir: string;
  keep: boolean;
  report: boolean;
}

function parseOptions(argv: string[]): Options {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--keep' || arg === '--no-report') flags.set(arg, 'true');
    else if (arg.startsWith('--')) flags.set(arg, argv[++i] ?? '');
    else throw new Error(`unexpected argument "${arg}"`);
  }
  const known = ['--runs', '--processes', '--kill-every', '--chaos-max', '--parts', '--seed', '--dir', '--keep', '--no-report'];
  for (const flag of flags.keys()) if (!known.includes(flag)) throw new Error(`unknown option ${flag}; known: ${known.join(' ')}`);
  const value = (flag: string, env: string, fallback: string) => flags.get(flag) ?? process.env[env] ?? fallback;
  const positive = (text: string, what: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, not "${text}"`);
    return n;
  };
  const gap = value('--kill-every', 'CHAOS_KILL_EVERY', '2-8').split('-').map(Number);
  if (gap.length !== 2 || !gap.every((n) => Number.isFinite(n) && n >= 0) || gap[0] > gap[1]) throw new Error('--kill-every is MIN-MAX in seconds, e.g. 3-10');
  const parts = value('--parts', 'CHAOS_PARTS', KILLABLE.join(',')).split(',').filter(Boolean);
  for (const part of parts) if (!(KILLABLE as readonly string[]).includes(part)) throw new Error(`--parts: "${part}" is not one of ${KILLABLE.join(', ')}`);
  return {
    runs: positive(value('--runs', 'CHAOS_RUNS', '1'), '--runs'),
    processes: positive(value('--processes', 'CHAOS_PROCESSES', '8'), '--processes'),
    killEvery: [gap[0], gap[1]],
    chaosMaxSeconds: positive(value('--chaos-max', 'CHAOS_MAX_SECONDS', '480'), '--chaos-max'),
    parts: parts as Killable[],
    seed: Number(value('--seed', 'CHAOS_SEED', String(Math.floor(Math.random() * 2 ** 31)))),
    dir: path.resolve(PROJECT_ROOT, value('--dir', 'CHAOS_DIR', '.data-chaos')),
    keep: flags.has('--keep'),
    report: !flags.has('--no-report'),
  };
}

// ---------------------------------------------------------------------------------------------
// The processes, as a client drives them.

/** A request no retry could bring to its expected answer: the process is stuck or was refused. */
class JourneyFailed extends Error {}

interface RefusedAfterEffect {
  process: string;
  step: string;
  answer: string;
  /** The request and its attempts, for the evidence. */
  trace: string[];
}

interface Run {
  /** A pause before each step, as a person working through the process would take. */
  think: () => Promise<void>;
  rep: ChaosClient;
  tech: ChaosClient;
  keyPrefix: string;
  productId: string;
  /** A refusal answered to a retry whose earlier attempt had already done the work. */
  refusedAfterEffect: RefusedAfterEffect[];
}

interface Step<T> {
  name: string;
  call: () => Promise<Answer>;
  /** The statuses a direct answer may have; an operation that succeeded always counts. */
  ok: number[];
  take: (answer: Answer) => T;
  /** Reads whether the step's effect is there anyway (a refusal after a lost answer): its result, or null. */
  recover?: () => Promise<T | null>;
}

async function step<T>(run: Run, process: string, s: Step<T>): Promise<T> {
  await run.think();
  const answer = await s.call();
  if ((answer.viaOperation && answer.status === 200) || (!answer.viaOperation && s.ok.includes(answer.status))) return s.take(answer);
  const done = s.recover ? await s.recover() : null;
  if (done !== null) {
    run.refusedAfterEffect.push({
      process, step: s.name, trace: answer.trace,
      answer: `${answer.status} ${answer.body?.code ?? ''}${answer.uncertainBefore ? ' (after an attempt with an unknown outcome)' : ''}`.trim(),
    });
    return done;
  }
  throw new JourneyFailed(`${s.name}: ${answer.status}${answer.viaOperation ? ' (operation)' : ''} ${JSON.stringify(answer.body).slice(0, 400)}`);
}

async function view(client: ChaosClient, url: string): Promise<any> {
  const answer = await client.get(url);
  if (answer.status !== 200) throw new JourneyFailed(`GET ${url}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
  return answer.body;
}

const today = (): string => new Date().toISOString().slice(0, 10);

function leadBody(name: string, keyPrefix: string, company: string) {
  return { topic: 'Cameras and alarms for 12 sites', firstName: 'Chaos', lastName: name, email: `${name}.${keyPrefix}@fabrikam.example`, companyName: company, customerType: 'corporate' };
}

async function nurture(run: Run, rec: NurtureRecord): Promise<void> {
  const { rep, keyPrefix } = run;
  const key = (what: string) => `${keyPrefix}-${rec.name}-${what}`;
  const body = leadBody(rec.name, keyPrefix, `Nurtured ${rec.name}`);
  rec.leadId = await step(run, rec.name, { name: 'create lead', call: () => rep.send('POST', '/leads', body, key('lead')), ok: [201], take: (a) => a.body.id });
  const leadId = rec.leadId;
  await step(run, rec.name, {
    name: 'enroll', call: () => rep.send('POST', `/leads/${leadId}/nurture`, undefined, key('enroll')), ok: [202], take: () => true,
    recover: async () => ((await rep.get(`/leads/${leadId}/nurture`)).status === 200 ? true : null),
  });
}

const STAGES = ['qualify', 'develop', 'propose', 'tech_check', 'close'];

async function sale(run: Run, rec: SaleRecord): Promise<void> {
  const { rep, tech, keyPrefix } = run;
  const key = (what: string) => `${keyPrefix}-${rec.name}-${what}`;
  const lead = leadBody(rec.name, keyPrefix, `Sold ${rec.name}`);
  rec.leadId = await step(run, rec.name, { name: 'create lead', call: () => rep.send('POST', '/leads', lead, key('lead')), ok: [201], take: (a) => a.body.id });
  rec.dealId = await step(run, rec.name, {
    name: 'qualify', call: () => rep.send('POST', `/leads/${rec.leadId}/qualify`, undefined, key('qualify')), ok: [200, 201], take: (a) => a.body.dealId,
  });
  const dealId = rec.dealId;
  const deal = () => view(rep, `/deals/${dealId}`);
  await step(run, rec.name, {
    name: 'add line', call: () => rep.send('POST', `/deals/${dealId}/lines`, { productId: run.productId, quantity: 1, unitPriceCents: rec.valueCents }, key('line')),
    ok: [201], take: () => true, recover: async () => ((await deal()).lines.length > 0 ? true : null),
  });
  rec.quoteId = await step(run, rec.name, { name: 'create quote', call: () => rep.send('POST', `/deals/${dealId}/quotes`, undefined, key('quote')), ok: [201], take: (a) => a.body.id });
  const quoteId = rec.quoteId;
  await step(run, rec.name, {
    name: 'activate quote', call: () => rep.send('POST', `/quotes/${quoteId}/activate`, undefined, key('activate')), ok: [200], take: () => true,
    recover: async () => ((await view(rep, `/quotes/${quoteId}`)).status === 'active' ? true : null),
  });
  for (const to of rec.techCheck ? ['develop', 'propose', 'tech_check', 'close'] : ['develop', 'propose', 'close']) {
    if (to === 'close' && rec.techCheck) {
      const check = { quoteId, outcome: 'passed', completedAt: new Date().toISOString(), notes: 'Site survey matches the quote.' };
      await step(run, rec.name, {
        name: 'Tech Check', call: () => tech.send('POST', `/deals/${dealId}/tech-checks`, check, key('tech-check')), ok: [201], take: () => true,
        recover: async () => ((await deal()).techChecks.some((c: any) => c.outcome === 'passed') ? true : null),
      });
    }
    await step(run, rec.name, {
      name: `advance to ${to}`, call: () => rep.send('POST', `/deals/${dealId}/advance`, { to }, key(`advance-${to}`)), ok: [200], take: () => true,
      recover: async () => {
        const d = await deal();
        return d.status !== 'open' || STAGES.indexOf(d.stage) >= STAGES.indexOf(to) ? true : null;
      },
    });
    rec.moves.push(to);
  }
  rec.orderId = await step(run, rec.name, {
    name: 'win quote', call: () => rep.send('POST', `/quotes/${quoteId}/win`, { closeDeal: true }, key('win')), ok: [201],
    take: (a) => (a.viaOperation ? a.body.createdId : a.body.id),
    recover: async () => (await deal()).orders[0]?.id ?? null,
  });
  rec.moves.push('won');
  const orderId = rec.orderId!;
  const order = () => view(rep, `/orders/${orderId}`);
  for (const kind of ['partial', 'complete'] as const) {
    await step(run, rec.name, {
      name: `fulfil ${kind}`, call: () => rep.send('POST', `/orders/${orderId}/fulfill`, { status: kind, fulfilledOn: today() }, key(`fulfil-${kind}`)), ok: [200], take: () => true,
      recover: async () => {
        const o = await order();
        return (kind === 'partial' ? o.fulfillments.length > 0 : o.status === 'fulfilled') ? true : null;
      },
    });
    rec.fulfillments.push(kind);
  }
  rec.invoiceId = await step(run, rec.name, {
    name: 'invoice', call: () => rep.send('POST', `/orders/${orderId}/invoices`, undefined, key('invoice')), ok: [201],
    take: (a) => (a.viaOperation ? a.body.createdId : a.body.id),
    recover: async () => (await order()).invoices.find((i: any) => i.status !== 'canceled')?.id ?? null,
  });
  const invoiceId = rec.invoiceId!;
  const total: number = (await view(rep, `/invoices/${invoiceId}`)).totalCents;
  const partial = Math.floor(total / 3);
  for (const [kind, amountCents] of [['partial', partial], ['complete', total - partial]] as const) {
    const body = { status: kind, paidOn: today(), amountCents };
    await step(run, rec.name, {
      name: `pay ${kind}`, call: () => rep.send('POST', `/invoices/${invoiceId}/pay`, body, key(`pay-${kind}`)), ok: [200], take: () => true,
      recover: async () => {
        const i = await view(rep, `/invoices/${invoiceId}`);
        return (kind === 'partial' ? i.paidCents >= partial : i.status === 'paid') ? true : null;
      },
    });
    rec.payments.push({ kind, amountCents });
  }
}

// ---------------------------------------------------------------------------------------------
// One run.

interface RunResult {
  run: number;
  seed: number;
  seconds: number;
  processes: { nurture: number; deals: number; orders: number };
  kills: Kill[];
  restarts: Record<string, number>;
  /** A part that died though nobody killed it (counted from the supervisor's log). */
  unplannedDeaths: Record<string, number>;
  /** Parts that ended by themselves after Ctrl-C, before the supervisor stopped them (and were restarted). */
  diedWhileStopping: string[];
  notRestarted: Kill[];
  /** Processes the client could not finish (stuck, or refused); each is also a violation. */
  stuck: string[];
  settleSeconds: number;
  checks: number;
  violations: Violation[];
  refusedAfterEffect: RefusedAfterEffect[];
  client: ClientStats;
  stop: { code: number | null; forced: boolean };
  /** What the client did, with the ids of its records, for the evidence. */
  records: { nurtures: NurtureRecord[]; sales: SaleRecord[] };
}

/** Processes start spread over this window, so that the kills meet them at different steps. */
const STAGGER_MS = 45_000;
/** The longest pause between two steps of a process. */
const THINK_MS = 3_000;
const API_TIMEOUT_MS = 5 * 60_000;
const SETTLE_TIMEOUT_MS = 3 * 60_000;
/** Once the killing has stopped, a request still without a final answer after this long is stuck. */
const RECOVERY_MS = 3 * 60_000;
const RESTART_TIMEOUT_MS = 3 * 60_000;

async function healthyNow(stack: ChaosStack): Promise<boolean> {
  try {
    return (await fetch(`${stack.apiUrl}/health`, { signal: AbortSignal.timeout(10_000) })).status === 200;
  } catch {
    return false;
  }
}

async function healthy(stack: ChaosStack, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await healthyNow(stack)) return true;
    await sleep(1_000);
  }
  return false;
}

async function oneRun(index: number, options: Options): Promise<RunResult> {
  const seed = options.seed + index;
  const random = seededRandom(seed);
  const dataDir = path.join(options.dir, `run-${index + 1}`);
  const logFile = path.join(options.dir, `run-${index + 1}.log`);
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`\n== run ${index + 1}/${options.runs} (seed ${seed}): starting the stack on ${path.relative(PROJECT_ROOT, dataDir)}; its log: ${path.relative(PROJECT_ROOT, logFile)}`);
  const started = Date.now();
  const stack = await startStack(dataDir, logFile);
  try {
    return await driveAndCheck(stack, index, seed, random, started, options);
  } finally {
    // Whatever went wrong, nothing of this run outlives it.
    await stack.stop();
    if (!options.keep) fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function driveAndCheck(stack: ChaosStack, index: number, seed: number, random: () => number, started: number, options: Options): Promise<RunResult> {
  const stats = emptyStats();
  let chaosEndedAt: number | null = null;
  const giveUp = () => chaosEndedAt !== null && Date.now() - chaosEndedAt > RECOVERY_MS;
  const run: Run = {
    think: () => sleep(random() * THINK_MS),
    rep: new ChaosClient(stack.apiUrl, stack.tokens.rep, stats, giveUp),
    tech: new ChaosClient(stack.apiUrl, stack.tokens.tech_consultant, stats, giveUp),
    keyPrefix: `chaos${seed}`,
    productId: '',
    refusedAfterEffect: [],
  };
  const products = await view(run.rep, '/products');
  run.productId = products.data.find((p: any) => p.sku === 'SS-300')?.id ?? products.data[0].id;

  const nurtures: NurtureRecord[] = Array.from({ length: options.processes }, (_, i) => ({ name: `nurture${i + 1}`, leadId: null, error: null }));
  const sales: SaleRecord[] = Array.from({ length: options.processes }, (_, i) => ({
    name: `sale${i + 1}`,
    // Every other deal is above the threshold, so half of them go through a Tech Check.
    valueCents: i % 2 === 0 ? TECH_CHECK_THRESHOLD_CENTS + 500_000 : TECH_CHECK_THRESHOLD_CENTS - 500_000,
    techCheck: i % 2 === 0,
    leadId: null, dealId: null, quoteId: null, orderId: null, invoiceId: null, moves: [], fulfillments: [], payments: [], error: null,
  }));

  const monkey = startMonkey(stack, {
    parts: options.parts, gapMs: [options.killEvery[0] * 1000, options.killEvery[1] * 1000], restartTimeoutMs: RESTART_TIMEOUT_MS, random,
    healthy: () => healthyNow(stack),
  });
  const journeys = [
    ...nurtures.map((rec) => ({ rec, drive: () => nurture(run, rec) })),
    ...sales.map((rec) => ({ rec, drive: () => sale(run, rec) })),
  ].map(async ({ rec, drive }) => {
    await sleep(random() * STAGGER_MS);
    try {
      await drive();
      console.log(`   ${rec.name} done (${((Date.now() - started) / 1000).toFixed(0)} s)`);
    } catch (error) {
      rec.error = error instanceof Error ? error.message : String(error);
      console.log(`   ${rec.name} FAILED: ${rec.error}`);
    }
  });
  // The killing lasts while the processes run, at most --chaos-max, and until every part has been
  // killed once (also when the processes were quicker than the monkey).
  const chaosUntil = started + options.chaosMaxSeconds * 1000;
  let driven = false;
  const all = Promise.all(journeys).then(() => (driven = true));
  while (Date.now() < chaosUntil && (!driven || options.parts.some((p) => !monkey.kills.some((k) => k.part === p)))) await sleep(500);
  await monkey.stop();
  chaosEndedAt = Date.now();
  console.log(`   chaos over after ${((chaosEndedAt - started) / 1000).toFixed(0)} s: ${monkey.kills.length} kills (${options.parts.map((p) => `${p} ${monkey.kills.filter((k) => k.part === p).length}`).join(', ')})${driven ? '' : `; the processes have ${RECOVERY_MS / 1000} s more to finish`}`);
  await all;
  console.log('   waiting for the stack and the processes to settle, then checking');

  const isHealthy = await healthy(stack, API_TIMEOUT_MS);
  const connection = await Connection.connect({ address: `127.0.0.1:${stack.ports.temporal}` });
  const temporal = new Client({ connection });
  const db = createDb(embeddedDatabaseUrl(stack.ports.postgres), { pool: { min: 0, max: 2 } });
  let result: RunResult;
  try {
    const settleSeconds = await settle(temporal, nurtures, sales, SETTLE_TIMEOUT_MS);
    const { violations, checks } = await checkInvariants(db, temporal, nurtures, sales);
    if (!isHealthy) violations.push({ process: 'stack', check: 'GET /health answers 200 after the chaos', detail: `not within ${API_TIMEOUT_MS / 1000} s` });
    const kills = monkey.kills;
    result = {
      run: index + 1, seed, seconds: 0,
      processes: { nurture: nurtures.length, deals: sales.length, orders: sales.filter((s) => s.orderId).length },
      kills,
      restarts: {},
      unplannedDeaths: {},
      diedWhileStopping: [],
      notRestarted: kills.filter((k) => k.backAfter === null),
      stuck: [...nurtures, ...sales].filter((r) => r.error).map((r) => `${r.name}: ${r.error}`),
      settleSeconds, checks, violations,
      refusedAfterEffect: run.refusedAfterEffect,
      client: stats,
      stop: { code: null, forced: false },
      records: { nurtures, sales },
    };
  } finally {
    await db.destroy();
    await connection.close();
  }
  result.stop = await stack.stop();
  result.seconds = (Date.now() - started) / 1000;
  // Counted from the supervisor's log once the stack has stopped: a part that ended by itself while
  // the stack was stopping is a death nobody asked for too.
  const parts = ['worker', 'api', 'postgres', 'temporal', 'maildev'];
  result.restarts = Object.fromEntries(parts.map((p) => [p, stack.restarts(p)]));
  const stopping = stack.output().indexOf('SIGINT: stopping');
  result.diedWhileStopping = stopping < 0 ? [] : [...stack.output().slice(stopping).matchAll(/\[(\w+)\] \1 ended unexpectedly/g)].map((m) => m[1]);
  result.unplannedDeaths = Object.fromEntries(parts.map((p) => [p, stack.endedUnexpectedly(p) - result.kills.filter((k) => k.part === p).length]).filter(([, n]) => Number(n) !== 0));
  for (const part of stack.leftovers()) result.violations.push({ process: 'stack', check: 'Ctrl-C stops every part', detail: `${part} still ran after the stack had stopped` });
  fs.writeFileSync(path.join(options.dir, `run-${index + 1}.json`), JSON.stringify(result, null, 2));
  return result;
}

// ---------------------------------------------------------------------------------------------
// The report.

function findings(r: RunResult): string[] {
  return [
    ...r.violations.map((v) => `invariant: ${v.process}: ${v.check}: ${v.detail}`),
    ...r.notRestarted.map((k) => `not restarted: ${k.part} (pid ${k.pid}) killed at ${k.at.toFixed(0)} s`),
    ...r.client.serverErrors.map((e) => `${e.status}: ${e.method} ${e.path} at ${e.at}: ${JSON.stringify(e.body).slice(0, 300)}`),
    ...r.refusedAfterEffect.map((x) => `a retry with the same key was refused though its first attempt had done the work: ${x.process} ${x.step} → ${x.answer}; attempts: ${x.trace.join(' | ')}`),
    ...Object.entries(r.unplannedDeaths).map(([part, n]) => `${part} ended ${n} time(s) without being killed${r.diedWhileStopping.includes(part) ? ' (after Ctrl-C, before the supervisor stopped it: it was restarted during the shutdown)' : ''}`),
    ...(r.stop.code === 0 ? [] : [`the stack did not stop cleanly on SIGINT (exit ${r.stop.code}${r.stop.forced ? ', killed' : ''})`]),
  ];
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
const killsOf = (r: RunResult, part: Killable) => r.kills.filter((k) => k.part === part).length;

function report(results: RunResult[], options: Options): string[] {
  const total = emptyStats();
  for (const r of results) addStats(total, r.client);
  const spread = (xs: Array<number | null>) => {
    const got = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
    return got.length ? `${got[0].toFixed(1)}–${got[got.length - 1].toFixed(1)} s (median ${got[Math.floor(got.length / 2)].toFixed(1)} s)` : '—';
  };
  const allKills = results.flatMap((r) => r.kills);
  const byPart = options.parts.map((p) => `${p} ${spread(allKills.filter((k) => k.part === p).map((k) => k.healthyAfter))}`).join('; ');
  const row = (label: string, rs: RunResult[]) => {
    const kills = KILLABLE.map((p) => sum(rs.map((r) => killsOf(r, p))));
    return `| ${label} | ${sum(rs.map((r) => r.processes.nurture))} / ${sum(rs.map((r) => r.processes.deals))} / ${sum(rs.map((r) => r.processes.orders))} | ${kills.join(' | ')} | ${sum(kills)} | ${sum(rs.map((r) => r.checks))} | **${sum(rs.map((r) => r.violations.length))}** | ${sum(rs.map((r) => r.stuck.length))} | ${sum(rs.map((r) => r.client.serverErrors.length))} | ${rs.length === 1 ? `${rs[0].seconds.toFixed(0)} s` : `${sum(rs.map((r) => r.seconds)).toFixed(0)} s`} |`;
  };
  const unavailable = (code: string) => total.unavailable[code] ?? 0;
  const otherUnavailable = sum(Object.entries(total.unavailable).filter(([c]) => !['still_processing', 'database_unavailable', 'temporal_unavailable', 'worker_unavailable'].includes(c)).map(([, n]) => n));
  const violations = sum(results.map((r) => r.violations.length));
  const refused = results.flatMap((r) => r.refusedAfterEffect);
  const unplanned = results.flatMap((r) => Object.entries(r.unplannedDeaths).map(([p, n]) => `${p} ${n} (run ${r.run})`));
  const cpu = os.cpus();
  return [
    `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'CPU'}, Node ${process.version}; the \`npm start\` stack (supervisor; embedded PostgreSQL 18, Temporal dev server on its SQLite file, MailDev, the worker and the API as processes of their own). Other sessions shared the machine.`,
    `Each run: a fresh stack; ${options.processes} nurture enrollments and ${options.processes} sales at once (deal to won through a line, a quote and its activation, every other deal above $20,000.00 through a passed Tech Check, the win creating the order; the order fulfilled in part then completely, invoiced, paid in part then completely), while one part at a time is killed with SIGKILL ${options.killEvery[0]}–${options.killEvery[1]} s after the supervisor brought the previous one back and \`/health\` answered 200 again (the API's and the worker's Node process, the PostgreSQL postmaster, the Temporal dev server; each once before any twice). Then the checks, on Postgres's rows and on each workflow's state queried through Temporal. Seeds: ${results.map((r) => r.seed).join(', ')}.`,
    '',
    '| run | nurture / deals / orders | worker kills | API kills | Postgres kills | Temporal kills | kills | invariant checks | violations | processes not finished | 5xx (not 503) | wall time |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => row(String(r.run), [r])),
    ...(results.length > 1 ? [row('**all**', results)] : []),
    '',
    `**Invariant violations: ${violations}** (goal 0). Checked: every nurture run did its intro call once and waits for the information email (a day later, the real cadence); every deal is won and its run completed, every order fulfilled and paid and its run completed; one timeline activity per nurture step key, one nurture_steps row per step done, one deal_stage_moves row per move number and only the moves the client made, one line, quote and Tech Check as made, one order per won quote, one fulfillment, ledger change and payment row per request the client made (every payment once), one lead per lead created, one run per workflow; Postgres = workflow for every deal (stage, status, moveSeq, facts, recent moves) and order (status, fulfillments, invoices, paid amounts).`,
    '',
    `Parts restarted by the supervisor: ${allKills.filter((k) => k.backAfter !== null).length} of ${allKills.length} kills, restarted after ${spread(allKills.map((k) => k.backAfter))}; serving again (\`/health\` 200) after: ${byPart} (the supervisor's backoff doubles while a part dies again within a minute). Not restarted: ${sum(results.map((r) => r.notRestarted.length))}; parts that died without being killed: ${unplanned.length ? unplanned.join(', ') : 'none'}; the stack stopped cleanly on SIGINT after ${results.filter((r) => r.stop.code === 0).length} of ${results.length} runs.`,
    '',
    'What the client saw (Idempotency-Key on every change; retries with the same key after a connection error, a timeout, a 503 or `idempotency_key_in_use`; a `still_processing` followed at its `Location`). A request counts once however often it was sent; "answered late": its final answer needed a retry or a poll:',
    '',
    '| requests | answered late | longest wait | HTTP attempts | retries | connection errors | timeouts (45 s) | 503 `still_processing` | operations succeeded / failed / not applied | 503 `database_unavailable` | 503 `temporal_unavailable` | 503 `worker_unavailable` | other 503 | 409 `idempotency_key_in_use` | replayed answers | 5xx (not 503) | refusals after the work was done |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${total.requests} | ${total.delayed} | ${(total.longestMs / 1000).toFixed(1)} s | ${total.attempts} | ${total.retries} | ${total.connectionErrors} | ${total.timeouts} | ${unavailable('still_processing')} | ${total.operations.succeeded} / ${total.operations.failed} / ${total.operations.not_applied} | ${unavailable('database_unavailable')} | ${unavailable('temporal_unavailable')} | ${unavailable('worker_unavailable')} | ${otherUnavailable} | ${total.keyInUse} | ${total.replayed} | ${total.serverErrors.length} | ${refused.length} |`,
    '',
    refused.length
      ? `Refusals after the work was done (a retry refused because its earlier attempt, whose answer was lost, had already done it; the client read the record to find out): ${refused.map((r) => `${r.step} → ${r.answer}`).join('; ')}.`
      : 'No retry was refused because an earlier attempt had already done the work: every retry got the first attempt\'s answer (replayed, or the Update\'s outcome).',
    '',
    `Longer: \`npm run chaos -- --runs 5 --processes 10 --kill-every 2-8\` (or the \`CHAOS_*\` variables). Each run's stack log, kills, findings and client figures stay in \`${path.relative(PROJECT_ROOT, options.dir)}/run-<n>.{log,json}\`.`,
  ];
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const options = parseOptions(argv);
  const env = ['CHAOS_RUNS', 'CHAOS_PROCESSES', 'CHAOS_KILL_EVERY', 'CHAOS_MAX_SECONDS', 'CHAOS_PARTS', 'CHAOS_SEED'].filter((k) => process.env[k]).map((k) => `${k}=${process.env[k]} `).join('');
  const command = `${env}npm run chaos${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  fs.mkdirSync(options.dir, { recursive: true });
  const results: RunResult[] = [];
  for (let i = 0; i < options.runs; i++) {
    const result = await oneRun(i, options);
    results.push(result);
    const found = findings(result);
    console.log(`   run ${result.run}: ${result.kills.length} kills, ${result.checks} checks, ${result.violations.length} violations, ${result.client.retries} retries, ${result.seconds.toFixed(0)} s`);
    for (const f of found) console.log(`   FINDING ${f}`);
  }
  const lines = report(results, options);
  console.log(`\n${lines.join('\n')}`);
  if (options.report) {
    writeBenchmarkSection('chaos', 'Chaos: whole processes while the worker, the API, PostgreSQL and Temporal are killed', command, lines);
    console.log('\nBENCHMARKS.md: the chaos section is rewritten.');
  }
  process.exit(results.some((r) => findings(r).length > 0) ? 1 : 0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(2);
});

/**
 * The fuzz test's stack and tools: the API as its own process (as `npm run api` runs it), records
 * of every kind seeded through the API, the schemathesis configuration that sends their ids, and
 * a bounded schemathesis run.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT, loadConfig } from '../../config';
import { waitForUnification } from '../../api/unificationClient';
import { freePort, waitFor } from '../../scripts/lib/services';
import { toolPaths } from '../../scripts/lib/tools';
import { SAMPLE_DIR } from '../customers/helpers';
import { createLead } from './fixtures';
import { dealAt, productId, qualifiedDeal } from './deals';
import { expectStatus, type TestStack } from './stack';
import { apiRequest } from './http';
import { invoicedOrder, wonOrder } from './orders';
import type { Account } from './apiTypes';

/** The API process, as `npm run api` runs it, with its log in a file. */
export interface ApiProcess {
  url: string;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

export async function startApiProcess(stack: TestStack, logFile: string): Promise<ApiProcess> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const out = fs.openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), path.join(PROJECT_ROOT, 'api', 'main.ts')], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', out, out],
    env: {
      ...process.env,
      DATABASE_URL: stack.database.url, TEMPORAL_ADDRESS: stack.env.address, TASK_QUEUE: stack.taskQueue,
      PORT: String(port), PUBLIC_URL: url, LOG_LEVEL: 'error',
    },
  });
  fs.closeSync(out);
  await waitFor('the API process', async () => (await fetch(`${url}/health`)).ok, 60_000, child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url, child, logFile,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export const alive = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null;

/** Records of every kind, made through the API; their ids, by kind, for schemathesis's dictionaries. */
export async function seedRecords(stack: TestStack): Promise<Record<string, string[]>> {
  const { rep, manager, tech_consultant: tc } = stack.as;
  const lead = await createLead(stack.db, stack.users.rep.id);
  await createLead(stack.db, stack.users.otherRep.id);
  expectStatus(await rep.post(`/leads/${lead.id}/nurture`), 202);
  const consumer = await createLead(stack.db, stack.users.rep.id, { customerType: 'consumer', companyName: null });
  expectStatus(await rep.post(`/activities`, { type: 'task', regarding: { type: 'lead', id: consumer.id }, subject: 'Call back about the quote' }), 201);

  const developing = await qualifiedDeal(stack);
  expectStatus(await rep.post(`/deals/${developing}/lines`, { productId: await productId(stack.db, 'SS-300'), quantity: 2 }), 201);
  expectStatus(await rep.post(`/deals/${developing}/advance`, { to: 'develop' }), 200);
  const draft = await rep.post(`/deals/${developing}/quotes`, {});
  expectStatus(draft, 201);
  await dealAt(stack, 'tech_check', 2_500_000);
  await wonOrder(stack, 1_200_000);
  const invoiced = await invoicedOrder(stack, 900_000);
  expectStatus(await rep.post(`/invoices/${invoiced.invoiceId}/pay`, { status: 'partial', paidOn: new Date().toISOString().slice(0, 10), amountCents: 100_000 }), 200);
  expectStatus(await tc.post(`/activities`, { type: 'note', regarding: { type: 'deal', id: invoiced.dealId }, subject: 'Site survey done' }), 201);

  const account = await rep.post<Account>('/accounts', { name: 'Fabrikam Holdings' });
  expectStatus(account, 201);
  const branch = await rep.post<Account>('/accounts', { name: 'Fabrikam West', parentAccountId: account.body.id });
  expectStatus(branch, 201);
  expectStatus(await rep.post('/contacts', { firstName: 'Abbie', lastName: 'Moss', email: 'abbie.moss@fabrikam.example', parentAccountId: branch.body.id }), 201);
  expectStatus(await rep.post('/contacts', { firstName: 'Sam', lastName: 'Lee', email: 'sam.lee@example.com' }), 201);

  // A small customer import (the first rows of the sample), unified, so that customers exist.
  const contacts = fs.readFileSync(path.join(SAMPLE_DIR, 'contacts.csv'), 'utf8').split('\n').slice(0, 30).join('\n') + '\n';
  const form = new FormData();
  form.append('contacts', new Blob([contacts], { type: 'text/csv' }), 'contacts.csv');
  const imported = await apiRequest(stack.url, 'POST', '/imports', { headers: { Authorization: `Bearer ${stack.users.manager.token}` }, body: form });
  const importBody = imported.body as { id: string; unification: Parameters<typeof waitForUnification>[1] };
  assert.equal(imported.status, 201, JSON.stringify(importBody));
  await waitForUnification(stack.env.client, importBody.unification, { timeoutMs: 60_000 });
  expectStatus(await manager.get('/customers?limit=1'), 200);

  const ids = async (table: string, limit = 5) => (await stack.db(table).orderBy('id').limit(limit).pluck('id')).map(String);
  return {
    leads: await ids('leads'), deals: await ids('deals'), dealLines: await ids('deal_lines', 10), quotes: await ids('quotes'),
    quoteLines: await ids('quote_lines', 10), orders: await ids('orders'), invoices: await ids('invoices'), accounts: await ids('accounts'),
    contacts: await ids('contacts'), activities: await ids('activities', 10), products: await ids('products'), customers: await ids('customers'),
    imports: await ids('customer_imports'), users: await ids('users', 10),
  };
}

const tomlString = (value: string): string => JSON.stringify(value);

/**
 * Values no generator is likely to hit in a short run but that broke the API before: NUL (Postgres
 * refuses it), a CR/LF header injection, non-BMP text; money at and near 2^53.
 */
const HOSTILE_TEXT = ['Smart\u0000doorbells', '\u0000', 'Abbie\r\nBcc: all@contoso.example', 'Zoë’s 🚪 doorbells', "O'Brien; drop table leads; --"];
const BIG_NUMBERS = [9_007_199_254_740_991, 9_007_199_254_740_990, 4_503_599_627_370_497, 99_999_999_999, 2_147_483_648];

/** Which dictionary an id field draws from, by its name. */
const REFERENCES: Record<string, string> = {
  productId: 'products', quoteId: 'quotes', ownerId: 'users', userId: 'users', contactId: 'contacts', primaryContactId: 'contacts',
  parentAccountId: 'accounts', accountId: 'accounts', dealId: 'deals', orderId: 'orders', leadId: 'leads', id: 'records',
};
/** The dictionary of a path's `{id}`, by the path's first segment; `{lineId}` likewise. */
const PATH_IDS: Record<string, string> = {
  leads: 'leads', deals: 'deals', quotes: 'quotes', orders: 'orders', invoices: 'invoices', accounts: 'accounts', contacts: 'contacts',
  activities: 'activities', products: 'products', customers: 'customers', imports: 'imports',
};
const LINE_IDS: Record<string, string> = { deals: 'dealLines', quotes: 'quoteLines' };
const RECORD_TYPES = ['lead', 'deal', 'account', 'contact', 'quote', 'order', 'invoice'];

type JsonSchema = { type?: string; enum?: unknown[]; format?: string; pattern?: string; maximum?: number; properties?: Record<string, JsonSchema>; items?: JsonSchema; anyOf?: JsonSchema[]; oneOf?: JsonSchema[] };
interface Operation { operationId: string; parameters?: Array<{ name: string; in: string; schema: JsonSchema }>; requestBody?: { content: Record<string, { schema: JsonSchema }> } }
export interface OpenApiDocument { paths: Record<string, Record<string, Operation>> }

/** The dictionary a field draws from, or none. */
function dictionaryFor(name: string, schema: JsonSchema, where: string): [string, number] | null {
  const variants = [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])];
  if (name in REFERENCES && variants.some((v) => v.format === 'uuid')) return [REFERENCES[name], where === 'path' ? 0.8 : 0.6];
  if (where === 'body' && name === 'type' && variants.some((v) => v.type === 'string' && !v.enum)) return ['recordTypes', 0.7];
  if (variants.some((v) => v.type === 'string' && !v.enum && !v.format && !v.pattern)) return ['hostileText', 0.2];
  if (variants.some((v) => v.type === 'integer' && (v.maximum ?? Infinity) >= BIG_NUMBERS[0])) return ['bigNumbers', 0.3];
  return null;
}

function bodyBindings(schema: JsonSchema, prefix: string, out: Map<string, [string, number]>): void {
  for (const variant of [schema, ...(schema.anyOf ?? []), ...(schema.oneOf ?? [])]) {
    for (const [name, property] of Object.entries(variant.properties ?? {})) {
      const key = `${prefix}.${name}`;
      const dictionary = dictionaryFor(name, property, 'body');
      if (dictionary) out.set(key, dictionary);
      bodyBindings(property, key, out);
      for (const inner of [property, ...(property.anyOf ?? [])]) if (inner.items) bodyBindings(inner.items, `${key}[*]`, out);
    }
  }
}

/**
 * One block per operation of the document: the seeded ids its path, query and body refer to (most
 * requests hit a real record, the rest are generated), and the hostile values its free text and
 * money fields sometimes get.
 */
export function schemathesisConfig(document: OpenApiDocument, ids: Record<string, string[]>): string {
  const dictionaries: Record<string, Array<string | number>> = {
    ...ids,
    records: RECORD_TYPES.flatMap((type) => ids[`${type}s`] ?? []),
    recordTypes: RECORD_TYPES, hostileText: HOSTILE_TEXT, bigNumbers: BIG_NUMBERS,
  };
  const lines: string[] = [];
  for (const [name, values] of Object.entries(dictionaries)) {
    if (values.length) lines.push(`[dictionaries.${name}]`, `values = [${values.map((v) => (typeof v === 'number' ? String(v) : tomlString(v))).join(', ')}]`, '');
  }
  for (const [pathName, operations] of Object.entries(document.paths)) {
    const resource = pathName.split('/')[1];
    for (const operation of Object.values(operations)) {
      const bindings = new Map<string, [string, number]>();
      for (const parameter of operation.parameters ?? []) {
        if (parameter.in === 'path') {
          const dictionary = parameter.name === 'lineId' ? LINE_IDS[resource] : parameter.name === 'id' ? PATH_IDS[resource] : undefined;
          if (dictionary) bindings.set(`path.${parameter.name}`, [dictionary, 0.8]);
        } else if (parameter.in === 'query') {
          const dictionary = dictionaryFor(parameter.name, parameter.schema, 'query');
          if (dictionary) bindings.set(`query.${parameter.name}`, dictionary);
        }
      }
      const json = operation.requestBody?.content['application/json']?.schema;
      if (json) bodyBindings(json, 'body', bindings);
      const usable = [...bindings].filter(([, [dictionary]]) => dictionaries[dictionary]?.length);
      if (!usable.length) continue;
      const params = usable.map(([key, [dictionary, probability]]) => `${tomlString(key)} = { dictionary = ${tomlString(dictionary)}, probability = ${probability} }`);
      lines.push('[[operations]]', `include-operation-id = ${tomlString(operation.operationId)}`, `parameters = { ${params.join(', ')} }`, '');
    }
  }
  return lines.join('\n');
}

export interface FuzzRun {
  exitCode: number | null;
  output: string;
  timedOut: boolean;
}

/** schemathesis with `args`, killed if it outlives `hardLimitMs`. */
export function runSchemathesis(args: string[], hardLimitMs: number, cwd: string): Promise<FuzzRun> {
  return new Promise((resolve) => {
    const child = spawn(toolPaths(loadConfig().toolsDir).schemathesis, args, {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SCHEMATHESIS_TELEMETRY: 'false', NO_COLOR: '1', COLUMNS: '160' },
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const killer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, hardLimitMs);
    child.once('exit', (code) => {
      clearTimeout(killer);
      resolve({ exitCode: code, output, timedOut });
    });
  });
}

/**
 * The API's own account of its 5xx since byte `since` of its log: one line per distinct route and
 * error, with the error's last words (a Postgres error follows its SQL) and our first stack frame.
 */
export function apiErrors(logFile: string, since: number): string[] {
  const seen = new Map<string, number>();
  const text = fs.readFileSync(logFile).subarray(since).toString('utf8');
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let entry: { method?: string; path?: string; msg?: string; err?: { type?: string; message?: string; code?: string; stack?: string } };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const route = (entry.path ?? '').replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, ':id');
    const message = (entry.err?.message ?? '').split('\n')[0].split(' - ').pop()!.slice(0, 160);
    const frame = entry.err?.stack?.split('\n').find((l) => l.includes(PROJECT_ROOT) && !l.includes('node_modules'))?.trim().replace(PROJECT_ROOT + path.sep, '');
    const key = `${entry.method ?? ''} ${route} ${entry.msg ?? ''}: ${entry.err?.type ?? ''} ${entry.err?.code ?? ''} ${message}${frame ? ` (${frame})` : ''}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].map(([key, count]) => `${count}× ${key}`);
}

/** The last lines of a log, e.g. what a process printed before it died. */
export function logTail(logFile: string, lines = 40): string {
  return fs.readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

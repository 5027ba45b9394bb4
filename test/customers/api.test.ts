/**
 * The customer view over HTTP, end to end on the dev server: a multipart import with its rejected
 * rows, refused requests that change nothing, finding customers, one customer's purchases,
 * totals, loyalty points and CRM records, a merged id, and the CSV export.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parse } from 'csv-parse/sync';
import { waitForUnification } from '../../api/unificationClient';
import { TimelineActivityStore } from '../../db/stores/timelineActivities';
import { exportQuery } from '../../db/stores/customers';
import { createTestDatabase, countRows, type TestDatabase } from '../helpers/db';
import { createLead, createUsers, type TestUsers } from '../helpers/fixtures';
import { apiRequest, client, startTestApi, type TestApi } from '../helpers/http';
import { devServerEnv, startTestWorker, uniqueTaskQueue, workflowBundle, type RunningTestWorker } from '../helpers/temporal';
import { SAMPLE_DIR, SOURCES } from './helpers';
import type { Customer, CustomerView, Imported, ImportView, Page, Problem, Unification } from '../helpers/apiTypes';

describe('customer view API (dev server)', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let users: TestUsers;
  let api: TestApi;
  let worker: RunningTestWorker;
  let importId: string;

  before(async function () {
    [env, database] = await Promise.all([devServerEnv(), createTestDatabase(), workflowBundle()]).then(([e, d]) => [e, d] as const);
    users = await createUsers(database.db);
    const taskQueue = uniqueTaskQueue('customers-api');
    worker = await startTestWorker(env, database.db, taskQueue);
    api = await startTestApi(database.db, env.client, taskQueue);
  });

  after(async function () {
    await api?.close();
    await worker?.stop();
    await env?.teardown();
    await database?.drop();
  });

  function upload<T = Imported>(parts: Record<string, string>, token: string, query = '') {
    const form = new FormData();
    for (const [name, file] of Object.entries(parts)) form.append(name, new Blob([fs.readFileSync(file)], { type: 'text/csv' }), path.basename(file));
    return apiRequest<T>(api.url, 'POST', `/imports${query}`, { headers: { Authorization: `Bearer ${token}` }, body: form });
  }

  const tables = ['customer_imports', 'customer_source_records', 'customer_purchases'];

  it('refuses a request with an unknown part, a repeated source or no file, and imports nothing', async function () {
    const before = await countRows(database.db, tables);
    const unknown = await upload<Problem>({ contacts: path.join(SAMPLE_DIR, 'contacts.csv'), customers: path.join(SAMPLE_DIR, 'loyalty.csv') }, users.manager.token);
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.field, 'customers');
    assert.equal(unknown.body.errors![0].code, 'unknown_source');

    const json = await client(api.url, users.manager.token).post<Problem>('/imports', { contacts: 'x' });
    assert.equal(json.status, 400);
    assert.deepEqual([json.body.field, json.body.errors![0].code], ['body', 'multipart_required']);

    const empty = await apiRequest(api.url, 'POST', '/imports', { headers: { Authorization: `Bearer ${users.manager.token}` }, body: new FormData() });
    assert.equal(empty.status, 400);
    assert.deepEqual(await countRows(database.db, tables), before, 'nothing was imported');

    const rep = await upload({ contacts: path.join(SAMPLE_DIR, 'contacts.csv') }, users.rep.token);
    assert.equal(rep.status, 403);
  });

  it('imports the four files from a multipart upload, runs unification and shows the rejected rows', async function () {
    const parts = Object.fromEntries(SOURCES.map((s) => [s, path.join(SAMPLE_DIR, `${s}.csv`)]));
    const reply = await upload(parts, users.manager.token);
    assert.equal(reply.status, 201, JSON.stringify(reply.body));
    importId = reply.body.id;
    assert.deepEqual([reply.body.rowsRead, reply.body.rowsLoaded, reply.body.rowsRejected], [2013, 2012, 1]);
    assert.ok(reply.body.unification?.requestId, 'unification was requested');
    const pass = await waitForUnification(env.client, reply.body.unification, { timeoutMs: 60_000 });
    assert.equal(pass.status, 'completed');
    assert.equal(pass.summary!.customers, 394);
    const followed = await client(api.url, users.manager.token).get<Unification>(`/unification?requestId=${reply.body.unification.requestId}`);
    assert.equal(followed.body.request!.status, 'completed');
    assert.ok(followed.body.passes.some((p: { status: string }) => p.status === 'completed'));

    const view = await client(api.url, users.manager.token).get<ImportView>(`/imports/${importId}?reason=invalid_value`);
    assert.equal(view.status, 200);
    assert.equal(view.body.files.length, 4);
    assert.deepEqual(view.body.rejects.data.map((r) => [r.fileName, r.line, r.columnName]), [['pos_purchases.csv', 503, 'PurchasedOn']]);
    assert.equal((await client(api.url, users.manager.token).get('/imports/00000000-0000-0000-0000-000000000000')).status, 404);
  });

  it('finds a customer by name, e-mail, phone in another format, postal code, ContactId or LoyaltyId', async function () {
    const http = client(api.url, users.rep.token);
    const ids = new Set<string>();
    for (const q of ['Julia Medina', 'medina jul', 'JULIA.MEDINA@icloud.com', '(947) 567-1024', '19164', 'CNTID_1520', 'loyid_1547']) {
      const found = await http.get<Page<Customer>>(`/customers?q=${encodeURIComponent(q)}`);
      assert.equal(found.status, 200);
      assert.equal(found.body.page.total, 1, `${q} finds exactly one profile`);
      ids.add(found.body.data[0].id);
    }
    assert.equal(ids.size, 1, 'every search finds the same profile');
    const accented = await http.get<Page<Customer>>(`/customers?q=${encodeURIComponent('chloe tran')}`);
    assert.deepEqual(accented.body.data.map((c) => `${c.firstName} ${c.lastName}`), ['Chloé Tran'], 'accents do not matter');
    const all = await http.get<Page<Customer>>('/customers?limit=5');
    assert.equal(all.body.page.total, 394);
  });

  it('shows one customer: merged profile, source records, purchases with totals, loyalty points and CRM records by e-mail', async function () {
    const http = client(api.url, users.rep.token);
    const [{ id }] = (await http.get<Page<Customer>>('/customers?q=CNTID_1520')).body.data;
    const lead = await createLead(database.db, users.rep.id, { firstName: 'Julia', lastName: 'Medina', email: 'Julia.Medina@icloud.com', customerType: 'consumer' });
    await new TimelineActivityStore(database.db).create({ type: 'phone_call', regarding: { type: 'lead', id: lead.id }, subject: 'Asked about doorbells' }, { actor: { type: 'user', id: users.rep.id }, userId: users.rep.id });

    // The CRM side of the deals area: a contact with the same address (another case), its company and its deal.
    const [account] = await database.db('accounts').insert({ name: 'Medina Design', normalized_name: 'medina design', owner_id: users.rep.id, created_by: users.rep.id }).returning('id');
    const [contact] = await database.db('contacts').insert({ first_name: 'Julia', last_name: 'Medina', email: 'JULIA.MEDINA@ICLOUD.COM', parent_account_id: account.id, owner_id: users.rep.id, created_by: users.rep.id }).returning('id');
    const [deal] = await database.db('deals').insert({ name: 'Doorbells for the studio', contact_id: contact.id, account_id: account.id, owner_id: users.rep.id, created_by: users.rep.id, value_cents: 120_000 }).returning('id');
    await database.db('activities').insert({ type: 'note', regarding_type: 'deal', regarding_id: deal.id, subject: 'Wants a quote', status: 'completed', completed_at: database.db.fn.now(), created_by: users.rep.id });
    await database.db('contacts').insert({ last_name: 'Someone Else', email: 'someone@example.com', owner_id: users.rep.id, created_by: users.rep.id });

    const view = await http.get<CustomerView>(`/customers/${id}?asOf=2020-12-31`);
    assert.equal(view.status, 200);
    const body = view.body;
    assert.equal(body.fullName, 'Julia Medina');
    assert.deepEqual(body.sourceKeys, { contacts: ['CNTID_1520'], loyalty: ['LOYID_1547'] });
    assert.deepEqual(body.records.map((r: { source: string; rule: string | null }) => r.source), ['contacts', 'loyalty']);
    assert.ok(body.records.every((r: { rule: string | null; confidence: number }) => r.rule && r.confidence > 0));

    // Expected from the files themselves.
    const rows = (file: string) => parse(fs.readFileSync(path.join(SAMPLE_DIR, file)), { bom: true, columns: true }) as Array<Record<string, string>>;
    const cents = (v: string) => Math.round(Number(v) * 100);
    const online = rows('online_purchases.csv').filter((r) => r.ContactId === 'CNTID_1520');
    const pos = rows('pos_purchases.csv').filter((r) => r.LoyaltyId === 'LOYID_1547');
    assert.equal(body.purchases.length, online.length + pos.length);
    assert.equal(body.totals.onlineCents, online.reduce((n, r) => n + cents(r.TotalPrice), 0));
    assert.equal(body.totals.posCents, pos.reduce((n, r) => n + cents(r.TotalPrice), 0));
    assert.equal(body.totals.lifetimeCents, body.totals.onlineCents + body.totals.posCents);
    const inWindow = (d: string) => d > '2019-12-31' && d <= '2020-12-31';
    assert.equal(body.totals.last12MonthsCents, body.purchases.filter((p: { purchasedOn: string }) => inWindow(p.purchasedOn)).reduce((n: number, p: { totalCents: number }) => n + p.totalCents, 0));
    const loyalty = rows('loyalty.csv').find((r) => r.LoyaltyId === 'LOYID_1547')!;
    assert.equal(body.loyalty.pointsBalance, Number(loyalty.RewardPoints));
    assert.equal(body.loyalty.pointsEarnedInStore, pos.reduce((n, r) => n + Number(r.RewardPointsAdded), 0));

    assert.deepEqual(body.crm.leads.map((l: { id: string }) => l.id), [lead.id], 'the lead with the same e-mail, whatever its case');
    assert.deepEqual(body.crm.contacts.map((c: { id: string }) => c.id), [contact.id]);
    assert.deepEqual(body.crm.accounts.map((a: { id: string }) => a.id), [account.id]);
    assert.deepEqual(body.crm.deals.map((d: { id: string; valueCents: number }) => [d.id, d.valueCents]), [[deal.id, 120_000]]);
    assert.deepEqual(body.crm.activities.map((a: { subject: string }) => a.subject).sort(), ['Asked about doorbells', 'Wants a quote']);
    assert.deepEqual(body.crm.available, ['leads', 'contacts', 'accounts', 'deals', 'activities']);
    assert.equal((await http.get('/customers/not-a-uuid')).status, 404);
  });

  it('answers a merged-away CustomerId with the profile it joined', async function () {
    const http = client(api.url, users.rep.token);
    const [{ id }] = (await http.get<Page<Customer>>('/customers?q=CNTID_1520')).body.data;
    const gone = '11111111-2222-5333-8444-555555555555';
    await database.db('customer_id_redirects').insert({ old_id: gone, new_id: id, pass_id: (await database.db('customer_unification_passes').first('id')).id });
    const followed = await http.get<CustomerView>(`/customers/${gone}`);
    assert.equal(followed.status, 200);
    assert.equal(followed.body.id, id);
  });

  it('exports one CSV row per source record: CustomerId, Source, SourceKey, then the profile', async function () {
    const result = await database.db.raw(exportQuery().replace(/^copy \(/, '').replace(/\) to stdout with \(format csv, header\)$/, ''));
    assert.equal(result.rows.length, 573);
    const first = result.rows[0];
    assert.deepEqual(Object.keys(first).slice(0, 5), ['CustomerId', 'Source', 'SourceKey', 'FirstName', 'LastName']);
    const medina = result.rows.filter((r: { SourceKey: string }) => ['CNTID_1520', 'LOYID_1547'].includes(r.SourceKey));
    assert.equal(new Set(medina.map((r: { CustomerId: string }) => r.CustomerId)).size, 1);
    assert.equal(medina[0].ContactIds, 'CNTID_1520');
  });
});

/**
 * Importing leads from a CSV file over HTTP (real API, worker, Postgres): good rows become leads
 * with their owner and audit entry, bad rows are reported with line and reason, duplicates by email
 * against leads and contacts are set aside, a re-import creates nothing, hostile bodies are 4xx,
 * and only a manager names another owner. And the CLI does the same.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../config';
import { ContactStore } from '../../db/stores/contacts';
import { countRows } from '../helpers/db';
import { createLead, uniqueEmail } from '../helpers/fixtures';
import { apiRequest, type Reply } from '../helpers/http';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { eventually } from '../helpers/temporal';
import type { Lead, LeadImportPosted, LeadImportView, Problem } from '../helpers/apiTypes';
import { DEFAULT_SEQUENCE_ID } from '../../domain/sequences/definition';

const WATCHED = ['leads', 'audit_log', 'lead_imports', 'lead_import_rows', 'lead_import_keys', 'contacts'];
const HEADER = 'External ID,Topic,First Name,last_name,EMAIL,Company,Phone,customerType,Favourite Colour';

const row = (over: Partial<Record<'id' | 'topic' | 'first' | 'last' | 'email' | 'company' | 'phone' | 'type', string>> = {}) =>
  [over.id ?? '', over.topic ?? 'Smart doorbells', over.first ?? 'Abbie', over.last ?? 'Moss', over.email ?? uniqueEmail('import'),
    over.company ?? 'Fabrikam', over.phone ?? '983.566.0706', over.type ?? 'corporate', 'teal'].join(',');
const csv = (...lines: string[]) => `${[HEADER, ...lines].join('\n')}\n`;

function multipart(boundary: string, parts: Array<{ name: string; filename: string; content: string | Buffer }>, close = true): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: text/csv\r\n\r\n`));
    chunks.push(Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content));
    chunks.push(Buffer.from('\r\n'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

describe('lead import (POST /leads/imports)', function () {
  this.timeout(120_000);
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'time-skipping' });
  });

  after(async function () {
    await stack?.teardown();
  });

  function upload<T = LeadImportView>(token: string, body: string | Buffer, options: { contentType?: string; query?: string } = {}): Promise<Reply<T>> {
    return apiRequest<T>(stack.url, 'POST', `/leads/imports${options.query ?? ''}`, {
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': options.contentType ?? 'text/csv' }, body,
    });
  }

  /** A body without Content-Length, so only the byte count as it streams can refuse it. */
  function sendChunked(token: string, body: Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(`${stack.url}/leads/imports`, { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv', 'Transfer-Encoding': 'chunked' } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      let offset = 0;
      const write = () => {
        while (offset < body.length) {
          const chunk = body.subarray(offset, offset + 256 * 1024);
          offset += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', write);
        }
        req.end();
      };
      write();
    });
  }

  const leadsByEmail = (emails: string[]) => stack.db('leads').whereIn('email', emails).orderBy('email');

  it('creates a lead per good row, owned by the importer, each with the audit entry a created lead gets', async function () {
    const emails = [uniqueEmail('a'), uniqueEmail('b'), uniqueEmail('c')];
    const reply = await upload(stack.users.rep.token, csv(row({ email: emails[0], first: 'Chloé' }), row({ email: emails[1], company: '"Moss, Jr. & Co"' }), row({ email: emails[2], type: 'consumer' })));
    expectStatus(reply, 201);
    assert.deepEqual([reply.body.rowsRead, reply.body.rowsCreated, reply.body.rowsDuplicate, reply.body.rowsRejected], [3, 3, 0, 0]);
    assert.deepEqual(reply.body.ignoredColumns, ['Favourite Colour']);
    assert.equal(reply.headers.get('location'), `/leads/imports/${reply.body.id}`);

    const leads = await leadsByEmail(emails);
    assert.equal(leads.length, 3);
    for (const lead of leads) {
      assert.equal(lead.owner_id, stack.users.rep.id);
      assert.equal(lead.created_by, stack.users.rep.id);
      assert.equal(lead.source, 'import');
      assert.equal(lead.business_phone, '983.566.0706');
      assert.equal(lead.status, 'open');
    }
    assert.deepEqual(leads.map((l) => [l.first_name, l.company_name, l.customer_type]), [['Chloé', 'Fabrikam', 'corporate'], ['Abbie', 'Moss, Jr. & Co', 'corporate'], ['Abbie', 'Fabrikam', 'consumer']]);

    const audit = await stack.db('audit_log').whereIn('entity_id', leads.map((l) => l.id)).select('action', 'actor_type', 'actor_id', 'entity_id', 'after');
    assert.equal(audit.length, 3);
    for (const entry of audit) {
      assert.deepEqual([entry.action, entry.actor_type, entry.actor_id], ['lead.created', 'user', stack.users.rep.id]);
      assert.equal(entry.after.id, entry.entity_id);
      assert.equal(entry.after.ownerId, stack.users.rep.id);
    }
    for (const lead of leads) {
      const shown = await stack.as.rep.get<Lead>(`/leads/${lead.id}`);
      expectStatus(shown, 200);
      assert.deepEqual(audit.find((a) => a.entity_id === lead.id)!.after, shown.body, 'the audit entry holds the lead as the API shows it, as POST /leads writes it');
    }
  });

  it('takes the file as a multipart upload too, and a manager gives its leads to another rep', async function () {
    const email = uniqueEmail('multi');
    const body = multipart('LeAdS', [{ name: 'file', filename: 'fair.csv', content: csv(row({ email })) }]);
    const reply = await upload(stack.users.manager.token, body, { contentType: 'multipart/form-data; boundary=LeAdS', query: `?ownerId=${stack.users.otherRep.id}` });
    expectStatus(reply, 201);
    assert.equal(reply.body.fileName, 'fair.csv');
    const [lead] = await leadsByEmail([email]);
    assert.equal(lead.owner_id, stack.users.otherRep.id);
    assert.equal(lead.created_by, stack.users.manager.id);
  });

  it('reports each bad row with its line, reason, column and raw text, creates the good rows and nothing for the bad', async function () {
    const good = [uniqueEmail('good'), uniqueEmail('good')];
    const bad = Array.from({ length: 6 }, () => uniqueEmail('bad'));
    const text = csv(
      row({ email: good[0] }), // 2
      row({ last: '', email: bad[0] }), // 3: no last name
      row({ email: 'not-an-email' }), // 4
      row({ type: 'government', email: bad[1] }), // 5
      row({ topic: 'Smart\u0000doorbells', email: bad[2] }), // 6: NUL byte in a cell
      `X1,Doorbells,Abbie,Moss,${bad[3]}`, // 7: too few columns
      row({ email: bad[4], first: 'Bad\uFFFDbyte' }), // 8: not UTF-8 (decoded as U+FFFD)
      row({ email: good[1], first: '"Multi\nline"' }), // 9-10: a quoted newline is fine
      `X2,"Unclosed,Abbie,Moss,${bad[5]},Fabrikam,1,corporate,teal`, // 11: the quote never closes
    );
    const before = await countRows(stack.db, ['leads', 'audit_log']);
    const reply = await upload(stack.users.rep.token, text);
    expectStatus(reply, 201);
    assert.deepEqual([reply.body.rowsRead, reply.body.rowsCreated, reply.body.rowsRejected], [9, 2, 7]);
    assert.deepEqual(reply.body.rows.data.map((r) => [r.line, r.outcome, r.reason, r.columnName]), [
      [3, 'rejected', 'required', 'last_name'],
      [4, 'rejected', 'invalid_email', 'EMAIL'],
      [5, 'rejected', 'invalid_value', 'customerType'],
      [6, 'rejected', 'invalid_text', 'Topic'],
      [7, 'rejected', 'wrong_column_count', null],
      [8, 'rejected', 'invalid_encoding', 'First Name'],
      [11, 'rejected', 'malformed_row', null],
    ]);
    assert.ok(reply.body.rows.data.every((r) => r.raw), 'each bad row keeps its raw text');
    assert.match(reply.body.rows.data[1].raw!, /not-an-email/);
    assert.match(reply.body.rows.data[3].raw!, /^,Smart\uFFFDdoorbells,/, 'the NUL is shown, not stored');
    assert.deepEqual(reply.body.reasons, { required: 1, invalid_email: 1, invalid_value: 1, invalid_text: 1, wrong_column_count: 1, invalid_encoding: 1, malformed_row: 1 });
    assert.equal((await leadsByEmail(bad)).length, 0);
    const created = await leadsByEmail(good);
    assert.equal(created.length, 2);
    assert.ok(created.some((l) => l.first_name === 'Multi\nline'));
    const after = await countRows(stack.db, ['leads', 'audit_log']);
    assert.deepEqual(after, { leads: before.leads + 2, audit_log: before.audit_log + 2 });

    const view = await stack.as.rep.get<LeadImportView>(`/leads/imports/${reply.body.id}?reason=invalid_text`);
    expectStatus(view, 200);
    assert.deepEqual(view.body.rows.data.map((r) => r.line), [6]);
  });

  it('sets aside a row whose email an existing lead or contact has (any case, any spaces), naming the existing record', async function () {
    const leadEmail = uniqueEmail('taken');
    const contactEmail = uniqueEmail('contact');
    const fresh = uniqueEmail('fresh');
    const existing = await createLead(stack.db, stack.users.otherRep.id, { email: leadEmail });
    const contact = await new ContactStore(stack.db).create(
      { firstName: 'Ken', lastName: 'Beraun', email: contactEmail, mobilePhone: null, businessPhone: null, parentAccountId: null, ownerId: stack.users.rep.id },
      { actor: { type: 'user', id: stack.users.rep.id }, userId: stack.users.rep.id },
    );
    const reply = await upload(stack.users.rep.token, csv(row({ email: ` ${leadEmail.toUpperCase()} ` }), row({ email: contactEmail.toUpperCase() }), row({ email: fresh }), row({ email: fresh, first: 'Twice' })));
    expectStatus(reply, 201);
    assert.deepEqual([reply.body.rowsCreated, reply.body.rowsDuplicate, reply.body.rowsRejected], [1, 3, 0]);
    assert.deepEqual(reply.body.rows.data.map((r) => [r.line, r.outcome, r.reason, r.email, r.existingLeadId, r.existingContactId]), [
      [2, 'duplicate', 'duplicate_email', leadEmail.toUpperCase(), existing.id, null],
      [3, 'duplicate', 'duplicate_email', contactEmail.toUpperCase(), null, contact.id],
      [5, 'duplicate', 'duplicate_key', fresh, null, null],
    ]);
    assert.equal(await stack.db('leads').whereRaw('lower(email) = ?', [leadEmail]).count({ n: '*' }).then((r) => Number(r[0].n)), 1, 'no second lead with the email');
    assert.equal((await leadsByEmail([contactEmail.toUpperCase()])).length, 0);
    assert.equal((await leadsByEmail([fresh])).length, 1);
  });

  it('creates nothing when the same file is imported again, also for rows with neither external id nor email', async function () {
    const lines = [row({ id: 'CRM-1' }), row({ id: 'CRM-2' }), `,Alarm panels,Dana,Noemail,,Contoso,555-0100,consumer,red`];
    const text = csv(...lines);
    const first = await upload(stack.users.rep.token, text);
    expectStatus(first, 201);
    assert.equal(first.body.rowsCreated, 3);
    assert.equal(first.body.keyColumn, 'External ID');
    const before = await countRows(stack.db, WATCHED);
    const again = await upload(stack.users.manager.token, text);
    expectStatus(again, 201);
    assert.deepEqual([again.body.rowsCreated, again.body.rowsAlreadyImported, again.body.rowsDuplicate, again.body.rowsRejected], [0, 3, 0, 0]);
    assert.deepEqual(again.body.rows.data.map((r) => [r.line, r.outcome]), [[2, 'already_imported'], [3, 'already_imported'], [4, 'already_imported']]);
    const ids = await stack.db('lead_import_keys').where({ import_id: first.body.id }).orderBy('line').pluck('lead_id');
    assert.deepEqual(again.body.rows.data.map((r) => r.existingLeadId), ids);
    const after = await countRows(stack.db, WATCHED);
    assert.equal(after.leads, before.leads, 'not one lead created');
    assert.equal(after.audit_log, before.audit_log);
  });

  it('refuses hostile bodies with 4xx problems, writes nothing and keeps serving', async function () {
    const before = await countRows(stack.db, WATCHED);
    const token = stack.users.manager.token;
    const expectProblem = (reply: Reply<unknown>, status: number, code: string, field?: string) => {
      expectStatus(reply, status, code);
      assert.match(reply.headers.get('content-type') ?? '', /application\/problem\+json/);
      if (field) assert.equal((reply.body as Problem).field, field);
    };
    // 50 MB, beyond the 20 MiB limit: refused as it streams, before anything is committed.
    const huge = Buffer.alloc(50 * 1024 * 1024, 'a');
    Buffer.from(`${HEADER}\n`).copy(huge);
    huge.fill(`${row()}\n`, HEADER.length + 1);
    expectProblem(await upload(token, huge), 413, 'file_too_large', 'file');
    // Without a Content-Length only the count as it streams can stop it (few, long rows: cheap to reject until then).
    const lines = Buffer.alloc(50 * 1024 * 1024, `${'y'.repeat(10_000)}\n`);
    Buffer.from(`${HEADER}\n`).copy(lines);
    const chunked = await sendChunked(token, lines);
    assert.equal(chunked.status, 413, chunked.body);
    assert.equal(JSON.parse(chunked.body).code, 'file_too_large');
    expectProblem(await upload(token, multipart('BiG', [{ name: 'file', filename: 'big.csv', content: huge }]), { contentType: 'multipart/form-data; boundary=BiG' }), 413, 'file_too_large', 'file');
    // Not CSV.
    expectProblem(await upload(token, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52])), 400, 'validation_failed', 'file');
    expectProblem(await upload(token, '{"topic":"Doorbells","lastName":"Moss","customerType":"corporate"}'), 400, 'validation_failed', 'file');
    expectProblem(await upload(token, Buffer.from('\uFEFFtopic,lastName,customerType\nDoorbells,Moss,corporate\n', 'utf16le')), 400, 'validation_failed', 'file');
    expectProblem(await upload(token, ''), 400, 'validation_failed', 'file');
    expectProblem(await upload(token, '{"topic":"Doorbells"}', { contentType: 'application/json' }), 415, 'unsupported_media_type');
    expectProblem(await upload(token, csv(row()), { contentType: 'text/csv; charset=latin1' }), 415, 'unsupported_charset');
    expectProblem(await apiRequest(stack.url, 'POST', '/leads/imports', { headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'text/csv', 'Content-Encoding': 'gzip' }, body: csv(row()) }), 415, 'unsupported_encoding');
    // Broken multipart: no boundary, no closing boundary, two files, no file.
    expectProblem(await upload(token, 'x', { contentType: 'multipart/form-data' }), 400, 'malformed_multipart', 'body');
    expectProblem(await upload(token, multipart('XyZ', [{ name: 'file', filename: 'a.csv', content: csv(row()) }], false), { contentType: 'multipart/form-data; boundary=XyZ' }), 400, 'malformed_multipart', 'body');
    const two = multipart('TwO', [{ name: 'file', filename: 'a.csv', content: csv(row()) }, { name: 'file2', filename: 'b.csv', content: csv(row()) }]);
    expectProblem(await upload(token, two, { contentType: 'multipart/form-data; boundary=TwO' }), 400, 'validation_failed', 'body');
    expectProblem(await upload(token, '--NoF--\r\n', { contentType: 'multipart/form-data; boundary=NoF' }), 400, 'validation_failed', 'body');

    assert.deepEqual(await countRows(stack.db, WATCHED), before, 'nothing written');
    expectStatus(await stack.as.rep.get('/leads?limit=1'), 200);
    expectStatus(await upload(token, csv(row())), 201);
  });

  it('a client that stops mid-upload leaves nothing imported and no transaction open', async function () {
    const before = await countRows(stack.db, WATCHED);
    const text = csv(...Array.from({ length: 2000 }, () => row()));
    const cut = (head: string, body: Buffer) => new Promise<void>((resolve, reject) => {
      const socket = net.connect(Number(new URL(stack.url).port), '127.0.0.1', () => {
        socket.write(Buffer.concat([Buffer.from(head), body.subarray(0, Math.floor(body.length / 2))]));
        setTimeout(() => socket.destroy(), 300);
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    const auth = `Authorization: Bearer ${stack.users.manager.token}\r\n`;
    await cut(`POST /leads/imports HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: text/csv\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n`, Buffer.from(text));
    const form = multipart('AbC', [{ name: 'file', filename: 'leads.csv', content: text }]);
    await cut(`POST /leads/imports HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: multipart/form-data; boundary=AbC\r\nContent-Length: ${form.length}\r\n\r\n`, form);
    await eventually(async () => {
      const open = await stack.db.raw("select count(*)::int as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and (state like 'idle in transaction%' or query ilike 'copy lead_import_stage%' and state <> 'idle')");
      return open.rows[0].n === 0;
    }, 'no import transaction left open');
    assert.deepEqual(await countRows(stack.db, WATCHED), before);
    expectStatus(await upload(stack.users.manager.token, csv(row())), 201);
  });

  it('lets only a manager or an admin name another owner: a rep is refused for the file, and for a row', async function () {
    const before = await countRows(stack.db, WATCHED);
    const refused = await upload<Problem>(stack.users.rep.token, csv(row()), { query: `?ownerId=${stack.users.otherRep.id}` });
    expectStatus(refused, 403, 'owner_reassign_forbidden');
    expectStatus(await upload<Problem>(stack.users.tech_consultant.token, csv(row())), 403, 'forbidden');
    expectStatus(await upload<Problem>(stack.users.manager.token, csv(row()), { query: '?ownerId=00000000-0000-4000-8000-000000000000' }), 400, 'validation_failed');
    assert.deepEqual(await countRows(stack.db, WATCHED), before);

    const header = 'topic,lastName,customerType,email,Owner';
    const mine = uniqueEmail('mine');
    const theirs = uniqueEmail('theirs');
    const text = `${header}\nDoorbells,Moss,corporate,${mine},${stack.users.rep.id}\nDoorbells,Moss,corporate,${theirs},${stack.users.otherRep.id}\n`;
    const byRep = await upload(stack.users.rep.token, text);
    expectStatus(byRep, 201);
    assert.deepEqual(byRep.body.rows.data.map((r) => [r.line, r.reason, r.columnName]), [[3, 'owner_reassign_forbidden', 'Owner']]);
    assert.equal((await leadsByEmail([theirs])).length, 0);
    const byManager = await upload(stack.users.manager.token, text);
    expectStatus(byManager, 201);
    assert.equal(byManager.body.rowsCreated, 1);
    assert.equal((await leadsByEmail([theirs]))[0].owner_id, stack.users.otherRep.id);

    expectStatus(await stack.as.otherRep.get(`/leads/imports/${byRep.body.id}`), 403, 'not_owner');
    expectStatus(await stack.as.manager.get(`/leads/imports/${byRep.body.id}`), 200);
  });

  it('enrolls every lead it creates in the sequence named, in the background, and reports who was refused and why', async function () {
    const emails = [uniqueEmail('seq-a'), uniqueEmail('seq-b'), uniqueEmail('seq-c')];
    const reply = await upload<LeadImportPosted>(stack.users.rep.token, csv(row({ email: emails[0] }), row({ email: emails[1] }), row({ email: emails[2], type: 'consumer' })), { query: `?sequenceId=${DEFAULT_SEQUENCE_ID}` });
    expectStatus(reply, 201);
    assert.equal(reply.body.rowsCreated, 3);
    assert.equal(reply.body.enrollment?.sequenceVersion, 1);
    const progress = await eventually(async () => {
      const p = await apiRequest<{ done: boolean; enrolled: number; refused: Record<string, number> }>(stack.url, 'GET', `/leads/imports/${reply.body.id}/enrollment`, { headers: { Authorization: `Bearer ${stack.users.rep.token}` } });
      return p.body.done ? p.body : null;
    }, 'the enrollment of the import');
    assert.equal(progress.enrolled, 2);
    assert.deepEqual(progress.refused, { not_corporate: 1 });
    const leads = await leadsByEmail(emails.slice(0, 2));
    for (const lead of leads) {
      const state = await apiRequest<{ sequenceId: string; sequenceVersion: number }>(stack.url, 'GET', `/leads/${lead.id}/nurture`, { headers: { Authorization: `Bearer ${stack.users.rep.token}` } });
      assert.equal(state.status, 200);
      assert.equal(state.body.sequenceId, DEFAULT_SEQUENCE_ID);
    }
    const archivedSequence = await apiRequest<{ id: string }>(stack.url, 'POST', '/sequences', { headers: { Authorization: `Bearer ${stack.users.manager.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Gone' }) });
    const refused = await upload<Problem>(stack.users.rep.token, csv(row()), { query: `?sequenceId=${archivedSequence.body.id}` });
    expectStatus(refused, 409, 'sequence_not_published');
  });

  it('npm run leads:import imports a file the same way, and a second run creates nothing', async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'leads-import-'));
    const file = path.join(dir, 'leads.csv');
    const emails = [uniqueEmail('cli'), uniqueEmail('cli')];
    fs.writeFileSync(file, csv(row({ email: emails[0] }), row({ email: emails[1] }), row({ email: 'broken' })));
    const run = () => promisify(execFile)('npm', ['run', '--silent', 'leads:import', '--', '--file', file, '--owner', stack.users.rep.id], {
      cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: stack.database.url },
    }).then((r) => ({ code: 0, stdout: r.stdout }), (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }));
    const first = await run();
    assert.equal(first.code, 1, 'a rejected row makes the exit code 1');
    assert.match(first.stdout, /created 2 .* rejected 1/);
    assert.match(first.stdout, /line 4: invalid_email \(EMAIL\)/);
    const leads = await leadsByEmail(emails);
    assert.deepEqual(leads.map((l) => l.owner_id), [stack.users.rep.id, stack.users.rep.id]);
    const audit = await stack.db('audit_log').whereIn('entity_id', leads.map((l) => l.id)).select('action', 'actor_type');
    assert.deepEqual(audit.map((a) => [a.action, a.actor_type]), [['lead.created', 'system'], ['lead.created', 'system']]);
    const second = await run();
    assert.match(second.stdout, /created 0 · already imported 2/);
    assert.equal((await leadsByEmail(emails)).length, 2);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

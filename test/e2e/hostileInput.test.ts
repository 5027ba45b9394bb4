/**
 * Nothing a client sends can take the API down or leave something half done. The API runs as its
 * own process, as `npm run api` runs it (with the process guard it installs), against a real worker,
 * the Temporal dev server and Postgres. Each hostile request gets a 4xx problem+json naming what is
 * wrong and changes nothing; afterwards /health answers 200 from the same process.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { assertResponseMatchesContract } from '../helpers/contract';
import { countRows } from '../helpers/db';
import { productId, qualifiedDeal } from '../helpers/deals';
import { startStack, type TestStack } from '../helpers/stack';
import { testEnv } from '../helpers/env';
import { alive, startApiProcess, type ApiProcess } from '../helpers/fuzz';
import type { DealUpdated, Imported, Lead, Problem } from '../helpers/apiTypes';
import { apiRequest } from '../helpers/http';
import { eventually } from '../helpers/temporal';

const CONTACTS = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'customers-sample', 'contacts.csv'), 'utf8').split('\n').slice(0, 6).join('\n') + '\n';
const WATCHED = ['leads', 'deals', 'deal_lines', 'audit_log', 'customer_source_records', 'customer_import_rejects', 'activities'];

/** Sends raw bytes and reads the raw answer: the request line and headers are ours to break. */
function rawRequest(url: string, request: string | Buffer, options: { closeAfterMs?: number } = {}): Promise<{ status: number; headers: string; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(request);
      if (options.closeAfterMs !== undefined) setTimeout(() => socket.destroy(), options.closeAfterMs);
    });
    let data = '';
    socket.on('data', (chunk) => (data += chunk.toString('utf8')));
    socket.on('error', (error) => (options.closeAfterMs !== undefined ? resolve({ status: 0, headers: '', body: '' }) : reject(error)));
    socket.on('close', () => {
      const [head, ...rest] = data.split('\r\n\r\n');
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), headers: head, body: rest.join('\r\n\r\n') });
    });
  });
}

function multipart(boundary: string, parts: Array<{ name: string; filename: string; content: Buffer | string }>, close = true): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: text/csv\r\n\r\n`));
    chunks.push(Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content));
    chunks.push(Buffer.from('\r\n'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

describe('hostile input against the API process (dev server, real worker, Postgres)', function () {
  this.timeout(180_000);
  let stack: TestStack;
  let api: ApiProcess;
  let rep: string;
  let manager: string;
  let dealId: string;
  let rowsBefore: Record<string, number>;

  before(async function () {
    stack = await startStack({ server: 'dev' });
    api = await startApiProcess(stack, path.join(testEnv.dataDir, `hostile-api-${process.pid}.log`));
    rep = stack.users.rep.token;
    manager = stack.users.manager.token;
    dealId = await qualifiedDeal(stack);
    rowsBefore = await countRows(stack.db, WATCHED);
  });

  after(async function () {
    await api?.stop();
    await stack?.teardown();
  });

  async function send<T = unknown>(method: string, url: string, init: { token?: string; headers?: Record<string, string>; body?: RequestInit["body"] } = {}) {
    const reply = await apiRequest<T>(api.url, method, url, {
      headers: { ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}), ...init.headers },
      body: init.body,
    });
    return { status: reply.status, type: reply.headers.get('content-type') ?? '', body: reply.body };
  }

  function assertProblem(reply: { status: number; type: string; body: unknown }, status: number, code: string, field?: string): void {
    assert.equal(reply.status, status, JSON.stringify(reply.body));
    assert.match(reply.type, /application\/problem\+json/);
    assert.equal((reply.body as Problem).code, code);
    if (field) assert.equal((reply.body as Problem).field, field);
  }

  const lead = JSON.stringify({ topic: 'Smart doorbells', lastName: 'Moss', customerType: 'corporate' });

  it('a JSON body in another charset is 415 unsupported_charset', async function () {
    assertProblem(await send('POST', '/leads', { token: rep, headers: { 'Content-Type': 'application/json; charset=latin1' }, body: lead }), 415, 'unsupported_charset', 'body');
  });

  it('a plain body that claims gzip, deflate or br is 400 malformed_body; an unknown encoding is 415', async function () {
    for (const encoding of ['gzip', 'deflate', 'br']) {
      assertProblem(await send('POST', '/leads', { token: rep, headers: { 'Content-Type': 'application/json', 'Content-Encoding': encoding }, body: lead }), 400, 'malformed_body', 'body');
    }
    assertProblem(await send('POST', '/leads', { token: rep, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'compress' }, body: lead }), 415, 'unsupported_encoding', 'body');
    // A real gzip body is fine.
    const gzipped = await send<Lead>('POST', '/leads', { token: rep, headers: { 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' }, body: zlib.gzipSync(lead) });
    assert.equal(gzipped.status, 201);
    await stack.db('leads').where({ id: gzipped.body.id }).delete();
    await stack.db('audit_log').where({ entity_id: gzipped.body.id }).delete();
  });

  it('a body that is not JSON on a JSON route is 415; broken JSON is 400 malformed_json', async function () {
    assertProblem(await send('POST', '/leads', { token: rep, headers: { 'Content-Type': 'text/plain' }, body: lead }), 415, 'unsupported_media_type', 'body');
    assertProblem(await send('POST', '/leads', { token: rep, headers: { 'Content-Type': 'application/json' }, body: '{"topic": ' }), 400, 'malformed_json', 'body');
  });

  it('a NUL or an unpaired surrogate in any text is 400 invalid_text naming the field, in bodies and queries', async function () {
    const json = { 'Content-Type': 'application/json' };
    assertProblem(await send('POST', '/leads', { token: rep, headers: json, body: '{"topic":"Smart\\u0000doorbells","lastName":"Moss","customerType":"corporate"}' }), 400, 'invalid_text', 'topic');
    assertProblem(await send('POST', '/leads', { token: rep, headers: json, body: '{"topic":"Door\\ud800bells","lastName":"Moss","customerType":"corporate"}' }), 400, 'invalid_text', 'topic');
    assertProblem(await send('PATCH', `/deals/${dealId}`, { token: rep, headers: json, body: '{"name":"Doorbells\\u0000"}' }), 400, 'invalid_text', 'name');
    assertProblem(await send('POST', `/deals/${dealId}/close`, { token: rep, headers: json, body: '{"outcome":"lost","reason":"price\\u0000"}' }), 400, 'invalid_text', 'reason');
    assertProblem(await send('GET', '/contacts?q=%00', { token: rep }), 400, 'invalid_text', 'q');
    assertProblem(await send('GET', '/customers?q=Smart%00doorbells', { token: rep }), 400, 'invalid_text', 'q');
    // The deal is not wedged: the next valid change goes through.
    assert.equal((await send('PATCH', `/deals/${dealId}`, { token: rep, headers: json, body: '{"name":"Doorbells for 40 offices"}' })).status, 200);
  });

  it('money beyond the stated bounds is 400 naming the field, and the deal stays healthy', async function () {
    const json = { 'Content-Type': 'application/json' };
    const product = await productId(stack.db, 'DB-100');
    const huge = await send('POST', `/deals/${dealId}/lines`, { token: rep, headers: json, body: JSON.stringify({ productId: product, quantity: 1_000_000, unitPriceCents: 9007199254740991 }) });
    assertProblem(huge, 400, 'validation_failed', 'unitPriceCents');
    const overLine = await send<Problem>('POST', `/deals/${dealId}/lines`, { token: rep, headers: json, body: JSON.stringify({ productId: product, quantity: 1_000_000, unitPriceCents: 10_000_000_000 }) });
    assertProblem(overLine, 400, 'validation_failed', 'quantity');
    assert.equal(overLine.body.errors![0].code, 'line_too_large');
    const added = await send<DealUpdated>('POST', `/deals/${dealId}/lines`, { token: rep, headers: json, body: JSON.stringify({ productId: product, quantity: 2 }) });
    assert.equal(added.status, 201);
    await send('DELETE', `/deals/${dealId}/lines/${added.body.createdId}`, { token: rep });
  });

  it('headers larger than the limit are 431 problem+json; a malformed request line is 400 problem+json', async function () {
    const big = await rawRequest(api.url, `GET /leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${rep}\r\nX-Filler: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(big.status, 431);
    assert.match(big.headers, /Content-Type: application\/problem\+json/i);
    assert.equal(JSON.parse(big.body).code, 'headers_too_large');
    await assertResponseMatchesContract(api.url, 'GET', '/leads', big.status, 'application/problem+json', big.body);
    const broken = await rawRequest(api.url, 'THIS IS NOT HTTP\r\n\r\n');
    assert.equal(broken.status, 400);
    assert.equal(JSON.parse(broken.body).code, 'malformed_request');
  });

  it('a multipart upload without a boundary is 400 malformed_multipart', async function () {
    assertProblem(await send('POST', '/imports?unify=false', { token: manager, headers: { 'Content-Type': 'multipart/form-data' }, body: 'x' }), 400, 'malformed_multipart', 'body');
  });

  it('a multipart upload whose closing boundary never comes is 400 malformed_multipart; its import ends failed, nothing loaded', async function () {
    const body = multipart('XyZ', [{ name: 'contacts', filename: 'contacts.csv', content: CONTACTS }], false);
    const reply = await send('POST', '/imports?unify=false', { token: manager, headers: { 'Content-Type': 'multipart/form-data; boundary=XyZ' }, body });
    assertProblem(reply, 400, 'malformed_multipart', 'body');
    const imports = await stack.db('customer_imports').select('status', 'error');
    assert.ok(imports.length >= 1);
    for (const row of imports) {
      assert.equal(row.status, 'failed');
      assert.match(row.error, /malformed_multipart/);
    }
  });

  it('a client that stops mid-upload leaves no import loading and no transaction open', async function () {
    const body = multipart('AbC', [{ name: 'contacts', filename: 'contacts.csv', content: CONTACTS.repeat(50) }]);
    const head = `POST /imports?unify=false HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${manager}\r\nContent-Type: multipart/form-data; boundary=AbC\r\nContent-Length: ${body.length}\r\n\r\n`;
    await rawRequest(api.url, Buffer.concat([Buffer.from(head), body.subarray(0, Math.floor(body.length / 2))]), { closeAfterMs: 300 });
    await eventually(async () => (await stack.db('customer_imports').where({ status: 'loading' }).first()) === undefined, 'no import left loading');
    const copies = await stack.db.raw("select count(*)::int as n from pg_stat_activity where query ilike 'copy customer_import_stage%' and state <> 'idle'");
    assert.equal(copies.rows[0].n, 0, 'no COPY left running');
  });

  it('a UTF-16 or binary file is imported with its rows rejected as invalid_encoding, not an error', async function () {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(CONTACTS, 'utf16le')]);
    const garbage = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256));
    for (const content of [utf16, garbage]) {
      const body = multipart('QwE', [{ name: 'contacts', filename: 'contacts.csv', content }]);
      const reply = await send<Imported>('POST', '/imports?unify=false', { token: manager, headers: { 'Content-Type': 'multipart/form-data; boundary=QwE' }, body });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.equal(reply.body.rowsLoaded, 0);
      const reasons = await stack.db('customer_import_rejects').where({ import_id: reply.body.id }).distinct('reason').pluck('reason');
      assert.ok(reasons.length > 0 && reasons.every((r: string) => ['invalid_encoding', 'malformed_row', 'wrong_column_count'].includes(r)), `reasons: ${reasons}`);
      await stack.db('customer_import_rejects').where({ import_id: reply.body.id }).delete();
    }
  });

  it('after all of it the same process answers /health 200, and nothing was written by a refused request', async function () {
    assert.ok(alive(api.child), 'the API process is still the one we started');
    const health = await fetch(`${api.url}/health`);
    assert.equal(health.status, 200);
    const after = await countRows(stack.db, WATCHED);
    assert.deepEqual({ ...after, audit_log: undefined }, { ...rowsBefore, audit_log: undefined });
  });
});

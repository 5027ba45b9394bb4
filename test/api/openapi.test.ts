/**
 * The OpenAPI 3.1 document is valid, describes every route the API serves with its roles and
 * problem responses, and the docs page renders it.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { assertResponseMatchesContract } from '../helpers/contract';
import { client, startTestApi, type TestApi } from '../helpers/http';
import { devServerEnv, uniqueTaskQueue } from '../helpers/temporal';

/** The parts of the OpenAPI document these tests read. */
interface DocOperation {
  parameters?: { name: string }[];
  security?: unknown[];
  requestBody?: { content: Record<string, { schema: { required?: string[]; additionalProperties?: boolean; properties?: Record<string, unknown> } }> };
  responses: Record<string, { description: string; content?: Record<string, { schema: unknown }> }>;
}
// A type, not an interface: the validator takes it as a Record<string, unknown>.
type OpenApiDoc = {
  openapi: string;
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, DocOperation>>;
};

describe('OpenAPI document and docs page', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let api: TestApi;
  let doc: OpenApiDoc;

  before(async function () {
    [env, database] = await Promise.all([devServerEnv(), createTestDatabase()]);
    api = await startTestApi(database.db, env.client, uniqueTaskQueue('docs'));
    doc = (await client(api.url).get<OpenApiDoc>('/openapi.json')).body;
  });

  after(async function () {
    await api?.close();
    await env?.teardown();
    await database?.drop();
  });

  it('is a valid OpenAPI 3.1 document', async function () {
    assert.equal(doc.openapi, '3.1.0');
    // ESM-only package: loaded dynamically from this CommonJS test.
    const { Validator } = await import('@seriousme/openapi-schema-validator');
    const result = await new Validator().validate(doc);
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
  });

  it('documents the lead, nurture, timeline and health routes', function () {
    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    for (const expected of [
      'POST /leads', 'GET /leads', 'GET /leads/{id}', 'PATCH /leads/{id}', 'POST /leads/{id}/disqualify', 'GET /leads/{id}/timeline',
      'POST /leads/{id}/nurture', 'GET /leads/{id}/nurture', 'POST /leads/{id}/nurture/stop', 'POST /leads/{id}/nurture/pause',
      'POST /leads/{id}/nurture/resume', 'POST /activities', 'PATCH /activities/{id}', 'GET /health',
    ]) {
      assert.ok(operations.includes(expected), `${expected} is documented`);
    }
  });

  it('describes request bodies from the validating schemas, errors as problem+json, and auth', function () {
    const createLead = doc.paths['/leads'].post;
    const body = createLead.requestBody!.content['application/json'].schema;
    assert.deepEqual([...body.required!].sort(), ['customerType', 'lastName', 'topic']);
    assert.equal(body.additionalProperties, false);
    assert.ok(createLead.responses['400'].content!['application/problem+json']);
    assert.ok(createLead.responses['401']);
    assert.ok(createLead.responses['403']);
    assert.ok(doc.paths['/leads/{id}/nurture'].post.parameters!.some((p) => p.name === 'Idempotency-Key'));
    assert.deepEqual(doc.paths['/health'].get.security, []);
    assert.ok(doc.paths['/imports'].post.requestBody!.content['multipart/form-data'].schema.properties!.contacts, 'the upload names its file parts');
  });

  it('documents a problem for every error any operation may answer, and lets response objects grow', function () {
    assert.match(doc.info.description, /clients must ignore fields they do not know/);
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const where = `${method.toUpperCase()} ${path}`;
        const statuses = ['500', '503', ...(operation.requestBody ? ['400', '413', '415'] : []), ...(path.includes('{') ? ['404'] : [])];
        for (const status of statuses) assert.ok(operation.responses[status]?.content, `${where} documents ${status}`);
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400 && !(path === '/health' && status === '503')) {
            assert.deepEqual(response.content, { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } }, `${where} ${status} is a problem`);
          }
          const schema = JSON.stringify(response.content?.['application/json']?.schema ?? {});
          assert.ok(!schema.includes('"additionalProperties":false'), `${where} ${status}: a response object does not forbid new fields`);
        }
      }
    }
  });

  it('fails a test whose response has an undocumented field, status or content type', async function () {
    const withId = { id: '6b0c5b1e-2f43-4a8e-9d5c-0a1b2c3d4e5f', status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } };
    const check = (status: number, contentType: string, body: unknown) =>
      assertResponseMatchesContract(api.url, 'GET', '/health', status, contentType, typeof body === 'string' ? body : JSON.stringify(body));
    await check(200, 'application/json; charset=utf-8', { status: 'ok', checks: { postgres: 'ok', temporal: 'ok' } });
    await assert.rejects(check(200, 'application/json', withId), /GET \/health \(getHealth\) answered 200: .*\n.* at \/ .*'id' \(not documented\)/);
    await assert.rejects(check(200, 'application/json', { status: 'ok', checks: { postgres: 'ok', temporal: 'ok', mail: 'ok' } }), /at \/checks .*'mail' \(not documented\)/);
    await assert.rejects(check(200, 'application/json', { status: 'fine', checks: { postgres: 'ok', temporal: 'ok' } }), /at \/status .*must be equal to one of the allowed values/);
    await assert.rejects(check(202, 'application/json', {}), /status 202 is not documented/);
    await assert.rejects(check(200, 'text/plain', 'ok'), /content type text\/plain is not documented/);
    await assert.rejects(check(500, 'application/problem+json', { code: 'internal_error' }), /at \/ .*must have required property 'type'/);
    await assert.rejects(
      assertResponseMatchesContract(api.url, 'GET', '/no-such-route', 200, 'application/json', '{}'),
      /no documented operation matches/,
    );
    const unknownRoute = await client(api.url).get('/no-such-route');
    assert.equal(unknownRoute.status, 401, 'an unknown route is behind the token too: a problem, which the check accepts');
  });

  it('serves a docs page', async function () {
    const reply = await client(api.url).get('/docs/');
    assert.equal(reply.status, 200);
    assert.match(String(reply.body), /swagger-ui/i);
  });
});

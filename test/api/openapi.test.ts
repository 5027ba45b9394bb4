/**
 * The OpenAPI 3.1 document is valid, describes every route the API serves with its roles and
 * problem responses, and the docs page renders it.
 */
import assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { client, startTestApi, type TestApi } from '../helpers/http';
import { devServerEnv, uniqueTaskQueue } from '../helpers/temporal';

describe('OpenAPI document and docs page', function () {
  let env: TestWorkflowEnvironment;
  let database: TestDatabase;
  let api: TestApi;
  let doc: any;

  before(async function () {
    [env, database] = await Promise.all([devServerEnv(), createTestDatabase()]);
    api = await startTestApi(database.db, env.client, uniqueTaskQueue('docs'));
    doc = (await client(api.url).get('/openapi.json')).body;
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
    const body = createLead.requestBody.content['application/json'].schema;
    assert.deepEqual([...body.required].sort(), ['customerType', 'lastName', 'topic']);
    assert.equal(body.additionalProperties, false);
    assert.ok(createLead.responses['400'].content['application/problem+json']);
    assert.ok(createLead.responses['401']);
    assert.ok(createLead.responses['403']);
    assert.ok(doc.paths['/leads/{id}/nurture'].post.parameters.some((p: { name: string }) => p.name === 'Idempotency-Key'));
    assert.deepEqual(doc.paths['/health'].get.security, []);
    assert.ok(doc.paths['/imports'].post.requestBody.content['multipart/form-data'].schema.properties.contacts, 'the upload names its file parts');
  });

  it('serves a docs page', async function () {
    const reply = await client(api.url).get('/docs/');
    assert.equal(reply.status, 200);
    assert.match(String(reply.body), /swagger-ui/i);
  });
});

/**
 * Every API response a test receives is checked against what the app's own /openapi.json promises
 * for that operation and status: the status is documented, the content type is documented, and the
 * body validates. The check is stricter than the published document: an object schema that does not
 * say otherwise gets `additionalProperties: false` here, so a field the API returns but does not
 * document fails the test that received it (the published document lets responses grow; clients
 * must tolerate new fields, but every field we send must be written down).
 */
import { AssertionError } from 'node:assert';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

type Json = Record<string, unknown>;

interface Operation {
  method: string;
  template: string;
  segments: string[];
  operationId: string;
  responses: Record<string, { content?: Record<string, { schema?: Json }> }>;
}

interface Contract {
  operations: Operation[];
  /** The Problem schema, for paths that name no operation. */
  problem: ValidateFunction;
  /** One compiled validator per operation, status and media type, made when first needed. */
  validator(operation: Operation, status: string, mediaType: string): ValidateFunction | null;
}

/** Paths the app serves that are not API operations (the document itself and its viewer). */
const NOT_OPERATIONS = [/^\/openapi\.json$/, /^\/docs(\/.*)?$/];
const COMPONENTS_ID = 'urn:contoso:openapi:components';

const contracts = new Map<string, Promise<Contract>>();

/** Throws an AssertionError naming the operation, status and JSON pointer when a response breaks the contract. */
export async function assertResponseMatchesContract(baseUrl: string, method: string, url: string, status: number, contentType: string | null, text: string): Promise<void> {
  const path = new URL(url, baseUrl).pathname;
  if (NOT_OPERATIONS.some((re) => re.test(path))) return;
  const contract = await contractOf(baseUrl);
  const operation = findOperation(contract.operations, method.toLowerCase(), path);
  const where = operation ? `${method.toUpperCase()} ${operation.template} (${operation.operationId})` : `${method.toUpperCase()} ${path}`;
  const fail: (message: string) => never = (message) => {
    throw new AssertionError({ message: `contract: ${where} answered ${status}: ${message}\n  body: ${text.slice(0, 500)}` });
  };

  if (!operation) {
    // No such operation: the app's 404 for unknown routes (401 first without a token), still a problem.
    if (status !== 404 && status !== 401) fail('no documented operation matches this method and path');
    if (!/^application\/problem\+json/.test(contentType ?? '')) fail(`expected application/problem+json, got ${contentType}`);
    if (!contract.problem(JSON.parse(text))) fail(`the body is not a Problem:\n${describeErrors(contract.problem.errors ?? [])}`);
    return;
  }
  const statusKey = [String(status), `${String(status)[0]}XX`, 'default'].find((s) => operation.responses[s]);
  if (!statusKey) fail(`status ${status} is not documented (documented: ${Object.keys(operation.responses).join(', ')})`);
  const documented = operation.responses[statusKey].content ?? {};
  const mediaType = contentType?.split(';')[0].trim().toLowerCase() ?? null;
  if (text === '') {
    if (Object.keys(documented).length > 0) fail(`the body is empty, but the document promises ${Object.keys(documented).join(' or ')}`);
    return;
  }
  if (!mediaType || !documented[mediaType]) fail(`content type ${mediaType ?? '(none)'} is not documented (documented: ${Object.keys(documented).join(', ') || 'no body'})`);
  if (!/[/+]json$/.test(mediaType)) return;
  const validate = contract.validator(operation, statusKey, mediaType);
  if (!validate) return;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`the body is not valid JSON although the content type is ${mediaType}`);
  }
  if (!validate(body)) fail(`the body does not match the documented schema:\n${describeErrors(validate.errors ?? [])}`);
}

function describeErrors(errors: ErrorObject[]): string {
  return errors
    .slice(0, 10)
    .map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` '${(e.params as { additionalProperty: string }).additionalProperty}' (not documented)`
        : e.keyword === 'unevaluatedProperties' ? ` '${(e.params as { unevaluatedProperty: string }).unevaluatedProperty}' (not documented)`
        : e.keyword === 'enum' ? ` ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`
        : '';
      return `  at ${e.instancePath || '/'} (schema ${e.schemaPath}): ${e.message}${extra}`;
    })
    .join('\n');
}

function contractOf(baseUrl: string): Promise<Contract> {
  let contract = contracts.get(baseUrl);
  if (!contract) {
    contract = loadContract(baseUrl);
    contracts.set(baseUrl, contract);
    // A failed fetch (server not up yet) is not remembered.
    contract.catch(() => contracts.delete(baseUrl));
  }
  return contract;
}

async function loadContract(baseUrl: string): Promise<Contract> {
  const response = await fetch(`${baseUrl}/openapi.json`);
  const doc = (await response.json().catch(() => null)) as { openapi?: string; paths?: Record<string, Record<string, Json>>; components?: { schemas?: Json } } | null;
  if (!response.ok || !doc?.openapi || !doc.paths) {
    throw new Error(`${baseUrl} serves no OpenAPI document at /openapi.json (${response.status}); the test client speaks only to the API`);
  }
  const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true, validateFormats: true });
  addFormats(ajv);
  // OpenAPI's own annotation keywords inside schemas.
  for (const keyword of ['example', 'discriminator', 'xml', 'externalDocs']) ajv.addKeyword(keyword);
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: strict(retarget(doc.components?.schemas ?? {})) });

  const operations: Operation[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      operations.push({ method, template, segments: template.split('/').slice(1), operationId: String(op.operationId), responses: (op.responses ?? {}) as Operation['responses'] });
    }
  }
  const compiled = new Map<string, ValidateFunction | null>();
  return {
    operations,
    problem: ajv.compile({ $ref: `${COMPONENTS_ID}#/$defs/Problem` }),
    validator(operation, status, mediaType) {
      const key = `${operation.method} ${operation.template} ${status} ${mediaType}`;
      if (!compiled.has(key)) {
        const schema = operation.responses[status]?.content?.[mediaType]?.schema;
        compiled.set(key, schema ? ajv.compile(strict(retarget(schema)) as Json) : null);
      }
      return compiled.get(key)!;
    },
  };
}

/** The most specific template wins: `/customers/export` before `/customers/{id}`. */
function findOperation(operations: Operation[], method: string, path: string): Operation | undefined {
  const parts = path.split('/').slice(1).map((part) => {
    try {
      return decodeURIComponent(part);
    } catch {
      return part; // a malformed escape names no literal segment
    }
  });
  const matches = operations.filter((op) => op.method === method && op.segments.length === parts.length
    && op.segments.every((s, i) => /^\{.+\}$/.test(s) ? parts[i] !== '' : s === parts[i]));
  const literals = (op: Operation) => op.segments.map((s) => (/^\{.+\}$/.test(s) ? '0' : '1')).join('');
  return matches.sort((a, b) => literals(b).localeCompare(literals(a)))[0];
}

/** Points the document's component references at the components schema registered with Ajv. */
function retarget(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(retarget);
  if (!schema || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    out[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/components/schemas/')
      ? `${COMPONENTS_ID}#/$defs/${value.slice('#/components/schemas/'.length)}`
      : retarget(value);
  }
  return out;
}

/**
 * Forbids undocumented members in every object schema that does not decide for itself. Members of
 * an allOf are left open (each sees only its own properties); their parent closes the whole with
 * unevaluatedProperties instead.
 */
const VALUES = new Set(['const', 'enum', 'default', 'examples', 'example']);

function strict(schema: unknown, inAllOf = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => strict(s));
  if (!schema || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [key, value] of Object.entries(schema)) {
    if (VALUES.has(key)) out[key] = value;
    else if (key === 'allOf' && Array.isArray(value)) out[key] = value.map((s) => strict(s, true));
    else if (['properties', 'patternProperties', '$defs', 'dependentSchemas'].includes(key) && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, strict(s)]));
    } else out[key] = strict(value);
  }
  const isObject = out.type === 'object' || (Array.isArray(out.type) && out.type.includes('object')) || 'properties' in out;
  const decides = 'additionalProperties' in out || 'unevaluatedProperties' in out || 'patternProperties' in out;
  if (isObject && !decides && !inAllOf && !('allOf' in out)) out.additionalProperties = false;
  if ('allOf' in out && !decides && !inAllOf) out.unevaluatedProperties = false;
  return out;
}

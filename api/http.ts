/**
 * Routes are declared once, as data: method, path, roles and the zod schemas of params, query and
 * body. The same declaration validates requests, types the handler, checks roles and produces the
 * OpenAPI document, so the documentation cannot drift from what the server accepts.
 */
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import type { Role, User } from '../db/stores/users';
import { TEXT_FAULT_MESSAGES, findBadText } from '../domain/text';
import type { Db } from '../db/knex';
import { ForbiddenError, HttpError, ValidationError, type FieldError } from './errors';
import { IDEMPOTENCY_KEY_MAX_LENGTH, IDEMPOTENCY_KEY_PATTERN, operationOf, withIdempotency, type Operation } from './idempotency';

export type Method = 'get' | 'post' | 'patch' | 'put' | 'delete';

export interface HandlerContext<P, Q, B> {
  req: Request;
  res: Response;
  user: User;
  params: P;
  query: Q;
  body: B;
  requestId: string;
  /**
   * This request as one operation: its Idempotency-Key, if any, and the key every Update it sends
   * is identified by (api/idempotency.ts).
   */
  operation: Operation;
}

export interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

export interface RouteSpec<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** Express-style path: `/leads/:id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  /** Roles allowed; omitted means any signed-in user. */
  roles?: readonly Role[];
  /**
   * Whether the route accepts an `Idempotency-Key` header: a retry with the same key replays the
   * first success instead of acting twice (applied by `mount`, api/idempotency.ts). Defaults to
   * true for every method but GET.
   */
  idempotent?: boolean;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** A body the handler reads itself (a multipart upload, say): documented, not parsed here. */
  streamedBody?: { contentType: string; schema: Record<string, unknown> };
  responses: Record<number, ResponseSpec>;
  handler(ctx: HandlerContext<P, Q, B>): Promise<HandlerResult>;
}

/** Keeps each route's handler typed by its own schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(spec: RouteSpec<P, Q, B>): RouteSpec {
  return spec as unknown as RouteSpec;
}

function issueCode(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'required' : 'invalid_type';
    case 'invalid_format':
      // A pattern a value must follow (digits only, say) names no format of its own.
      return issue.format === 'regex' ? 'invalid_value' : `invalid_${issue.format}`;
    case 'too_small':
      return issue.origin === 'string' ? (issue.minimum === 1 ? 'required' : 'too_short') : 'too_small';
    case 'too_big':
      return issue.origin === 'string' ? 'too_long' : 'too_large';
    case 'invalid_value':
      return 'invalid_value';
    case 'not_multiple_of':
      return 'invalid_value';
    case 'custom':
      return (issue.params?.code as string | undefined) ?? 'invalid';
    default:
      return 'invalid';
  }
}

export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    const base = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ field: base ? `${base}.${key}` : key, code: 'unknown_field', message: 'is not a known field' });
      continue;
    }
    const code = issueCode(issue);
    out.push({ field: base || (prefix ?? 'body'), code, message: code === 'required' ? 'is required' : issue.message });
  }
  return out;
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, prefix?: string): T {
  if (!schema) return value as T;
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ValidationError(fieldErrors(result.error, prefix));
  return result.data;
}

/** Text the service cannot store, anywhere in the request, is refused before any schema sees it. */
function assertStorableText(req: Request, withBody: boolean): void {
  const bad = findBadText(req.params) ?? findBadText(req.query) ?? (withBody ? findBadText(req.body) : null);
  if (!bad) return;
  const field = bad.path || 'body';
  const message = TEXT_FAULT_MESSAGES[bad.fault];
  throw new HttpError(400, 'invalid_text', `${field}: ${message}`, { field, errors: [{ field, code: 'invalid_text', message }] });
}

/** Every state-changing route takes an Idempotency-Key unless it says it cannot (a streamed upload). */
const isIdempotent = (spec: RouteSpec): boolean => spec.idempotent ?? spec.method !== 'get';

/** A body is a JSON document or nothing: a body of another type would be silently ignored. */
function assertJsonBody(req: Request): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody || req.is('application/json')) return;
  throw new HttpError(415, 'unsupported_media_type', `send the body as application/json (got ${req.headers['content-type'] ?? 'no Content-Type'})`, { field: 'body' });
}

export function mount(router: Router, routes: RouteSpec[], db?: Db): void {
  for (const spec of routes) {
    const idempotent = isIdempotent(spec);
    if (idempotent && !db) throw new Error(`${spec.method.toUpperCase()} ${spec.path} is idempotent: mount it with the database`);
    router[spec.method](spec.path, async (req: Request, res: Response) => {
      const user = req.user!;
      if (spec.roles && !spec.roles.includes(user.role)) {
        throw new ForbiddenError(`${spec.method.toUpperCase()} ${spec.path} needs one of the roles: ${spec.roles.join(', ')}`);
      }
      if (spec.body) assertJsonBody(req);
      assertStorableText(req, spec.body !== undefined);
      const params = parse(spec.params, req.params);
      const query = parse(spec.query, req.query);
      const body = parse(spec.body, spec.body && req.body === undefined ? {} : req.body);
      // Only a route that takes an Idempotency-Key reads (and checks) the header.
      const operation: Operation = user && idempotent ? operationOf(req) : { key: null, operationKey: `u:${user?.id ?? '-'}|${req.method} ${req.path}|r:${req.requestId}` };
      const handle = () => spec.handler({ req, res, user, params, query, body, requestId: req.requestId, operation });
      const result = idempotent ? await withIdempotency(db!, req, operation, handle) : await handle();
      for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
      if (result.body === undefined) res.status(result.status).end();
      else res.status(result.status).json(result.body);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAPI 3.1: its schema dialect is JSON Schema 2020-12, which zod emits directly.

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Record<string, unknown> {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, unknown>;
  delete out.$schema;
  return out;
}

/**
 * A response schema as published: zod closes every output object (`additionalProperties: false`),
 * but a client must keep working when a response gains a field, so response objects stay open.
 * (The test suite checks every response against a closed copy, so no field goes undocumented.)
 */
function responseSchema(schema: z.ZodType): Record<string, unknown> {
  const open = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(open);
    if (!node || typeof node !== 'object') return node;
    return Object.fromEntries(Object.entries(node).filter(([key, value]) => !(key === 'additionalProperties' && value === false)).map(([key, value]) => [key, open(value)]));
  };
  return open(jsonSchema(schema, 'output')) as Record<string, unknown>;
}

const RESPONSE_FIELDS_POLICY =
  'Response objects may gain fields in any version: clients must ignore fields they do not know. A field is never removed or changed in meaning without a new major version.';

const problemSchema = {
  type: 'object',
  description: 'RFC 9457 problem details. The members after `requestId` appear only with the codes that name them.',
  required: ['type', 'title', 'status', 'code', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    code: { type: 'string', description: 'Stable, machine-readable reason' },
    detail: { type: 'string' },
    field: { type: 'string', description: 'The offending field, when one is to blame' },
    errors: {
      type: 'array',
      description: 'Every bad field (`validation_failed`)',
      items: {
        type: 'object',
        required: ['field', 'code', 'message'],
        properties: { field: { type: 'string' }, code: { type: 'string' }, message: { type: 'string' } },
      },
    },
    instance: { type: 'string', description: 'The request path' },
    requestId: { type: 'string', description: 'The X-Request-Id of the request, for the logs' },
    leadStatus: { type: 'string', description: 'The lead\'s status (`lead_closed`)' },
    dealStatus: { type: 'string', description: 'The deal\'s status (`deal_closed`)' },
    dealStage: { type: 'string', description: 'The deal\'s stage (a quote that cannot be won)' },
    quoteStatus: { type: 'string', description: 'The quote\'s status (`quote_read_only`, `quote_not_active`, …)' },
    orderStatus: { type: 'string', description: 'The order\'s status (order refusals)' },
    invoiceStatus: { type: 'string', description: 'The invoice\'s status (invoice refusals)' },
    activityStatus: { type: 'string', description: 'The activity\'s status (`activity_closed`)' },
    invoiceId: { type: 'string', format: 'uuid', description: 'The invoice that stands in the way (`order_invoiced`, `order_already_invoiced`)' },
    balanceCents: { type: 'integer', description: 'What is still owed on the invoice (`payment_amount_mismatch`)' },
    accountId: { type: 'string', format: 'uuid', description: 'The account concerned (`account_exists`, `primary_contact_of_account`)' },
    contactId: { type: 'string', format: 'uuid', description: 'The contact that already has the email (`contact_email_exists`)' },
    contactAccountId: { type: ['string', 'null'], format: 'uuid', description: 'The account the contact belongs to (`primary_contact_not_member`)' },
    references: {
      type: 'object', additionalProperties: { type: 'integer' },
      description: 'What still refers to the record, counted by kind (`account_in_use`, `contact_in_use`)',
    },
    workflowId: { type: 'string', description: 'The workflow concerned (`already_enrolled`, `nurture_finished`)' },
    runId: { type: 'string', description: 'Its run' },
    operationId: { type: 'string', description: 'The change still being processed (`still_processing`): GET /operations/{operationId}' },
    location: { type: 'string', description: 'The same as the `Location` header (`still_processing`)' },
  },
};

const problemContent = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };

/**
 * Problems any operation may answer besides its own refusals. Where a route declares the status
 * itself as a problem, these are added to its description (but for 404, which the route words
 * better); a status it answers with a document of its own (/health's 503) stays as declared.
 */
function commonProblems(spec: RouteSpec, isPublic: boolean): { status: string; description: string }[] {
  const out: { status: string; description: string }[] = [];
  const add = (status: number, description: string) => out.push({ status: String(status), description });
  const hasBody = Boolean(spec.body || spec.streamedBody);
  const changes = spec.method !== 'get';
  const idempotent = isIdempotent(spec);
  add(400, [
    '`validation_failed` (`field` and `errors[]` name each bad field',
    idempotent ? ', the Idempotency-Key header included' : '',
    '), `invalid_text` (text that cannot be stored)',
    spec.streamedBody ? ', `malformed_multipart` (an upload that cannot be read)' : hasBody ? ', `malformed_json` or `malformed_body` (a body that cannot be read)' : '',
    ' or `malformed_request`',
  ].join(''));
  if (!isPublic) add(401, '`unauthorized`: no valid bearer token');
  if (spec.roles) add(403, `\`forbidden\`: only for ${spec.roles.join(', ')}`);
  if (/:[A-Za-z]+/.test(spec.path)) add(404, 'No such record (`<entity>_not_found`)');
  if (changes) add(409, 'A clash with what is stored; nothing was changed');
  if (idempotent) add(409, '`idempotency_key_in_use`: a request with this Idempotency-Key is still running (see `Retry-After`)');
  if (hasBody || changes) {
    add(413, '`body_too_large`: the request body is larger than the API accepts');
    add(415, `\`unsupported_media_type\`, \`unsupported_charset\` or \`unsupported_encoding\`: send ${spec.streamedBody ? `\`${spec.streamedBody.contentType}\`` : 'UTF-8 `application/json`'}`);
  }
  if (changes) add(422, 'A value that cannot be stored as it is; nothing was changed');
  if (idempotent) add(422, '`idempotency_key_reused`: the Idempotency-Key was used for a different request');
  add(431, '`headers_too_large`: the request headers are larger than the API accepts');
  add(500, '`internal_error`: an unexpected error, logged under the `requestId`');
  add(503, '`database_unavailable`, `temporal_unavailable`, `worker_unavailable` or `still_processing`: retry shortly (see `Retry-After`; a `still_processing` answer’s `Location` says where its outcome will be)');
  return out;
}

export interface OpenApiInfo {
  title: string;
  version: string;
  description: string;
  serverUrl: string;
}

export function buildOpenApi(routes: RouteSpec[], publicRoutes: RouteSpec[], info: OpenApiInfo): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const publicSet = new Set(publicRoutes);
  for (const spec of [...publicRoutes, ...routes]) {
    const path = spec.path.replace(/:([A-Za-z]+)/g, '{$1}');
    const parameters: unknown[] = [];
    for (const [where, schema] of [['path', spec.params], ['query', spec.query]] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(js.properties ?? {})) {
        parameters.push({ name, in: where, required: where === 'path' || (js.required ?? []).includes(name), schema: s });
      }
    }
    if (isIdempotent(spec)) {
      parameters.push({
        name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: IDEMPOTENCY_KEY_MAX_LENGTH, pattern: IDEMPOTENCY_KEY_PATTERN },
        description: 'Makes the request safe to retry: the same key with the same request returns the first successful response (header `Idempotent-Replayed: true`) instead of acting twice, also after a 503 `still_processing`; the same key with another request is 422 `idempotency_key_reused`; while the first is still running, 409 `idempotency_key_in_use`.',
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      const isError = Number(status) >= 400;
      responses[status] = {
        description: r.description,
        ...(r.schema ? { content: { 'application/json': { schema: responseSchema(r.schema) } } }
          : isError ? { content: problemContent } : {}),
      };
    }
    for (const { status, description } of commonProblems(spec, publicSet.has(spec))) {
      const declared = responses[status] as { description: string } | undefined;
      if (!declared) responses[status] = { description, content: problemContent };
      else if (status !== '404' && !spec.responses[Number(status)]?.schema) declared.description = `${declared.description}; also ${description.charAt(0).toLowerCase()}${description.slice(1)}`;
    }
    paths[path] ??= {};
    paths[path][spec.method] = {
      tags: [spec.tag],
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      operationId: `${spec.method}${path.replace(/[{}]/g, '').split('/').map((p) => p.charAt(0).toUpperCase() + p.slice(1)).join('').replace(/[^A-Za-z0-9]/g, '')}`,
      ...(parameters.length ? { parameters } : {}),
      ...(spec.body ? { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(spec.body, 'input') } } } } : {}),
      ...(spec.streamedBody ? { requestBody: { required: true, content: { [spec.streamedBody.contentType]: { schema: spec.streamedBody.schema } } } } : {}),
      responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b))),
      ...(publicSet.has(spec) ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: info.title, version: info.version, description: `${info.description} ${RESPONSE_FIELDS_POLICY}` },
    servers: [{ url: info.serverUrl }],
    security: [{ bearerAuth: [] }],
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A user token from `npm run user:create`' } },
      schemas: { Problem: problemSchema },
    },
    paths,
  };
}

/**
 * One mapper from every error the API can meet to application/problem+json (RFC 9457), with a
 * stable machine-readable `code` and, for a bad field, the `field` it concerns. Domain errors,
 * validation errors, the Temporal client's errors and infrastructure outages all end up here.
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  ServiceError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from '../config/logger';
import { Rejection, type Refusal, type RejectionKind } from '../domain/rejection';
import { PERMANENT_FAILURE_KINDS, classifyFailure, type FailureKind } from '../db/failures';

export interface FieldError {
  field: string;
  code: string;
  message: string;
}

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    /** Response headers that belong to the answer (`Location`, `Retry-After`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message = 'a valid bearer token is required') {
    super(401, 'unauthorized', message);
  }
}

/**
 * Every authorization refusal (403) says which rule refused it (docs/authorization.md):
 * - `forbidden`: the caller's role may not use the route at all (checked before the record is
 *   looked up, so it reveals nothing about whether the record exists);
 * - `not_owner`: the record is someone else's: only its owner, a manager or an admin changes it;
 * - `owner_reassign_forbidden`: only a manager or an admin gives a record to another owner.
 */
export type ForbiddenCode = 'forbidden' | 'not_owner' | 'owner_reassign_forbidden';

export class ForbiddenError extends HttpError {
  constructor(message: string, code: ForbiddenCode = 'forbidden') {
    super(403, code, message);
  }
}

export class ValidationError extends HttpError {
  constructor(readonly errors: FieldError[]) {
    const first = errors[0];
    super(400, 'validation_failed', errors.map((e) => `${e.field}: ${e.message}`).join('; '), { field: first?.field, errors });
  }
}

export class ServiceUnavailableError extends HttpError {
  constructor(code: string, message: string, headers: Record<string, string> = {}) {
    super(503, code, message, {}, headers);
  }
}

const TITLES: Record<number, string> = {
  400: 'Invalid request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  408: 'Request timeout',
  409: 'Conflict',
  413: 'Content too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  431: 'Request header fields too large',
  500: 'Internal error',
  503: 'Service unavailable',
};

interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  field?: string;
  [extra: string]: unknown;
}

function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Problem {
  // Extra members never override the standard ones.
  return { ...extra, type: `https://contoso.example/problems/${code}`, title: TITLES[status] ?? 'Error', status, code, detail };
}

/** body-parser's (http-errors) failure types, as the problem codes we answer them with. */
const BODY_ERRORS: Record<string, { status: number; code: string; detail: string }> = {
  'entity.parse.failed': { status: 400, code: 'malformed_json', detail: 'the request body is not valid JSON' },
  'entity.too.large': { status: 413, code: 'body_too_large', detail: 'the request body is too large' },
  'charset.unsupported': { status: 415, code: 'unsupported_charset', detail: 'the body must be UTF-8 JSON (Content-Type: application/json; charset=utf-8)' },
  'encoding.unsupported': { status: 415, code: 'unsupported_encoding', detail: 'the body’s Content-Encoding is not supported (gzip, deflate, br or identity)' },
  'request.aborted': { status: 400, code: 'request_aborted', detail: 'the client stopped sending the body' },
  'request.size.invalid': { status: 400, code: 'body_length_mismatch', detail: 'the body’s length does not match its Content-Length' },
};

/** A failure of body-parser (or any http-errors error it wraps) that the client caused. */
function clientBodyError(error: unknown): Problem | null {
  const e = error as { status?: unknown; statusCode?: unknown; type?: unknown; expose?: unknown };
  const status = typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : null;
  if (status === null || status < 400 || status >= 500) return null;
  const known = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  if (known) return problem(known.status, known.code, known.detail, { field: 'body' });
  // A body that does not decode per its Content-Encoding (a plain body sent as gzip, say).
  return problem(400, 'malformed_body', 'the request body could not be read as sent (check its Content-Encoding and Content-Type)', { field: 'body' });
}

const UNAVAILABLE_DETAIL = 'the database is not reachable; nothing was changed; retry shortly';

/** Anything we did not classify is a 500 with no internals leaked; known outages are 503. */
export function toProblem(error: unknown): Problem {
  if (error instanceof HttpError) return problem(error.status, error.code, error.message, error.extra);
  if (error instanceof Rejection) return refusalProblem(error.refusal());
  if (error instanceof WorkflowNotFoundError) return problem(404, 'process_not_found', error.message);
  if (error instanceof WorkflowExecutionAlreadyStartedError) return problem(409, 'already_started', error.message);
  if (error instanceof WorkflowUpdateFailedError) return updateRefusal(error);
  if (error instanceof ServiceError) return problem(503, 'temporal_unavailable', 'the workflow service is not reachable; retry shortly');
  const body = clientBodyError(error);
  if (body) return body;
  const classified = classifyFailure(error);
  if (classified.retry === 'transient') return problem(503, classified.code === 'service_unavailable' ? 'database_unavailable' : classified.code, UNAVAILABLE_DETAIL);
  if (classified.retry === 'permanent' && classified.kind === 'invalid') {
    return problem(422, classified.code, 'a value in the request cannot be stored as it is; nothing was changed');
  }
  if (classified.retry === 'permanent' && classified.kind === 'conflict') {
    return problem(409, classified.code, 'the request clashes with what is stored; nothing was changed');
  }
  return problem(500, 'internal_error', 'an unexpected error occurred; it has been logged');
}

/** The one place a refusal's kind becomes an HTTP status. */
const KIND_STATUS: Record<RejectionKind, number> = { state: 409, content: 422, field: 400, not_found: 404 };

/** A refusal (a rule's, a store's, a workflow's) as problem+json: the status from its kind. */
export function refusalProblem(refusal: Refusal): Problem {
  const extra: Record<string, unknown> = { ...refusal.details };
  if (refusal.field) extra.field = refusal.field;
  if (refusal.kind === 'field') {
    const field = refusal.field ?? 'body';
    extra.errors = [{ field, code: refusal.code, message: refusal.message }];
    return problem(400, 'validation_failed', `${field}: ${refusal.message}`, extra);
  }
  return problem(KIND_STATUS[refusal.kind], refusal.code, refusal.message, extra);
}

/** Statuses of the classified failures that are not refusals (db/failures.ts). */
const FAILURE_STATUS: Record<FailureKind, number> = { conflict: 409, invalid: 422, not_found: 404, internal: 500, unavailable: 503 };

/**
 * An Update the workflow refused (its validator or its handler, after the activity re-judged it on
 * the rows): nothing was written. The failure's type is the code; its first detail says the kind —
 * a refusal's (`state`, `content`, …) or a classified failure's (`invalid`, `internal`, …) — and
 * what to show. A failure passed on without details is judged by its code.
 */
function updateRefusal(error: WorkflowUpdateFailedError): Problem {
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure) || !cause.type) return problem(409, 'update_rejected', cause?.message ?? error.message);
  const detail = (cause.details?.[0] && typeof cause.details[0] === 'object' ? cause.details[0] : {}) as { kind?: string; field?: string } & Record<string, unknown>;
  const { kind, field, ...shown } = detail;
  if (kind && kind in KIND_STATUS) {
    return refusalProblem({ code: cause.type, kind: kind as RejectionKind, message: cause.message, field, details: shown });
  }
  const failureKind = (kind && kind in FAILURE_STATUS ? kind : PERMANENT_FAILURE_KINDS[cause.type]) as FailureKind | undefined;
  const status = failureKind ? FAILURE_STATUS[failureKind] : 409;
  const extra = field ? { ...shown, field } : shown;
  if (status === 500) return problem(500, cause.type, 'the change could not be made and nothing was written; it has been logged', extra);
  if (status === 503) return problem(503, cause.type, 'a service the change needs is not reachable; nothing was written; retry shortly', extra);
  return problem(status, cause.type, cause.message, extra);
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const body = toProblem(error);
    if (body.status >= 500 && body.code !== 'still_processing') log.error({ err: error, method: req.method, path: req.path, requestId: req.requestId }, 'request failed');
    if (body.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    if (error instanceof HttpError) for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    if (body.status === 503 && !res.getHeader('Retry-After')) res.setHeader('Retry-After', '2');
    res.status(body.status).type('application/problem+json').json({ ...body, instance: req.originalUrl, requestId: req.requestId });
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));
};

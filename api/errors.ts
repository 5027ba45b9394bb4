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
import { ConflictError, DomainError, InvalidFieldError, NotFoundError, UnprocessableError } from '../db/errors';
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
  if (error instanceof DomainError) {
    const status =
      error instanceof NotFoundError ? 404
      : error instanceof ConflictError ? 409
      : error instanceof UnprocessableError ? 422
      : error instanceof InvalidFieldError ? 400
      : 400;
    const extra: Record<string, unknown> = { ...error.details };
    if (error.field) extra.field = error.field;
    if (error instanceof InvalidFieldError) {
      extra.errors = [{ field: error.field, code: error.code, message: error.message }];
      return problem(400, 'validation_failed', `${error.field}: ${error.message}`, extra);
    }
    return problem(status, error.code, error.message, extra);
  }
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

/** Statuses of a refusal by its kind: the record's state (409) or the request's content (422). */
const KIND_STATUS: Record<FailureKind, number> = { conflict: 409, invalid: 422, not_found: 404, internal: 500, unavailable: 503 };

/**
 * An Update the workflow refused (its validator or its handler, after the activity re-judged it on
 * the rows): nothing was written. The failure's type is the rule's code; its first detail may say
 * what kind of refusal it is (`kind`) and what to show (`problem`).
 */
function updateRefusal(error: WorkflowUpdateFailedError): Problem {
  const cause = error.cause;
  if (!(cause instanceof ApplicationFailure) || !cause.type) return problem(409, 'update_rejected', cause?.message ?? error.message);
  const detail = cause.details?.[0] as { problem?: Record<string, unknown>; kind?: FailureKind; field?: string } | undefined;
  const shown = detail && typeof detail === 'object' && detail.problem && typeof detail.problem === 'object' ? detail.problem : {};
  const { status: ruleStatus, ...extra } = shown as { status?: number } & Record<string, unknown>;
  if (detail?.field && typeof detail.field === 'string') extra.field ??= detail.field;
  const kind = detail?.kind ?? PERMANENT_FAILURE_KINDS[cause.type];
  const status = ruleStatus === 422 ? 422 : kind ? KIND_STATUS[kind] : 409;
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

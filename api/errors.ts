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

export class ForbiddenError extends HttpError {
  constructor(message: string, code = 'forbidden') {
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
  constructor(code: string, message: string) {
    super(503, code, message);
  }
}

const TITLES: Record<number, string> = {
  400: 'Invalid request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not found',
  409: 'Conflict',
  422: 'Unprocessable request',
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

const PG_UNAVAILABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P03', '53300']);

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
  if (error instanceof WorkflowUpdateFailedError) {
    const cause = error.cause;
    if (cause instanceof ApplicationFailure && cause.type) {
      // A rule may say more: `{ problem: { status: 422, field, orderStatus, … } }` as its first detail.
      const detail = cause.details?.[0] as { problem?: Record<string, unknown> } | undefined;
      const { status, ...extra } = detail && typeof detail === 'object' && detail.problem && typeof detail.problem === 'object' ? detail.problem : {};
      return problem(status === 422 ? 422 : 409, cause.type, cause.message, extra);
    }
    return problem(409, 'update_rejected', cause?.message ?? error.message);
  }
  if (error instanceof ServiceError) return problem(503, 'temporal_unavailable', 'the workflow service is not reachable; retry shortly');
  const code = (error as { code?: string }).code;
  const message = (error as Error)?.message ?? '';
  if ((code && PG_UNAVAILABLE.has(code)) || /Connection terminated|Timeout acquiring a connection/.test(message)) {
    return problem(503, 'database_unavailable', 'the database is not reachable; retry shortly');
  }
  if ((error as { type?: string }).type === 'entity.parse.failed') return problem(400, 'malformed_json', 'the request body is not valid JSON');
  if ((error as { type?: string }).type === 'entity.too.large') return problem(413, 'body_too_large', 'the request body is too large');
  return problem(500, 'internal_error', 'an unexpected error occurred; it has been logged');
}

export function errorHandler(log: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const body = toProblem(error);
    if (body.status >= 500) log.error({ err: error, method: req.method, path: req.path, requestId: req.requestId }, 'request failed');
    if (body.status === 401) res.setHeader('WWW-Authenticate', 'Bearer');
    res.status(body.status).type('application/problem+json').json({ ...body, instance: req.originalUrl, requestId: req.requestId });
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));
};

/**
 * The API's HTTP server, hardened against what a client can send before Express sees a request, and
 * against errors nobody handled while serving one:
 * - a request line or headers Node cannot parse (too large: 431; malformed: 400) is answered with a
 *   problem+json body instead of Node's bare status line;
 * - each request runs in its own async context, so an error thrown from a stray callback or stream
 *   while serving it answers that request with 500 problem+json (see config/processGuard.ts) rather
 *   than leaving it hanging or ending the process.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import http, { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Express, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../config/logger';
import { toProblem } from './errors';

/** Node's default header limit, stated: larger headers are answered 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

const current = new AsyncLocalStorage<{ req: Request; res: Response }>();

/** Middleware: the rest of the request's work runs in its own async context. */
export const requestScope: RequestHandler = (req, res, next) => current.run({ req, res }, next);

function rawProblem(status: number, code: string, detail: string): string {
  const body = JSON.stringify({ type: `https://contoso.example/problems/${code}`, title: STATUS_CODES[status] ?? 'Error', status, code, detail });
  return [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/problem+json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const answer =
    error.code === 'HPE_HEADER_OVERFLOW' ? rawProblem(431, 'headers_too_large', `the request's headers exceed ${MAX_HEADER_BYTES} bytes`)
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? rawProblem(408, 'request_timeout', 'the request was not received in time')
    : rawProblem(400, 'malformed_request', 'the request is not valid HTTP/1.1');
  socket.end(answer);
}

/** The server for `app`; without it, attach the app later with `server.on('request', app)`. */
export function createApiServer(app?: Express): http.Server {
  const server = app ? http.createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app) : http.createServer({ maxHeaderSize: MAX_HEADER_BYTES });
  server.on('clientError', answerClientError);
  return server;
}

/** For the process guard: answer the request a stray error belongs to, if any, with 500. */
export function answerStrayError(log: Logger) {
  return (error: unknown): void => {
    const scope = current.getStore();
    if (!scope) return;
    const { req, res } = scope;
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // A 503 (an outage) says so; anything else was our fault: 500, nothing internal leaked.
    const classified = toProblem(error);
    const body = classified.status >= 500 ? classified : toProblem(new Error('stray error'));
    log.error({ method: req.method, path: req.path, requestId: req.requestId }, 'request failed by a stray error');
    res.status(body.status).type('application/problem+json').json({ ...body, instance: req.originalUrl, requestId: req.requestId });
  };
}

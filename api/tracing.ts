/**
 * One trace span per HTTP request, the root of everything the request causes: the SDK's client
 * interceptor records the workflow start, signal or update under it and carries it on to the
 * workflow and its activities (config/tracing.ts). A `traceparent` header from the caller is
 * continued, so a front end's trace reaches the workflows too.
 *
 * Written against the OpenTelemetry API only: with no tracer provider registered (tracing off, the
 * default) the spans are the API's no-op ones and nothing is recorded or sent.
 *
 * The span is named by method and route template (`POST /deals/:id/advance`), like the metrics; it
 * carries the path and the request id, never the query string or the body.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { RequestHandler } from 'express';
import { routeLabel } from './routeLabel';

const tracer = trace.getTracer('sales-process-api');

export const traceRequests: RequestHandler = (req, res, next) => {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers);
  const span = tracer.startSpan(req.method, {
    kind: SpanKind.SERVER,
    attributes: { 'http.request.method': req.method, 'url.path': req.path, 'sales.request_id': req.requestId },
  }, parent);
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    const route = routeLabel(req, res.statusCode);
    span.updateName(`${req.method} ${route}`);
    span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (!res.writableFinished) span.setAttribute('sales.client_gone', true);
    span.end();
  };
  res.once('finish', end);
  res.once('close', end);
  context.with(trace.setSpan(parent, span), next);
};

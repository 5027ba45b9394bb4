/**
 * OpenTelemetry tracing for a process, off unless an OTLP endpoint is configured (TracingConfig).
 *
 * One trace follows a request from the API into Temporal and out again: the API opens a span per
 * HTTP request (api/tracing.ts); the SDK's client interceptor records the workflow start, signal or
 * update under it and carries its context in the Temporal headers; on the worker the SDK's workflow
 * interceptors continue it in the workflow (their spans leave the sandbox through a sink) and the
 * activity interceptor in each activity it schedules (worker/worker.ts).
 *
 * Registering makes the provider, the W3C trace-context propagator and the AsyncLocalStorage
 * context manager global, which is what the SDK's interceptors read. When tracing is off nothing is
 * registered and nothing is intercepted, so no span is made at all.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { TracingConfig } from './index';

export interface Tracing {
  /** Who made the spans (service.name); the worker hands it to the workflow span sink. */
  resource: Resource;
  /** Where finished spans go; the worker hands it to the workflow span sink too. */
  spanProcessor: SpanProcessor;
  /** Sends what is still buffered and unregisters, so a process can stop (or a test start again). */
  shutdown(): Promise<void>;
}

/** Spans batched and sent over OTLP/HTTP (JSON) to the configured collector. */
export function otlpSpanProcessor(config: TracingConfig): SpanProcessor {
  return new BatchSpanProcessor(new OTLPTraceExporter({ url: config.tracesUrl, headers: config.headers }));
}

/** Registers a tracer provider for this process that hands every span to `spanProcessor`. */
export function startTracing(options: { serviceName: string; spanProcessor: SpanProcessor }): Tracing {
  const resource = new Resource({ 'service.name': options.serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [options.spanProcessor] });
  provider.register();
  return {
    resource,
    spanProcessor: options.spanProcessor,
    async shutdown() {
      await provider.shutdown();
      trace.disable();
      propagation.disable();
      context.disable();
    },
  };
}

/** Tracing as configured, or null when it is off. */
export function startConfiguredTracing(config: TracingConfig | null, defaultServiceName: string): Tracing | null {
  if (!config) return null;
  return startTracing({ serviceName: config.serviceName ?? defaultServiceName, spanProcessor: otlpSpanProcessor(config) });
}

/**
 * `GET /metrics` on the worker, in the Prometheus text format, from a small HTTP server of its own
 * (WORKER_METRICS_PORT): the Temporal SDK's own figures — workflow and activity task latencies,
 * schedule-to-start, task failures, the sticky cache, pollers — followed by the process's.
 *
 * The SDK's Core runtime exports its metrics through a Prometheus endpoint of its own; we bind that
 * one to a private loopback port and serve its page inside ours, so there is one address to scrape
 * per worker. No token is needed: the labels name task queues, workflow and activity types, never
 * a record (docs/observability.md).
 */
import http from 'node:http';
import net from 'node:net';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../config/logger';

/** How long a scrape waits for the SDK's page before serving without it. */
const CORE_SCRAPE_TIMEOUT_MS = 2_000;

export interface WorkerMetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function serveWorkerMetrics(options: { port: number; host?: string; sdkMetricsUrl: string; log: Logger }): Promise<WorkerMetricsServer> {
  const { log } = options;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const sdkUp = new Gauge({ name: 'worker_sdk_metrics_up', help: '1 when the Temporal SDK\'s metrics were read for this scrape, 0 when they could not be (and are left out)', registers: [registry] });

  const sdkPage = async (): Promise<string | null> => {
    try {
      const response = await fetch(options.sdkMetricsUrl, { signal: AbortSignal.timeout(CORE_SCRAPE_TIMEOUT_MS) });
      if (!response.ok) throw new Error(`the SDK's metrics answered ${response.status}`);
      return await response.text();
    } catch (error) {
      log.warn({ err: error }, 'the Temporal SDK\'s metrics could not be read for /metrics');
      return null;
    }
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('GET /metrics\n');
      return;
    }
    void (async () => {
      const sdk = await sdkPage();
      sdkUp.set(sdk === null ? 0 : 1);
      const own = await registry.metrics();
      const body = `${sdk ? `${sdk.trimEnd()}\n` : ''}${own}`;
      res.writeHead(200, { 'Content-Type': registry.contentType, 'Cache-Control': 'no-store' }).end(body);
    })().catch((error: unknown) => {
      log.error({ err: error }, '/metrics failed');
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('metrics unavailable\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as net.AddressInfo;
  const url = `http://localhost:${port}/metrics`;
  log.info({ url }, 'worker metrics served');
  return {
    url,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

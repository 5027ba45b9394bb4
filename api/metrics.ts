/**
 * `GET /metrics` on the API, in the Prometheus text format: the process's own figures, every HTTP
 * request counted and timed by route template and status, and the business figures ops alert on
 * (db/stores/businessFigures.ts).
 *
 * No token is needed, like /health, so Prometheus scrapes it as it is: every label is a route
 * template, a method, a status, a stage or a step name, never an id, a name, an e-mail or a query,
 * and the business figures are counts and sums. Keep the path off the public side of a reverse
 * proxy (docs/observability.md).
 */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Logger } from '../config/logger';
import type { Db } from '../db/knex';
import { BusinessFiguresStore, type BusinessFigures } from '../db/stores/businessFigures';
import { routeLabel } from './routeLabel';

/** Scrapes closer together than this share one reading of the business figures. */
export const FIGURES_MAX_AGE_MS = 2_000;

export interface ApiMetrics {
  registry: Registry;
  /** Counts and times every request; mount it before anything that can answer. */
  middleware: RequestHandler;
  /** GET /metrics. */
  handler: RequestHandler;
}

export function createApiMetrics(deps: { db: Db; log: Logger }): ApiMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const labelNames = ['method', 'route', 'status'] as const;
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by method, route template and status', labelNames, registers: [registry] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds', help: 'Time to answer an HTTP request, by method, route template and status', labelNames, registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const stop = duration.startTimer();
    res.once('finish', () => {
      const labels = { method: req.method, route: routeLabel(req, res.statusCode), status: String(res.statusCode) };
      requests.inc(labels);
      stop(labels);
    });
    next();
  };

  registerBusinessGauges(registry, new BusinessFiguresStore(deps.db), deps.log);

  const handler: RequestHandler = async (_req, res) => {
    res.setHeader('Content-Type', registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.end(await registry.metrics());
  };
  return { registry, middleware, handler };
}

/**
 * The business gauges read their figures when scraped, once for all of them. If Postgres does not
 * answer, `sales_figures_up` is 0 and the gauges keep the last figures read, rather than failing the
 * whole page, so the HTTP and process figures still arrive.
 */
function registerBusinessGauges(registry: Registry, store: BusinessFiguresStore, log: Logger): void {
  let cached: { at: number; figures: Promise<BusinessFigures | null> } | null = null;
  const figures = (): Promise<BusinessFigures | null> => {
    const now = Date.now();
    if (!cached || now - cached.at > FIGURES_MAX_AGE_MS) {
      cached = {
        at: now,
        figures: store.read().catch((error: unknown) => {
          log.warn({ err: error }, 'business figures could not be read for /metrics');
          cached = null;
          return null;
        }),
      };
    }
    return cached.figures;
  };

  /** A gauge filled from the figures at each scrape; one whose figures could not be read keeps the last ones. */
  const gauge = (name: string, help: string, labelNames: string[], fill: (g: Gauge, read: BusinessFigures) => void): void => {
    new Gauge({
      name, help, labelNames, registers: [registry],
      async collect() {
        const read = await figures();
        if (!read) return;
        this.reset();
        fill(this, read);
      },
    });
  };
  new Gauge({
    name: 'sales_figures_up', help: '1 when the business figures were read from Postgres for this scrape, 0 when they could not be (the sales_ gauges then show the last figures read)', registers: [registry],
    async collect() {
      this.set((await figures()) ? 1 : 0);
    },
  });
  gauge('sales_nurture_enrollments_running', 'Nurture sequences running, by the step they wait for', ['step'], (g, read) => {
    for (const [step, count] of Object.entries(read.nurtureRunningByStep)) g.set({ step }, count);
  });
  gauge('sales_deals_open', 'Open deals, by stage', ['stage'], (g, read) => {
    for (const [stage, { count }] of Object.entries(read.openDealsByStage)) g.set({ stage }, count);
  });
  gauge('sales_deals_open_value_cents', 'Value of the open deals in cents, by stage', ['stage'], (g, read) => {
    for (const [stage, { valueCents }] of Object.entries(read.openDealsByStage)) g.set({ stage }, valueCents);
  });
  gauge('sales_deals_tech_check_waiting_over_2_days', 'Open deals that entered Tech Check more than 2 days ago', [], (g, read) => {
    g.set(read.techCheckWaitingOverTwoDays);
  });
  gauge('sales_invoices_overdue', 'Invoices past their due date and not fully paid', [], (g, read) => {
    g.set(read.overdueInvoices.count);
  });
  gauge('sales_invoices_overdue_outstanding_cents', 'What is still owed on overdue invoices, in cents', [], (g, read) => {
    g.set(read.overdueInvoices.outstandingCents);
  });
  gauge('sales_unification_last_pass_age_seconds', 'Seconds since the last customer unification pass that ended, by how it ended (absent: none ever did)', ['status'], (g, read) => {
    for (const [status, at] of Object.entries(read.lastUnificationPassAt)) {
      if (at) g.set({ status }, Math.max(0, (Date.now() - at.getTime()) / 1000));
    }
  });
}

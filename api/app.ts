/**
 * Builds the Express app from its dependencies (no globals, no environment reads), so the dev
 * stack, the API process and the tests all run the same app. Public: /health, /openapi.json,
 * /docs, /metrics (api/metrics.ts), the console's files at /app (api/console.ts). Everything else
 * needs a bearer token.
 */
import express, { type Express } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Client } from '@temporalio/client';
import type { Logger } from '../config/logger';
import type { Db } from '../db/knex';
import { UserStore } from '../db/stores/users';
import { authenticate, requestId } from './auth';
import { traceRequests } from './tracing';
import { errorHandler, notFoundHandler } from './errors';
import { requestScope } from './server';
import { createApiMetrics } from './metrics';
import { consoleRouter } from './console';
import { buildOpenApi, mount, type RouteSpec } from './http';
import { activityRoutes } from './routes/activities';
import { customerRoutes } from './routes/customers';
import { customerUnificationRoutes } from './routes/customerUnification';
import { importRoutes } from './routes/imports';
import { healthRoutes } from './routes/health';
import { leadNurtureRoutes } from './routes/leadNurture';
import { leadImportRoutes, type AfterLeadImport } from './routes/leadImports';
import { leadRoutes } from './routes/leads';
import { dealRoutes } from './routes/deals';
import { leadQualificationRoutes } from './routes/leadQualification';
import { productRoutes } from './routes/products';
import { quoteRoutes } from './routes/quotes';
import { techCheckRoutes } from './routes/techChecks';
import { orderRoutes } from './routes/orders';
import { invoiceRoutes } from './routes/invoices';
import { accountRoutes } from './routes/accounts';
import { contactRoutes } from './routes/contacts';
import { timelineRoutes } from './routes/timelines';
import { auditRoutes } from './routes/audit';
import { operationRoutes } from './routes/operations';
import { meRoutes } from './routes/me';
import { sequenceRoutes } from './routes/sequences';
import { enrollmentBulkRoutes } from './routes/enrollmentBulk';
import { inboundRoutes, inboundSettingsRoutes, unsubscribePage } from './routes/inbound';
import type { CustomerConfig, DealConfig, LeadConfig, OrderConfig } from '../config';

export interface AppDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  /** The URL clients reach the API at, for the OpenAPI `servers` entry. */
  publicUrl: string;
  /** Tech Check reminder delays for new deals; SPEC defaults (2 and 5 days) when absent. */
  deals?: DealConfig;
  /** Customer import mappings, match rules and upload limit. */
  customers: CustomerConfig;
  /** Lead import limits; LEAD_IMPORT_MAX_MB's default when absent. */
  leads?: LeadConfig;
  /** What runs after a lead import commits (e.g. enrolling its leads in a sequence); nothing when absent. */
  afterLeadImport?: AfterLeadImport;
  /** Payment terms for new invoices; net 30 when absent. */
  orders?: OrderConfig;
  /** INBOUND_EMAIL_SECRET; absent: the per-database secret. */
  inboundSecret?: string | null;
}

export function createApp(deps: AppDeps): Express {
  const { db, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'extended');
  app.use(requestScope);
  app.use(requestId);
  app.use(traceRequests);
  const metrics = createApiMetrics({ db, log });
  app.use(metrics.middleware);
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log.debug({ method: req.method, path: req.originalUrl, status: res.statusCode, ms: Math.round(ms), requestId: req.requestId }, 'request');
    });
    next();
  });
  app.use(express.json({ limit: '1mb', strict: true }));

  const publicRoutes: RouteSpec[] = [...healthRoutes(deps), ...inboundRoutes(deps)];
  const routes: RouteSpec[] = [
    ...leadRoutes(deps), ...leadImportRoutes(deps), ...leadNurtureRoutes(deps), ...sequenceRoutes(deps), ...enrollmentBulkRoutes(deps), ...inboundSettingsRoutes(deps), ...activityRoutes(deps),
    ...leadQualificationRoutes(deps), ...dealRoutes(deps), ...quoteRoutes(deps), ...techCheckRoutes(deps), ...productRoutes(deps),
    ...customerRoutes(deps), ...importRoutes(deps), ...customerUnificationRoutes(deps),
    ...orderRoutes(deps), ...invoiceRoutes(deps), ...accountRoutes(deps), ...contactRoutes(deps),
    ...timelineRoutes(deps), ...auditRoutes(deps), ...operationRoutes(deps), ...meRoutes(deps),
  ];
  const openapi = buildOpenApi(routes, publicRoutes, {
    title: 'Contoso sales process API',
    version: '0.1.0',
    description: 'The sales processes of Contoso Home Security: leads and their nurture sequences, accounts and contacts, deals with quotes and Tech Checks, orders, invoices and payments, timelines, the unified customer view and the audit log. Errors are application/problem+json with a stable `code` and, for bad input, the offending `field`.',
    serverUrl: deps.publicUrl,
  });

  const open = express.Router();
  open.use(unsubscribePage());
  mount(open, publicRoutes);
  open.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  open.get('/metrics', metrics.handler);
  open.use('/app', consoleRouter());
  open.use('/docs', swaggerUi.serve, swaggerUi.setup(openapi, { customSiteTitle: 'Contoso sales process API' }));
  app.use(open);

  const secured = express.Router();
  secured.use(authenticate(new UserStore(db)));
  mount(secured, routes, db);
  app.use(secured);

  app.use(notFoundHandler);
  app.use(errorHandler(log));
  return app;
}

/**
 * The only place that reads environment variables. Every other module receives a `Config` (or the
 * part of it it needs), so tests build one in code and nothing reads `process.env` behind our back.
 * Each variable is documented in README.md ("Configuration").
 */
import path from 'node:path';

export const PROJECT_ROOT = path.resolve(__dirname, '..');

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface SmtpConfig {
  /** null: the dev stack starts its own catch-all (MailDev) and fills this in. */
  host: string | null;
  port: number;
  secure: boolean;
  user: string | null;
  password: string | null;
  from: string;
}

export interface DealConfig {
  /** How long a deal waits in Tech Check before a task for the technical consultants appears. */
  techCheckConsultantReminderMs: number;
  /** … and before a task for the owner's manager appears. */
  techCheckManagerReminderMs: number;
}

export interface OrderConfig {
  /** Days from an invoice's issue date to its due date ("net 30"), unless the invoice names its own. */
  paymentTermsDays: number;
}

export interface Config {
  /** null: use the embedded PostgreSQL under `dataDir/postgres`. */
  databaseUrl: string | null;
  embeddedPostgresPort: number;
  /** null: start the Temporal dev server (CLI) from `.tools/`. */
  temporalAddress: string | null;
  temporalNamespace: string;
  temporalDevPort: number;
  temporalUiPort: number;
  taskQueue: string;
  port: number;
  publicUrl: string | null;
  smtp: SmtpConfig;
  mailInboxPort: number;
  logLevel: LogLevel;
  dataDir: string;
  toolsDir: string;
  deals: DealConfig;
  orders: OrderConfig;
  customers: CustomerConfig;
  leads: LeadConfig;
  /** WORKER_METRICS_PORT: where the worker serves GET /metrics (0: any free port; null: `off`). */
  workerMetricsPort: number | null;
  /**
   * WORKER_MAX_CACHED_WORKFLOWS: runs the worker keeps in memory between their workflow tasks (the
   * SDK's sticky cache); 0 turns it off. It bounds the worker's memory, not the runs it can serve
   * (docs/capacity.md).
   */
  workerMaxCachedWorkflows: number;
  /** Where traces go over OTLP; null (the default): no tracing at all. */
  tracing: TracingConfig | null;
  /** INBOUND_EMAIL_SECRET: the reply webhook's shared secret; null: one generated per database. */
  inboundEmailSecret: string | null;
}

/** OpenTelemetry tracing, configured with the standard OTEL_* variables. */
export interface TracingConfig {
  /**
   * The OTLP/HTTP traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or
   * OTEL_EXPORTER_OTLP_ENDPOINT with `/v1/traces` appended.
   */
  tracesUrl: string;
  /** OTEL_EXPORTER_OTLP_HEADERS (`key=value,key=value`): what the collector asks of senders. */
  headers: Record<string, string>;
  /** OTEL_SERVICE_NAME; each process names itself when absent (sales-process-api, sales-process-worker). */
  serviceName: string | null;
}

/** The customer view: mapping files, match rules and the nightly unification. */
export interface CustomerConfig {
  /** CUSTOMER_MAPPINGS_DIR: one JSON mapping per CSV layout (default config/customer-mappings). */
  mappingsDir: string;
  /** CUSTOMER_MATCH_RULES: the match/merge rules file (default config/customer-matching.json). */
  matchRulesFile: string;
  /** CUSTOMER_UNIFICATION_CRON: when the Schedule runs unification (default 02:00 daily); `off` for none. */
  unificationCron: string | null;
  /** CUSTOMER_UNIFICATION_TIMEZONE: the time zone of that cron expression (default UTC). */
  unificationTimezone: string;
  /** CUSTOMER_IMPORT_MAX_MB: the largest file `POST /imports` accepts (default 1024). */
  importMaxBytes: number;
  /**
   * UNIFICATION_SHARD_RECORDS: person records per shard of a full pass's match (default 200000);
   * fewer records than two shards' worth are matched in one activity.
   */
  shardRecords: number;
  /** UNIFICATION_SHARD_SLOTS: match shards one worker runs at once (default 1: one JavaScript thread). */
  shardSlots: number;
}

/** Lead imports from CSV files. */
export interface LeadConfig {
  /** LEAD_IMPORT_MAX_MB: the largest file `POST /leads/imports` accepts (default 20). */
  importMaxBytes: number;
}

export const DEFAULT_LEAD_IMPORT_MAX_MB = 20;

/**
 * The worker's sticky cache by default: with 10,000 running enrollments it keeps the worker under
 * 1 GiB (BENCHMARKS.md, "Sequences at volume"; docs/capacity.md). The SDK's own default grows with
 * the heap limit (≈ 2,300 runs with Node's 4 GiB here).
 */
export const DEFAULT_WORKER_MAX_CACHED_WORKFLOWS = 1000;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function str(env: Env, name: string): string | null {
  const value = env[name]?.trim();
  return value ? value : null;
}

function int(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) {
    throw new ConfigError(`${name} must be a port number (1-65535), got "${raw}"`);
  }
  return value;
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (/^(1|true|yes)$/i.test(raw)) return true;
  if (/^(0|false|no)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration such as `2d`, `36h`, `90m`, `30s` or `500ms`. */
function duration(env: Env, name: string, fallbackMs: number): number {
  const raw = str(env, name);
  if (raw === null) return fallbackMs;
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/i.exec(raw);
  const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2].toLowerCase()] : NaN;
  if (!Number.isFinite(ms) || ms <= 0) throw new ConfigError(`${name} must be a duration such as 2d, 36h or 90m, got "${raw}"`);
  return Math.round(ms);
}

/** A whole number of days, 0-365. */
function days(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  if (raw === null) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value > 365) throw new ConfigError(`${name} must be a whole number of days (0-365), got "${raw}"`);
  return value;
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function loadConfig(env: Env = process.env): Config {
  const logLevel = (str(env, 'LOG_LEVEL') ?? 'info').toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  const dataDir = path.resolve(PROJECT_ROOT, str(env, 'DATA_DIR') ?? '.data');
  return {
    databaseUrl: str(env, 'DATABASE_URL'),
    embeddedPostgresPort: int(env, 'EMBEDDED_PG_PORT', 54329),
    temporalAddress: str(env, 'TEMPORAL_ADDRESS'),
    temporalNamespace: str(env, 'TEMPORAL_NAMESPACE') ?? 'default',
    temporalDevPort: int(env, 'TEMPORAL_DEV_PORT', 7233),
    temporalUiPort: int(env, 'TEMPORAL_UI_PORT', 8233),
    taskQueue: str(env, 'TASK_QUEUE') ?? 'sales-process',
    port: int(env, 'PORT', 3000),
    publicUrl: str(env, 'PUBLIC_URL'),
    smtp: {
      host: str(env, 'SMTP_HOST'),
      port: int(env, 'SMTP_PORT', 1025),
      secure: bool(env, 'SMTP_SECURE', false),
      user: str(env, 'SMTP_USER'),
      password: str(env, 'SMTP_PASSWORD'),
      from: str(env, 'MAIL_FROM') ?? 'Contoso Home Security <sales@contoso.example>',
    },
    mailInboxPort: int(env, 'MAIL_INBOX_PORT', 1080),
    logLevel,
    dataDir,
    toolsDir: path.resolve(PROJECT_ROOT, str(env, 'TOOLS_DIR') ?? '.tools'),
    deals: {
      techCheckConsultantReminderMs: duration(env, 'TECH_CHECK_CONSULTANT_REMINDER', 2 * 86_400_000),
      techCheckManagerReminderMs: duration(env, 'TECH_CHECK_MANAGER_REMINDER', 5 * 86_400_000),
    },
    orders: {
      paymentTermsDays: days(env, 'PAYMENT_TERMS_DAYS', 30),
    },
    customers: customerConfig(env),
    leads: { importMaxBytes: positiveMb(env, 'LEAD_IMPORT_MAX_MB', DEFAULT_LEAD_IMPORT_MAX_MB) },
    workerMetricsPort: optionalPort(env, 'WORKER_METRICS_PORT', 9464),
    workerMaxCachedWorkflows: wholeNumber(env, 'WORKER_MAX_CACHED_WORKFLOWS', DEFAULT_WORKER_MAX_CACHED_WORKFLOWS),
    tracing: tracingConfig(env),
    inboundEmailSecret: str(env, 'INBOUND_EMAIL_SECRET'),
  };
}

function tracingConfig(env: Env): TracingConfig | null {
  const tracesEndpoint = str(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = str(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  if (tracesEndpoint === null && endpoint === null) return null;
  const name = tracesEndpoint !== null ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  let url: URL;
  try {
    url = new URL(tracesEndpoint ?? `${endpoint!.replace(/\/+$/, '')}/v1/traces`);
  } catch {
    throw new ConfigError(`${name} must be an http(s) URL, got "${tracesEndpoint ?? endpoint}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http(s) URL (OTLP over HTTP), got "${tracesEndpoint ?? endpoint}"`);
  const headers: Record<string, string> = {};
  for (const pair of (str(env, 'OTEL_EXPORTER_OTLP_HEADERS') ?? '').split(',')) {
    if (!pair.trim()) continue;
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError(`OTEL_EXPORTER_OTLP_HEADERS must be key=value pairs separated by commas, got "${pair.trim()}"`);
    headers[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return { tracesUrl: url.toString(), headers, serviceName: str(env, 'OTEL_SERVICE_NAME') };
}

/** A port, `0` for any free one, or `off`. */
function optionalPort(env: Env, name: string, fallback: number): number | null {
  const raw = str(env, name);
  if (raw === null) return fallback;
  if (/^off$/i.test(raw)) return null;
  if (raw === '0') return 0;
  return int(env, name, fallback);
}

function wholeNumber(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  const value = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new ConfigError(`${name} must be a whole number (0 or more), got "${raw}"`);
  return value;
}

function positiveMb(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  const mb = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(mb) || mb <= 0) throw new ConfigError(`${name} must be a positive whole number, got "${raw}"`);
  return mb * 1024 * 1024;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = str(env, name);
  const n = raw === null ? fallback : Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${name} must be a positive whole number, got "${raw}"`);
  return n;
}

function customerConfig(env: Env): CustomerConfig {
  const cron = str(env, 'CUSTOMER_UNIFICATION_CRON') ?? '0 2 * * *';
  if (cron !== 'off' && cron.split(/\s+/).length !== 5) {
    throw new ConfigError(`CUSTOMER_UNIFICATION_CRON must be a 5-field cron expression or "off", got "${cron}"`);
  }
  const maxMb = str(env, 'CUSTOMER_IMPORT_MAX_MB');
  const importMaxMb = maxMb === null ? 1024 : Number(maxMb);
  if (!Number.isInteger(importMaxMb) || importMaxMb <= 0) throw new ConfigError(`CUSTOMER_IMPORT_MAX_MB must be a positive whole number, got "${maxMb}"`);
  return {
    mappingsDir: path.resolve(PROJECT_ROOT, str(env, 'CUSTOMER_MAPPINGS_DIR') ?? 'config/customer-mappings'),
    matchRulesFile: path.resolve(PROJECT_ROOT, str(env, 'CUSTOMER_MATCH_RULES') ?? 'config/customer-matching.json'),
    unificationCron: cron === 'off' ? null : cron,
    unificationTimezone: str(env, 'CUSTOMER_UNIFICATION_TIMEZONE') ?? 'UTC',
    importMaxBytes: importMaxMb * 1024 * 1024,
    shardRecords: positiveInt(env, 'UNIFICATION_SHARD_RECORDS', 200_000),
    shardSlots: positiveInt(env, 'UNIFICATION_SHARD_SLOTS', 1),
  };
}

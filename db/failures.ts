/**
 * The one classification of failures met while talking to Postgres (and the other services an
 * activity or a request reaches): is it worth trying again? Activities use it to decide between a
 * retry with backoff and a non-retryable failure with a code (activities/lib/failures.ts); the API
 * uses it to decide between 503, 4xx and 500 (api/errors.ts).
 *
 * - transient: the service is away or busy (connection refused or reset, a timeout, the pool
 *   exhausted, Postgres shutting down or out of resources), or the transaction lost a race
 *   (serialization failure, deadlock, lock timeout). Trying again later can succeed.
 * - permanent: the data cannot be stored as it is (SQLSTATE class 22, data exceptions: NUL in text,
 *   a number out of range, an invalid date) or it breaks an integrity rule (class 23) that no guard
 *   expected, or the statement itself is wrong (class 42). Trying again gives the same answer.
 * - unknown: anything else (a bug, a library's error without a code). Tried again a few times in
 *   case it is a glitch, then treated as permanent, so nothing waits for ever on it.
 */
import { Rejection, type RejectionKind } from '../domain/rejection';

export type Retry = 'transient' | 'permanent' | 'unknown';

/**
 * What a failure is about, for the API's answer: the request's content (`invalid`), a clash with
 * what is stored (`conflict`), a record that is not there (`not_found`), our own fault
 * (`internal`), or a service that is away (`unavailable`).
 */
export type FailureKind = 'invalid' | 'conflict' | 'not_found' | 'internal' | 'unavailable';

export interface Classified {
  retry: Retry;
  kind: FailureKind;
  /** Stable, machine-readable: becomes the ApplicationFailure type and the problem's `code`. */
  code: string;
  message: string;
}

/** Node's and the drivers' connection-level error codes: the peer is away, not wrong. */
const TRANSIENT_NODE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'ENOTFOUND', 'EAI_AGAIN', 'ESOCKETTIMEDOUT',
  // nodemailer's: could not connect, the socket broke, DNS or TLS failed on the way.
  'ECONNECTION', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL',
]);

/** pg's messages for a connection that went away (it gives them no code). */
const CONNECTION_LOST = /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|timeout exceeded when trying to connect|Connection ended/i;

/** Data exceptions (class 22) worth their own code. */
const DATA_CODES: Record<string, string> = {
  '22001': 'value_too_long',
  '22003': 'number_out_of_range',
  '22007': 'invalid_datetime',
  '22008': 'invalid_datetime',
  '22021': 'invalid_text',
  '22P02': 'invalid_value',
  '22P05': 'invalid_text',
};

/** Integrity violations (class 23). */
const INTEGRITY_CODES: Record<string, string> = {
  '23502': 'missing_value',
  '23503': 'reference_not_found',
  '23505': 'duplicate',
  '23514': 'check_violation',
  '23P01': 'exclusion_violation',
};

/**
 * The kind of each code the classification gives a permanent failure, for whoever sees only the
 * code (an Update's failure that a workflow passed on without its details).
 */
export const PERMANENT_FAILURE_KINDS: Readonly<Record<string, FailureKind>> = {
  ...Object.fromEntries([...Object.values(DATA_CODES), 'invalid_data'].map((code) => [code, 'invalid' as const])),
  ...Object.fromEntries([...Object.values(INTEGRITY_CODES), 'integrity_violation'].map((code) => [code, 'conflict' as const])),
  statement_invalid: 'internal',
  internal_error: 'internal',
};

const sqlState = (error: unknown): string | null => {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
};

/** A refusal is permanent; what it is about, in this module's words. */
const REFUSAL_FAILURE_KINDS: Record<RejectionKind, FailureKind> = { state: 'conflict', content: 'invalid', field: 'invalid', not_found: 'not_found' };

export function classifyFailure(error: unknown): Classified {
  const message = (error as Error)?.message ?? String(error);
  if (error instanceof Rejection) return { retry: 'permanent', kind: REFUSAL_FAILURE_KINDS[error.kind], code: error.code, message };

  const state = sqlState(error);
  if (state) {
    const cls = state.slice(0, 2);
    // Lost a race: the same statement succeeds once the other transaction is done.
    if (state === '40001') return { retry: 'transient', kind: 'unavailable', code: 'serialization_failure', message };
    if (state === '40P01') return { retry: 'transient', kind: 'unavailable', code: 'deadlock', message };
    if (state === '55P03') return { retry: 'transient', kind: 'unavailable', code: 'lock_timeout', message };
    if (state === '57014') return { retry: 'transient', kind: 'unavailable', code: 'statement_timeout', message };
    // Connection (08), resources (53), operator intervention (57: shutdown, restart), system (58).
    if (['08', '53', '57', '58'].includes(cls)) return { retry: 'transient', kind: 'unavailable', code: 'database_unavailable', message };
    if (cls === '22') return { retry: 'permanent', kind: 'invalid', code: DATA_CODES[state] ?? 'invalid_data', message };
    if (cls === '23') return { retry: 'permanent', kind: 'conflict', code: INTEGRITY_CODES[state] ?? 'integrity_violation', message };
    if (cls === '42') return { retry: 'permanent', kind: 'internal', code: 'statement_invalid', message };
    if (cls === '40') return { retry: 'transient', kind: 'unavailable', code: 'transaction_rollback', message };
  }

  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && TRANSIENT_NODE_CODES.has(code)) return { retry: 'transient', kind: 'unavailable', code: 'service_unavailable', message };
  // An SMTP 4xx answer: the mail server asks us to come back later.
  const responseCode = (error as { responseCode?: unknown })?.responseCode;
  if (typeof responseCode === 'number' && responseCode >= 400 && responseCode < 500) return { retry: 'transient', kind: 'unavailable', code: 'mail_server_busy', message };
  const name = (error as Error)?.name;
  if (name === 'KnexTimeoutError' || CONNECTION_LOST.test(message)) return { retry: 'transient', kind: 'unavailable', code: 'database_unavailable', message };

  return { retry: 'unknown', kind: 'internal', code: 'internal_error', message };
}

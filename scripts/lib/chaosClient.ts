/**
 * The chaos run's HTTP client: a well-behaved client of the API, as README "What a client can rely
 * on" describes one, that counts everything it meets on the way.
 * - Every state-changing request carries an Idempotency-Key; every retry of it sends the same key.
 * - A connection error, a timeout, a 503 other than `still_processing` and a 409
 *   `idempotency_key_in_use` mean "retry later with the same key" (after `Retry-After`, else a
 *   growing backoff).
 * - A 503 `still_processing` is followed at its `Location` (`GET /operations/{id}`, same token)
 *   until it is final: `succeeded` is the answer (the workflow's result), `failed` the refusal,
 *   `not_applied` means nothing happened, so the request is sent again (same key).
 * - A 500 is never expected: it is recorded as a finding, then retried with the same key (the key
 *   makes that safe).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How long one HTTP attempt may take before the client gives up on it (and retries). */
const ATTEMPT_TIMEOUT_MS = 45_000;
const FIRST_BACKOFF_MS = 300;
const MAX_BACKOFF_MS = 4_000;

/** What the client saw, over all its requests. */
export interface ClientStats {
  /** Logical requests (a request and all its retries count once). */
  requests: number;
  /** HTTP attempts, operation polls included. */
  attempts: number;
  /** Attempts sent again with the same key after an answer that was not final. */
  retries: number;
  connectionErrors: number;
  timeouts: number;
  /** Non-final 503s by code (`still_processing`, `database_unavailable`, …). */
  unavailable: Record<string, number>;
  keyInUse: number;
  /** Answers replayed from the idempotency store (`Idempotent-Replayed: true`). */
  replayed: number;
  /** `GET /operations/{id}` attempts, and the final outcomes they gave. */
  operationPolls: number;
  operations: Record<'succeeded' | 'failed' | 'not_applied', number>;
  /** Final answers by HTTP status (`operation 200`: a `succeeded` operation, `operation 409`: a `failed` one). */
  finalStatus: Record<string, number>;
  /** The longest time a logical request took to its final answer, retries and polls included. */
  longestMs: number;
  /** Logical requests that needed more than one attempt (or a poll) to get their final answer. */
  delayed: number;
  /** 5xx other than 503: never expected. */
  serverErrors: Array<{ at: string; method: string; path: string; status: number; body: unknown }>;
}

export function emptyStats(): ClientStats {
  return {
    requests: 0, attempts: 0, retries: 0, connectionErrors: 0, timeouts: 0, unavailable: {}, keyInUse: 0, replayed: 0, longestMs: 0, delayed: 0,
    operationPolls: 0, operations: { succeeded: 0, failed: 0, not_applied: 0 }, finalStatus: {}, serverErrors: [],
  };
}

export function addStats(into: ClientStats, from: ClientStats): void {
  for (const key of ['requests', 'attempts', 'retries', 'connectionErrors', 'timeouts', 'keyInUse', 'replayed', 'operationPolls', 'delayed'] as const) into[key] += from[key];
  into.longestMs = Math.max(into.longestMs, from.longestMs);
  for (const [code, n] of Object.entries(from.unavailable)) into.unavailable[code] = (into.unavailable[code] ?? 0) + n;
  for (const [status, n] of Object.entries(from.finalStatus)) into.finalStatus[status] = (into.finalStatus[status] ?? 0) + n;
  for (const key of ['succeeded', 'failed', 'not_applied'] as const) into.operations[key] += from.operations[key];
  into.serverErrors.push(...from.serverErrors);
}

/** A final answer. `viaOperation`: it came from `GET /operations/{id}` (the body is the workflow's result or the problem). */
export interface Answer {
  status: number;
  body: any;
  viaOperation: boolean;
  /** Some attempt before this answer may have taken effect (a lost answer, a 500, a timeout). */
  uncertainBefore: boolean;
  /** `METHOD path` and every attempt: seconds since the first, what came back (with the API's requestId). */
  trace: string[];
}

export class GaveUp extends Error {}

interface Attempt {
  status: number;
  body: any;
  headers: Headers;
}

export class ChaosClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
    readonly stats: ClientStats,
    /** Whether a request still unanswered should be given up now (the process is stuck). */
    private readonly giveUp: () => boolean,
  ) {}

  private async attempt(method: string, path: string, body: unknown, key: string | null): Promise<Attempt | 'connection' | 'timeout'> {
    this.stats.attempts += 1;
    try {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${this.token}`,
          ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
          ...(key ? { 'Idempotency-Key': key } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      const text = await response.text();
      let parsed: unknown = text;
      if (/json/.test(response.headers.get('content-type') ?? '') && text) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: response.status, body: parsed, headers: response.headers };
    } catch (error) {
      if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
        this.stats.timeouts += 1;
        return 'timeout';
      }
      this.stats.connectionErrors += 1;
      return 'connection';
    }
  }

  /** How long to wait before the next attempt: the server's Retry-After, else the backoff. */
  private static wait(headers: Headers | null, backoff: number): number {
    const after = Number(headers?.get('retry-after'));
    return Number.isFinite(after) && after > 0 ? Math.min(after * 1000, MAX_BACKOFF_MS) : backoff;
  }

  /** A read: retried until it is answered (not 5xx). */
  async get(path: string): Promise<Answer> {
    return this.send('GET', path, undefined, null);
  }

  /**
   * One logical request, retried with the same key until it has a final answer (anything but a
   * connection error, a timeout, a 5xx or `idempotency_key_in_use`; a `still_processing` is
   * followed to its outcome).
   */
  async send(method: string, path: string, body: unknown, key: string | null): Promise<Answer> {
    this.stats.requests += 1;
    const started = Date.now();
    const trace: string[] = [`${method} ${path}${key ? ` (Idempotency-Key ${key})` : ''} from ${new Date(started).toISOString()}`];
    const note = (what: string) => trace.push(`${((Date.now() - started) / 1000).toFixed(1)} s ${what}`);
    let backoff = FIRST_BACKOFF_MS;
    let uncertain = false;
    for (let first = true; ; first = false) {
      if (this.giveUp()) throw new GaveUp(`${method} ${path}: no final answer after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      if (!first) this.stats.retries += 1;
      const reply = await this.attempt(method, path, body, key);
      note(typeof reply === 'string' ? reply : `${reply.status} ${reply.body?.code ?? ''} ${reply.body?.requestId ?? ''}`.trim());
      let waitMs = backoff;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      if (reply === 'connection' || reply === 'timeout') {
        // The request may have reached the API before it died: its outcome is unknown.
        uncertain = true;
      } else if (reply.status === 503 && reply.body?.code === 'still_processing' && reply.headers.get('location')) {
        this.count503('still_processing');
        const outcome = await this.follow(reply.headers.get('location')!, started);
        note(`operation ${outcome === 'not_applied' ? 'not_applied' : outcome.status}`);
        if (outcome !== 'not_applied') {
          this.countFinal(`operation ${outcome.status}`, started, true);
          return { ...outcome, viaOperation: true, uncertainBefore: uncertain, trace };
        }
        // Nothing happened: the same request again, at once.
        waitMs = 0;
      } else if (reply.status === 503) {
        this.count503(reply.body?.code ?? 'no_code');
        waitMs = ChaosClient.wait(reply.headers, waitMs);
      } else if (reply.status === 409 && reply.body?.code === 'idempotency_key_in_use') {
        this.stats.keyInUse += 1;
        waitMs = ChaosClient.wait(reply.headers, waitMs);
      } else if (reply.status >= 500) {
        this.stats.serverErrors.push({ at: new Date().toISOString(), method, path, status: reply.status, body: reply.body });
        uncertain = true;
      } else {
        if (reply.headers.get('idempotent-replayed') === 'true') this.stats.replayed += 1;
        this.countFinal(String(reply.status), started, !first);
        return { status: reply.status, body: reply.body, viaOperation: false, uncertainBefore: uncertain, trace };
      }
      if (waitMs > 0) await sleep(waitMs);
    }
  }

  private countFinal(status: string, started: number, delayed: boolean): void {
    this.stats.finalStatus[status] = (this.stats.finalStatus[status] ?? 0) + 1;
    this.stats.longestMs = Math.max(this.stats.longestMs, Date.now() - started);
    if (delayed) this.stats.delayed += 1;
  }

  private count503(code: string): void {
    this.stats.unavailable[code] = (this.stats.unavailable[code] ?? 0) + 1;
  }

  /** Polls an operation until it is final; `succeeded` and `failed` become the answer. */
  private async follow(location: string, started: number): Promise<{ status: number; body: any } | 'not_applied'> {
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      if (this.giveUp()) throw new GaveUp(`operation ${location.slice(0, 60)}…: still pending after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      this.stats.operationPolls += 1;
      const reply = await this.attempt('GET', location, undefined, null);
      let waitMs = backoff;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      if (reply !== 'connection' && reply !== 'timeout') {
        if (reply.status === 200 && reply.body?.status === 'succeeded') {
          this.stats.operations.succeeded += 1;
          return { status: 200, body: reply.body.result };
        }
        if (reply.status === 200 && reply.body?.status === 'failed') {
          this.stats.operations.failed += 1;
          return { status: reply.body.problem?.status ?? 409, body: reply.body.problem };
        }
        if (reply.status === 200 && reply.body?.status === 'not_applied') {
          this.stats.operations.not_applied += 1;
          return 'not_applied';
        }
        if (reply.status >= 500 && reply.status !== 503) {
          this.stats.serverErrors.push({ at: new Date().toISOString(), method: 'GET', path: location, status: reply.status, body: reply.body });
        } else if (reply.status !== 200 && reply.status !== 503) {
          throw new GaveUp(`${location}: ${reply.status} ${JSON.stringify(reply.body)}`);
        }
        waitMs = ChaosClient.wait(reply.headers, waitMs);
      }
      await sleep(waitMs);
    }
  }
}

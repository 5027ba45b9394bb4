/**
 * The console's only way to the API: openapi-fetch typed by the API's own OpenAPI document
 * (schema.d.ts is generated from it at build time), with the signed-in user's token.
 *
 * What the API promises a client (README "What a client can rely on"), kept here once:
 * - every change is sent with an Idempotency-Key made once per user action, so a retried click or
 *   a retry after a timeout never acts twice;
 * - 503 `still_processing` is followed to its outcome (`Location: /operations/{id}`), then the same
 *   request is sent again with the same key, which returns the first answer;
 * - a 409 `idempotency_key_in_use` and the other 503s changed nothing: retried after `Retry-After`;
 * - every refusal is a problem+json whose `detail` is shown where the user acted.
 */
import createClient from 'openapi-fetch';
import type { paths } from './schema';

export type { paths };

export interface Problem {
  status: number;
  code: string;
  detail: string;
  title?: string;
  field?: string;
  errors?: Array<{ field: string; code: string; message: string }>;
  requestId?: string;
}

export class ProblemError extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = 'ProblemError';
  }
}

const TOKEN_KEY = 'contoso.console.token';

export const session = {
  token: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token: string): void => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: (): void => sessionStorage.removeItem(TOKEN_KEY),
};

export const api = createClient<paths>({ baseUrl: location.origin });
api.use({
  onRequest({ request }) {
    const token = session.token();
    if (token) request.headers.set('Authorization', `Bearer ${token}`);
    return request;
  },
});

/** What every openapi-fetch call returns, loosely: the body on success, the problem otherwise. */
interface Answer<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

function toProblem(response: Response, error: unknown): Problem {
  if (error && typeof error === 'object' && 'code' in error && 'detail' in error) return error as Problem;
  return { status: response.status, code: `http_${response.status}`, detail: `The server answered ${response.status} ${response.statusText}`.trim() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterMs(response: Response, fallback: number): number {
  const seconds = Number(response.headers.get('Retry-After'));
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds * 1000, 10_000) : fallback;
}

/** Listeners told when the token is refused, so the app can ask to sign in again. */
const unauthorized = new Set<() => void>();
export const onUnauthorized = (listener: () => void): (() => void) => {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
};

function fail(response: Response, error: unknown): never {
  const problem = toProblem(response, error);
  if (problem.status === 401) for (const listener of unauthorized) listener();
  throw new ProblemError(problem);
}

/** A read: the body, or a ProblemError. Reads are safe to repeat; an outage is retried briefly. */
export async function read<T>(send: () => Promise<Answer<T>>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const { data, error, response } = await send();
    if (response.ok) return data as T;
    if (response.status === 503 && attempt < 3) {
      await sleep(retryAfterMs(response, 1000));
      continue;
    }
    fail(response, error);
  }
}

const TRANSIENT = new Set(['database_unavailable', 'temporal_unavailable', 'worker_unavailable', 'idempotency_key_in_use']);
const MAX_ATTEMPTS = 6;
const POLL_LIMIT_MS = 60_000;

/** Waits for a `still_processing` change to end; true when it took effect, false when it did not. */
async function followOperation(location: string): Promise<boolean> {
  const id = decodeURIComponent(location.replace(/^.*\/operations\//, ''));
  const until = Date.now() + POLL_LIMIT_MS;
  let wait = 500;
  while (Date.now() < until) {
    const operation = await read(() => api.GET('/operations/{id}', { params: { path: { id } } }));
    if (operation.status === 'succeeded') return true;
    if (operation.status === 'not_applied') return false;
    if (operation.status === 'failed') {
      const p = operation.problem;
      throw new ProblemError({ status: p?.status ?? 500, code: p?.code ?? 'failed', detail: p?.detail ?? 'The change failed' });
    }
    await sleep(wait);
    wait = Math.min(wait * 2, 4000);
  }
  throw new ProblemError({ status: 503, code: 'still_processing', detail: 'The change is still being processed. Reload in a moment to see whether it took effect.' });
}

/**
 * One user action that changes something: `send` is called with the action's Idempotency-Key, and
 * again with the same key whenever the API says the outcome is not known yet or nothing changed
 * for a passing reason.
 */
export async function act<T>(send: (idempotencyKey: string) => Promise<Answer<T>>): Promise<T> {
  const key = crypto.randomUUID();
  for (let attempt = 1; ; attempt++) {
    const { data, error, response } = await send(key);
    if (response.ok) return data as T;
    const problem = toProblem(response, error);
    if (attempt < MAX_ATTEMPTS && problem.code === 'still_processing' && response.headers.get('Location')) {
      // Took effect: the same key now replays the first answer. Not applied: sending it again is safe.
      await followOperation(response.headers.get('Location')!);
      continue;
    }
    if (attempt < MAX_ATTEMPTS && TRANSIENT.has(problem.code)) {
      await sleep(retryAfterMs(response, 500 * attempt));
      continue;
    }
    fail(response, error);
  }
}

type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : never;
/** The JSON body of an operation's success answer. */
export type Body<P extends keyof paths, M extends keyof paths[P], S extends number = 200> =
  paths[P][M] extends { responses: infer Rs } ? (S extends keyof Rs ? JsonOf<Rs[S]> : never) : never;

export type Me = Body<'/me', 'get'>;
export type Role = Me['role'];
export type Lead = Body<'/leads/{id}', 'get'>;
export type Nurture = Body<'/leads/{id}/nurture', 'get'>;
export type Deal = Body<'/deals/{id}', 'get'>;
export type DealSummary = Body<'/deals', 'get'>['data'][number];
export type DealStage = Deal['stage'];
export type Quote = Deal['quotes'][number];
export type Activity = Body<'/me/activities', 'get'>['data'][number];
export type TimelineEntry = Body<'/leads/{id}/timeline', 'get'>['data'][number];
export type Product = Body<'/products', 'get'>['data'][number];
export type Order = Body<'/orders/{id}', 'get'>;
export type Customer = Body<'/customers/{id}', 'get'>;
export type AuditEntry = Body<'/audit', 'get'>['data'][number];

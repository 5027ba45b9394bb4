/**
 * Idempotency for every state-changing route, in one place (`mount` applies it to each route
 * declared `idempotent`; handlers never read the header themselves).
 *
 * A request that carries an `Idempotency-Key` is one operation, whatever happens to it:
 * - its first run claims the key (a row without a response); a retry with the same key and the
 *   same request waits for that run and gets its stored response back (`Idempotent-Replayed:
 *   true`); the same key with a different request is 422 `idempotency_key_reused`;
 * - only a success (2xx) is stored; a refusal or an outage releases the key, so the client can
 *   simply retry (a refusal wrote nothing);
 * - every Update the request sends to a workflow has an id derived from the key (`operationKey`),
 *   so a retry after a 503 `still_processing`, or after the API died midway, is the same Update
 *   and Temporal applies it once; every record it creates can take a key-derived id
 *   (`idFor`), so a rerun finds the record instead of creating a second one;
 * - a claim whose request never finished (its API process died) is taken over by a retry once it
 *   is older than CLAIM_STALE_MS; a retry that finds the first run still going waits at most
 *   WAIT_MS and is then told 409 `idempotency_key_in_use` with a `Retry-After`.
 * Without a key, the operation key is the request id: each request is its own operation.
 */
import crypto from 'node:crypto';
import type { Request } from 'express';
import type { Db } from '../db/knex';
import { HttpError } from './errors';
import type { HandlerResult } from './http';

export const IDEMPOTENCY_KEY_MAX_LENGTH = 200;
/** Visible ASCII: a key travels in a header and in ids. */
export const IDEMPOTENCY_KEY_PATTERN = '^[\\x21-\\x7E]+$';
const KEY_RE = new RegExp(IDEMPOTENCY_KEY_PATTERN);
/** Longer than any request may run (the Update deadline is 10 s, a few reads around it). */
const CLAIM_STALE_MS = 30_000;
/** How long a concurrent retry waits for the first run before it is told to come back. */
const WAIT_MS = 15_000;
const WAIT_STEP_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Operation {
  /** The client's Idempotency-Key, when it sent one. */
  key: string | null;
  /**
   * Names this operation: the caller, the method and path, and the key (or the request id). The
   * id of any Update the request sends to a workflow.
   */
  operationKey: string;
}

function invalidKey(): HttpError {
  const message = `must be 1-${IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters`;
  return new HttpError(400, 'validation_failed', `Idempotency-Key: ${message}`, {
    field: 'Idempotency-Key', errors: [{ field: 'Idempotency-Key', code: 'invalid_value', message }],
  });
}

export function operationOf(req: Request): Operation {
  const key = req.header('idempotency-key') ?? null;
  if (key !== null && (key.length === 0 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH || !KEY_RE.test(key))) throw invalidKey();
  const operationKey = `u:${req.user!.id}|${req.method} ${req.path}|${key === null ? `r:${req.requestId}` : `k:${key}`}`;
  return { key, operationKey };
}

/** The user an operation key (an Update id) belongs to. */
export function operationOwner(operationKey: string): string | null {
  const match = /^u:([^|]+)\|/.exec(operationKey);
  return match ? match[1] : null;
}

/**
 * A record id derived from the operation (UUID, version 5 layout over SHA-1): the same keyed
 * request creates the same id, so a rerun meets the record it created before. Without a key, null:
 * the store picks a fresh id.
 */
export function idFor(operation: Operation, what: string): string | null {
  if (operation.key === null) return null;
  const hash = crypto.createHash('sha1').update(`${operation.operationKey}#${what}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Runs `run` once per Idempotency-Key (see the module comment); without a key, just runs it. */
export async function withIdempotency(db: Db, req: Request, operation: Operation, run: () => Promise<HandlerResult>): Promise<HandlerResult> {
  const { key } = operation;
  if (key === null) return run();
  const userId = req.user!.id;
  const requestHash = crypto.createHash('sha256').update(`${req.method} ${req.path}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
  const row = { user_id: userId, key };
  const deadline = Date.now() + WAIT_MS;

  for (;;) {
    const claimed = await db('idempotency_keys')
      .insert({ ...row, method: req.method, path: req.path, request_hash: requestHash, status_code: null, response_body: null })
      .onConflict(['user_id', 'key'])
      .ignore()
      .returning('key');
    const taken = claimed.length === 1 || (await takeOverStale(db, userId, key, requestHash));
    if (taken) return runClaimed(db, row, run);

    const stored = await db('idempotency_keys').where(row).first();
    if (!stored) continue; // the first attempt failed and released the key: claim it now
    if (stored.request_hash !== requestHash) {
      throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request', { field: 'Idempotency-Key' });
    }
    if (stored.status_code !== null) {
      return { status: stored.status_code, body: stored.response_body, headers: { ...(stored.response_headers ?? {}), 'Idempotent-Replayed': 'true' } };
    }
    if (Date.now() > deadline) {
      throw new HttpError(409, 'idempotency_key_in_use', 'a request with this Idempotency-Key is still being processed; retry it shortly to get its outcome', { field: 'Idempotency-Key' }, { 'Retry-After': '2' });
    }
    await sleep(WAIT_STEP_MS);
  }
}

async function runClaimed(db: Db, row: { user_id: string; key: string }, run: () => Promise<HandlerResult>): Promise<HandlerResult> {
  let result: HandlerResult;
  try {
    result = await run();
  } catch (error) {
    await bookkeeping(db('idempotency_keys').where(row).whereNull('status_code').delete());
    throw error;
  }
  if (result.status < 300) {
    await bookkeeping(db('idempotency_keys').where(row).update({
      status_code: result.status, response_body: JSON.stringify(result.body ?? null), response_headers: result.headers ? JSON.stringify(result.headers) : null,
    }));
  } else {
    await bookkeeping(db('idempotency_keys').where(row).whereNull('status_code').delete());
  }
  return result;
}

/**
 * Recording or releasing a claim never changes the answer: the request's own outcome (or its
 * error, such as 503 still_processing) is what the client must see. When PostgreSQL is gone at
 * this moment the claim stays unfinished, and a retry with the same key takes it over after
 * CLAIM_STALE_MS and runs the request again, which every keyed write makes harmless.
 */
async function bookkeeping(write: PromiseLike<unknown>): Promise<void> {
  try {
    await write;
  } catch {
    // see above: the claim is left for a retry to take over
  }
}

/** A claim whose request never finished (its process died): the same request may take it over. */
async function takeOverStale(db: Db, userId: string, key: string, requestHash: string): Promise<boolean> {
  const updated = await db('idempotency_keys')
    .where({ user_id: userId, key, request_hash: requestHash })
    .whereNull('status_code')
    .where('created_at', '<', db.raw(`now() - interval '${CLAIM_STALE_MS} milliseconds'`))
    .update({ created_at: db.fn.now() });
  return updated === 1;
}

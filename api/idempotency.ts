/**
 * `Idempotency-Key` for POSTs that start things: a retried request (same user, same key, same
 * body) gets the first successful response back instead of acting twice. The first request claims
 * the key (a row without a response), runs, and stores its response if it succeeded (a failure
 * releases the claim, so the request can simply be retried). A concurrent retry waits for the claim
 * to resolve and then replays the stored response (or runs, if the first failed). Nothing holds a
 * database connection while the request runs: a claim is a row, not an open transaction. A claim
 * left behind by a crashed process is taken over once it is older than CLAIM_STALE_MS.
 */
import crypto from 'node:crypto';
import type { Request } from 'express';
import type { Db } from '../db/knex';
import { HttpError } from './errors';
import type { HandlerResult } from './http';

const MAX_KEY_LENGTH = 200;
/** Longer than any request may take (the API's workflow deadline is 10 s). */
const CLAIM_STALE_MS = 120_000;
const WAIT_STEP_MS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function withIdempotency(db: Db, req: Request, run: () => Promise<HandlerResult>): Promise<HandlerResult> {
  const key = req.header('idempotency-key');
  if (key === undefined) return run();
  if (key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new HttpError(400, 'validation_failed', `Idempotency-Key must be 1-${MAX_KEY_LENGTH} characters`, {
      field: 'Idempotency-Key', errors: [{ field: 'Idempotency-Key', code: 'invalid_value', message: `must be 1-${MAX_KEY_LENGTH} characters` }],
    });
  }
  const userId = req.user!.id;
  const requestHash = crypto.createHash('sha256').update(`${req.method} ${req.path}\n${JSON.stringify(req.body ?? null)}`).digest('hex');
  const row = { user_id: userId, key };

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
      throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request');
    }
    if (stored.status_code !== null) {
      return { status: stored.status_code, body: stored.response_body, headers: { 'Idempotent-Replayed': 'true' } };
    }
    await sleep(WAIT_STEP_MS);
  }
}

async function runClaimed(db: Db, row: { user_id: string; key: string }, run: () => Promise<HandlerResult>): Promise<HandlerResult> {
  let result: HandlerResult;
  try {
    result = await run();
  } catch (error) {
    await db('idempotency_keys').where(row).whereNull('status_code').delete();
    throw error;
  }
  if (result.status < 300) {
    await db('idempotency_keys').where(row).update({ status_code: result.status, response_body: JSON.stringify(result.body ?? null) });
  } else {
    await db('idempotency_keys').where(row).whereNull('status_code').delete();
  }
  return result;
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

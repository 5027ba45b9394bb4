/**
 * `Idempotency-Key` for POSTs that start things: a retried request (same user, same key, same
 * body) gets the first successful response back instead of acting twice. Concurrent retries are
 * serialised by a transaction-scoped advisory lock on the key; only successes are remembered, so a
 * failed attempt can simply be retried.
 */
import crypto from 'node:crypto';
import type { Request } from 'express';
import type { Db } from '../db/knex';
import { HttpError } from './errors';
import type { HandlerResult } from './http';

const MAX_KEY_LENGTH = 200;

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
  return db.transaction(async (trx) => {
    await trx.raw('select pg_advisory_xact_lock(hashtextextended(?, 0))', [`${userId}:${key}`]);
    const stored = await trx('idempotency_keys').where({ user_id: userId, key }).first();
    if (stored) {
      if (stored.request_hash !== requestHash) {
        throw new HttpError(422, 'idempotency_key_reused', 'this Idempotency-Key was used for a different request');
      }
      return { status: stored.status_code, body: stored.response_body, headers: { 'Idempotent-Replayed': 'true' } };
    }
    const result = await run();
    if (result.status < 300) {
      await trx('idempotency_keys').insert({
        user_id: userId, key, method: req.method, path: req.path, request_hash: requestHash,
        status_code: result.status, response_body: JSON.stringify(result.body ?? null),
      });
    }
    return result;
  });
}

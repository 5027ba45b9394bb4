/**
 * The change ledger: every change a deal's or an order's workflow asks for is numbered
 * (`<workflowId>/change-<n>`) and written at most once. Inside the change's transaction the key is
 * claimed first; a retry finds it claimed and gets the stored result back, and only a retry does
 * (a key claimed by another kind of change or another record is a run counting again after a
 * reset: its result is not ours, and the refusal says the workflow is out of step).
 */
import type { Knex } from 'knex';
import { ConflictError } from '../../domain/rejection';
import type { Db } from '../../db/knex';

export interface ChangeLedger {
  /** deal_changes, order_changes */
  table: string;
  /** The column naming the record the change belongs to (deal_id, order_id). */
  recordColumn: string;
  /** The refusal's code when the key belongs to another change. */
  outOfStepCode: string;
}

export interface LedgerEntry {
  key: string;
  recordId: string;
  kind: string;
}

/**
 * Runs `apply` once for `entry`: the first time it writes and stores its result in the ledger, in
 * `trx`; a retry returns that stored result without applying again.
 */
export async function applyOnce<R>(
  trx: Knex.Transaction, ledger: ChangeLedger, entry: LedgerEntry, apply: () => Promise<R>, onRetry?: () => void,
): Promise<R> {
  const claimed = await trx(ledger.table)
    .insert({ idempotency_key: entry.key, [ledger.recordColumn]: entry.recordId, kind: entry.kind })
    .onConflict('idempotency_key').ignore()
    .returning('idempotency_key');
  if (claimed.length === 0) {
    const done = await trx(ledger.table).where({ idempotency_key: entry.key }).first('result', 'kind', ledger.recordColumn);
    if (done.kind !== entry.kind || done[ledger.recordColumn] !== entry.recordId) {
      throw new ConflictError(ledger.outOfStepCode, `change ${entry.key} is a ${done.kind} already recorded in the database, not this ${entry.kind}`);
    }
    onRetry?.();
    return done.result as R;
  }
  const result = await apply();
  await trx(ledger.table).where({ idempotency_key: entry.key }).update({ result: JSON.stringify(result) });
  return result;
}

/** The highest change number the ledger holds for the record under this workflow id (0: none). */
export async function lastChangeNumber(db: Db, ledger: ChangeLedger, recordId: string, workflowId: string): Promise<number> {
  const [{ last }] = await db(ledger.table)
    .where({ [ledger.recordColumn]: recordId })
    .whereLike('idempotency_key', `${workflowId}/change-%`)
    .select(db.raw("coalesce(max(substring(idempotency_key from '/change-([0-9]+)$')::int), 0) as last"));
  return Number(last);
}

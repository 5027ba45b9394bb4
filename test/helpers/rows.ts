/**
 * Rows the tests read straight from Postgres with knex (which leaves them untyped): the columns they
 * use, as node-postgres returns them (bigint and numeric as numbers: db/knex.ts; jsonb parsed).
 */

export interface AuditRow<T = unknown> {
  id: number;
  at: Date;
  actor_type: 'user' | 'workflow' | 'system';
  actor_id: string;
  action: string;
  entity_type: string;
  entity_id: string;
  before: T | null;
  after: T | null;
  request_id: string | null;
}

export interface DealRow {
  id: string;
  stage: string;
  status: string;
  move_seq: number;
}

export interface DealStageMoveRow {
  seq: number;
  from_stage: string;
  to_stage: string;
  reason: string | null;
}

export interface InvoiceRow {
  id: string;
  order_id: string;
  status: string;
  total_cents: number;
  paid_cents: number;
}

export interface InvoicePaymentRow {
  invoice_id: string;
  kind: string;
  amount_cents: number;
}

export interface AccountRow {
  id: string;
  parent_account_id: string | null;
}

export interface QuoteRow {
  id: string;
  status: string;
}

/**
 * One way to say no. A refusal carries a stable `code` (the API's problem code) and a `kind`:
 * - `state`: the record's state forbids it now (a closed deal, an invoice already paid);
 * - `content`: the request's content is wrong whatever the state (a payment amount that does not
 *   match its kind, a missing reason);
 * - `field`: one field's value is not acceptable (named by `field`);
 * - `not_found`: the record is not there.
 * No HTTP status here: api/errors.ts decides it from the kind, in one place. Rules return refusals
 * as plain data (workflows pass them on in failure details); stores throw them as `Rejection`.
 */

export type RejectionKind = 'state' | 'content' | 'field' | 'not_found';

export interface Refusal<C extends string = string> {
  code: C;
  kind: RejectionKind;
  message: string;
  /** The field to blame, when one is. */
  field?: string;
  /** What the answer may show about the state behind the refusal (`orderStatus`, `balanceCents`, …). */
  details?: Record<string, unknown>;
}

export class Rejection extends Error {
  readonly kind: RejectionKind;
  readonly code: string;
  readonly field?: string;
  readonly details?: Record<string, unknown>;

  constructor(refusal: Refusal) {
    super(refusal.message);
    this.name = new.target.name;
    this.kind = refusal.kind;
    this.code = refusal.code;
    this.field = refusal.field;
    this.details = refusal.details;
  }

  refusal(): Refusal {
    return { code: this.code, kind: this.kind, message: this.message, ...(this.field ? { field: this.field } : {}), ...(this.details ? { details: this.details } : {}) };
  }
}

/** The record does not exist (or the caller may not know it does). */
export class NotFoundError extends Rejection {
  constructor(entity: string, id: string) {
    super({ kind: 'not_found', code: `${entity}_not_found`, message: `${entity.replace(/_/g, ' ')} ${id} was not found` });
  }
}

/** The request is well-formed but the record's current state forbids it. */
export class ConflictError extends Rejection {
  constructor(code: string, message: string, field?: string, details?: Record<string, unknown>) {
    super({ kind: 'state', code, message, field, details });
  }
}

/** The request is well-formed but breaks a business rule about its content. */
export class UnprocessableError extends Rejection {
  constructor(code: string, message: string, field?: string, details?: Record<string, unknown>) {
    super({ kind: 'content', code, message, field, details });
  }
}

/** A field's value is not acceptable. */
export class InvalidFieldError extends Rejection {
  constructor(field: string, code: string, message: string) {
    super({ kind: 'field', code, message, field });
  }
}

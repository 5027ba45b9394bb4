/**
 * Every failure an activity or a request can meet is classified in one place (db/failures.ts) and
 * turned into the activity's failure in one place (activities/lib/failures.ts): what is worth
 * retrying retries, what cannot succeed fails at once with a code.
 */
import assert from 'node:assert/strict';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ConflictError, InvalidFieldError, NotFoundError } from '../../domain/rejection';
import { classifyFailure } from '../../db/failures';
import { InexactNumberError } from '../../db/knex';
import { UNKNOWN_FAILURE_ATTEMPTS, activityFailure } from '../../activities/lib/failures';

const pgError = (code: string, message = `pg ${code}`) => Object.assign(new Error(message), { code, severity: 'ERROR' });
const nodeError = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

describe('failure classification', function () {
  const cases: Array<[string, unknown, { retry: string; kind: string; code: string }]> = [
    ['a NUL in text (22021)', pgError('22021'), { retry: 'permanent', kind: 'invalid', code: 'invalid_text' }],
    ['a number out of range (22003)', pgError('22003'), { retry: 'permanent', kind: 'invalid', code: 'number_out_of_range' }],
    ['an impossible date (22008)', pgError('22008'), { retry: 'permanent', kind: 'invalid', code: 'invalid_datetime' }],
    ['any other data exception (22023)', pgError('22023'), { retry: 'permanent', kind: 'invalid', code: 'invalid_data' }],
    ['an unexpected unique violation (23505)', pgError('23505'), { retry: 'permanent', kind: 'conflict', code: 'duplicate' }],
    ['a foreign key violation (23503)', pgError('23503'), { retry: 'permanent', kind: 'conflict', code: 'reference_not_found' }],
    ['a check violation (23514)', pgError('23514'), { retry: 'permanent', kind: 'conflict', code: 'check_violation' }],
    ['a statement that cannot run (42P01)', pgError('42P01'), { retry: 'permanent', kind: 'internal', code: 'statement_invalid' }],
    ['a serialization failure (40001)', pgError('40001'), { retry: 'transient', kind: 'unavailable', code: 'serialization_failure' }],
    ['a deadlock (40P01)', pgError('40P01'), { retry: 'transient', kind: 'unavailable', code: 'deadlock' }],
    ['a lock timeout (55P03)', pgError('55P03'), { retry: 'transient', kind: 'unavailable', code: 'lock_timeout' }],
    ['Postgres shutting down (57P01)', pgError('57P01'), { retry: 'transient', kind: 'unavailable', code: 'database_unavailable' }],
    ['too many connections (53300)', pgError('53300'), { retry: 'transient', kind: 'unavailable', code: 'database_unavailable' }],
    ['a refused connection', nodeError('ECONNREFUSED'), { retry: 'transient', kind: 'unavailable', code: 'service_unavailable' }],
    ['a reset connection', nodeError('ECONNRESET'), { retry: 'transient', kind: 'unavailable', code: 'service_unavailable' }],
    ['a timeout', nodeError('ETIMEDOUT'), { retry: 'transient', kind: 'unavailable', code: 'service_unavailable' }],
    ['an SMTP connection failure', nodeError('ECONNECTION'), { retry: 'transient', kind: 'unavailable', code: 'service_unavailable' }],
    ['an SMTP 4xx answer', Object.assign(new Error('451 try later'), { responseCode: 451 }), { retry: 'transient', kind: 'unavailable', code: 'mail_server_busy' }],
    ['an exhausted pool', Object.assign(new Error('Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' }), { retry: 'transient', kind: 'unavailable', code: 'database_unavailable' }],
    ['a connection pg lost', new Error('Connection terminated unexpectedly'), { retry: 'transient', kind: 'unavailable', code: 'database_unavailable' }],
    ['a sum not exact as a number', new InexactNumberError('9007199254740993'), { retry: 'permanent', kind: 'invalid', code: 'number_out_of_range' }],
    ['a rule refusal', new ConflictError('deal_closed', 'closed'), { retry: 'permanent', kind: 'conflict', code: 'deal_closed' }],
    ['a bad field', new InvalidFieldError('name', 'too_long', 'too long'), { retry: 'permanent', kind: 'invalid', code: 'too_long' }],
    ['a missing record', new NotFoundError('deal', 'x'), { retry: 'permanent', kind: 'not_found', code: 'deal_not_found' }],
    ['a bug', new TypeError("Cannot read properties of undefined (reading 'id')"), { retry: 'unknown', kind: 'internal', code: 'internal_error' }],
  ];
  for (const [what, error, expected] of cases) {
    it(`${what}: ${expected.retry}, ${expected.code}`, function () {
      const { retry, kind, code } = classifyFailure(error);
      assert.deepEqual({ retry, kind, code }, expected);
    });
  }
});

describe('an activity’s failure', function () {
  it('leaves a transient fault to the retry policy (rethrown as it is)', function () {
    const error = pgError('40P01');
    assert.equal(activityFailure(error, 50), error);
  });

  it('turns a permanent one into a non-retryable failure typed with its code, whatever the attempt', function () {
    const failure = activityFailure(pgError('22021'), 1);
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, 'invalid_text');
    assert.deepEqual(failure.details, [{ kind: 'invalid' }]);
  });

  it('carries a rule refusal’s kind, field and details', function () {
    const failure = activityFailure(new ConflictError('line_limit_reached', 'too many', 'productId', { limit: 100 }), 1) as ApplicationFailure;
    assert.equal(failure.type, 'line_limit_reached');
    assert.deepEqual(failure.details, [{ kind: 'state', field: 'productId', limit: 100 }]);
  });

  it(`retries an unknown failure ${UNKNOWN_FAILURE_ATTEMPTS - 1} times, then fails it for good`, function () {
    const bug = new TypeError('x is undefined');
    for (let attempt = 1; attempt < UNKNOWN_FAILURE_ATTEMPTS; attempt++) assert.equal(activityFailure(bug, attempt), bug);
    const failure = activityFailure(bug, UNKNOWN_FAILURE_ATTEMPTS) as ApplicationFailure;
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, 'internal_error');
  });

  it('leaves failures Temporal already understands (refusals, cancellation) untouched', function () {
    const refusal = ApplicationFailure.nonRetryable('no', 'products_required');
    const cancelled = new CancelledFailure('cancelled');
    assert.equal(activityFailure(refusal, 1), refusal);
    assert.equal(activityFailure(cancelled, 1), cancelled);
  });
});

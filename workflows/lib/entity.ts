/**
 * What every long-lived entity workflow (a deal, an order, a nurture enrollment) does the same way:
 * workflow time as ISO text, durations in words, when to continue as new, search attributes kept
 * in step with the state, and an activity's failure turned into the Update's. Not exported from the
 * bundle's index: only workflow types are.
 */
import { ActivityFailure, ApplicationFailure, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';

/** Workflow time (Date.now() inside a workflow is deterministic) as ISO text. */
export const iso = (ms: number): string => new Date(ms).toISOString();

/** A duration for people: "2 days 3 h", "45 min", "less than a minute". */
export function describeDuration(ms: number): string {
  const minutes = Math.ceil(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const parts = [days && `${days} day${days > 1 ? 's' : ''}`, hours && `${hours} h`, minutes % 60 && `${minutes % 60} min`];
  return parts.filter(Boolean).join(' ') || 'less than a minute';
}

/** The history is long enough to start afresh: the server suggests it, or it passed our own limit. */
export function historyNearLimit(historyEventLimit: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= historyEventLimit;
}

type AttributePairs = Parameters<typeof upsertSearchAttributes>[0] & unknown[];
type AttributePair = AttributePairs[number];

/**
 * The search attributes ops filter on, kept in step with a view of the state: `publish` upserts
 * only the fields that changed since the last call (all of them the first time, after `first()`'s
 * pairs). A field's pair may be null to leave the attribute untouched.
 */
export class PublishedAttributes<V extends Record<string, unknown>> {
  private last: V | null = null;

  constructor(
    private readonly fields: { [K in keyof V]: (value: V[K], first: boolean) => AttributePair | null },
    private readonly first: () => AttributePair[] = () => [],
  ) {}

  get started(): boolean {
    return this.last !== null;
  }

  publish(next: V): void {
    const last = this.last;
    const keys = Object.keys(this.fields) as Array<keyof V>;
    if (last && keys.every((k) => last[k] === next[k])) return;
    const pairs: AttributePair[] = last ? [] : this.first();
    for (const k of keys) {
      if (last && last[k] === next[k]) continue;
      const pair = this.fields[k](next[k], !last);
      if (pair) pairs.push(pair);
    }
    this.last = next;
    upsertSearchAttributes(pairs as AttributePairs);
  }
}

/**
 * An activity's failure behind an Update, as the Update's failure: a refusal (ApplicationFailure)
 * goes to `refused`, which corrects the state from what it carries and says what the caller sees;
 * anything else (retries exhausted, a timeout) is `<entity>_write_failed`.
 */
export function updateFailure(error: unknown, entity: string, refused: (cause: ApplicationFailure) => ApplicationFailure): ApplicationFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) return refused(cause);
  return ApplicationFailure.nonRetryable(`the change could not be written: ${(cause as Error | undefined)?.message ?? 'unknown error'}`, `${entity}_write_failed`);
}

/**
 * The failure a permanently failed activity reported (its type is the code), or null for anything
 * else. An activity's failure arrives as an ActivityFailure around it; a local activity's as the
 * ApplicationFailure itself.
 */
export function permanentFailure(error: unknown): { code: string; message: string } | null {
  if (error instanceof ActivityFailure) {
    const cause = error.cause;
    return { code: cause instanceof ApplicationFailure && cause.type ? cause.type : 'step_failed', message: cause?.message ?? error.message };
  }
  if (error instanceof ApplicationFailure) return { code: error.type || 'step_failed', message: error.message };
  return null;
}

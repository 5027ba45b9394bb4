/**
 * Who writes, for the audit log: every store's write takes a context naming the actor (a user, the
 * system, a workflow) and the request it came from.
 */
import type { Actor } from './audit';

export interface WriteContext {
  actor: Actor;
  requestId?: string | null;
}

/** A write a user asked for (the stores also record who by, beside the audit's actor). */
export type UserWriteContext = WriteContext & { userId: string };

export function userContext(userId: string, requestId?: string | null): UserWriteContext {
  return { actor: { type: 'user', id: userId }, userId, requestId: requestId ?? null };
}

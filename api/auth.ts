/**
 * Bearer-token authentication and the role rules of SPEC "Who may do what" that depend on the
 * record (ownership); plain role lists live on each route.
 */
import crypto from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Role, User, UserStore } from '../db/stores/users';
import { ForbiddenError, UnauthorizedError } from './errors';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      user?: User;
      requestId: string;
    }
  }
}

export const WORKERS: readonly Role[] = ['rep', 'manager', 'admin'];
export const SUPERVISORS: readonly Role[] = ['manager', 'admin'];

export const requestId: RequestHandler = (req, res, next) => {
  const given = req.header('x-request-id');
  req.requestId = given && /^[\w.-]{1,100}$/.test(given) ? given : crypto.randomUUID();
  res.setHeader('X-Request-Id', req.requestId);
  next();
};

export function authenticate(users: UserStore): RequestHandler {
  return async (req, _res, next) => {
    const header = req.header('authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) return next(new UnauthorizedError(header ? 'the Authorization header must be "Bearer <token>"' : undefined));
    const user = await users.findByToken(match[1]);
    if (!user) return next(new UnauthorizedError('the bearer token is not valid'));
    req.user = user;
    next();
  };
}

export const isSupervisor = (user: User): boolean => SUPERVISORS.includes(user.role);

/** The record's owner, a manager or an admin. */
export function assertOwnerOrSupervisor(user: User, ownerId: string, what: string): void {
  if (user.id !== ownerId && !isSupervisor(user)) {
    throw new ForbiddenError(`only the owner of the ${what} or a manager may do this`, 'not_owner');
  }
}

const TEAM_NAMES: Record<Role, string> = { rep: 'reps', tech_consultant: 'technical consultants', manager: 'managers', admin: 'admins' };

/**
 * Who may change an activity: its owner, a manager or an admin. An activity with no owner was
 * left for a team (a Tech Check reminder for "the technical consultants", or for "any manager"):
 * any member of that team works it.
 */
export function assertMayWorkActivity(user: User, activity: { ownerId: string | null }, team: Role | null): void {
  if (activity.ownerId === user.id || isSupervisor(user)) return;
  if (activity.ownerId === null && team === user.role) return;
  throw new ForbiddenError(
    activity.ownerId === null ? `this task is for the ${TEAM_NAMES[team ?? 'manager']}` : 'only the owner of the activity or a manager may change it',
    'not_owner',
  );
}

/**
 * SPEC: managers (and admins) reassign owners. A rep names only themself on a new record and
 * cannot move an existing one, not even to themself. A team's task that nobody owns yet (current
 * owner null) may be taken by a member of the team for themself.
 */
export function assertMayAssignOwner(user: User, ownerId: string | undefined, currentOwnerId?: string | null): void {
  if (ownerId === undefined || isSupervisor(user)) return;
  if (currentOwnerId === undefined || currentOwnerId === null ? ownerId === user.id : ownerId === currentOwnerId) return;
  throw new ForbiddenError('only a manager or an admin may assign a record to someone else', 'owner_reassign_forbidden');
}

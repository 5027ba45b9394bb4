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

/**
 * SPEC: managers (and admins) reassign owners. A rep names only themself on a new record and
 * cannot move an existing one, not even to themself.
 */
export function assertMayAssignOwner(user: User, ownerId: string | undefined, currentOwnerId?: string): void {
  if (ownerId === undefined || isSupervisor(user)) return;
  if (currentOwnerId === undefined ? ownerId === user.id : ownerId === currentOwnerId) return;
  throw new ForbiddenError('only a manager or an admin may assign a record to someone else', 'owner_reassign_forbidden');
}

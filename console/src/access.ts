/**
 * What the signed-in user's role may do (docs/authorization.md), so the console offers only that.
 * The API decides in the end: a refusal it gives anyway is shown where the user acted.
 */
import type { Me } from './api/client';

export const isSupervisor = (me: Me): boolean => me.role === 'manager' || me.role === 'admin';
/** Reps, managers and admins create leads, accounts and contacts. */
export const sells = (me: Me): boolean => me.role !== 'tech_consultant';
/** A record's owner, a manager or an admin changes it. */
export const mayChange = (me: Me, ownerId: string | null | undefined): boolean => sells(me) && (ownerId === me.id || isSupervisor(me));
/** Only technical consultants record Tech Checks. */
export const recordsTechChecks = (me: Me): boolean => me.role === 'tech_consultant';
export const seesAudit = isSupervisor;

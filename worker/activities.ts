/**
 * Every area's activities, built from the dependencies the worker injects, under one name each: a
 * name two areas both register fails the worker's start-up (an object spread would silently keep
 * the last one, and a workflow would run another area's code).
 */
import type { CustomerConfig } from '../config';
import type { Logger } from '../config/logger';
import type { Db } from '../db/knex';
import type { Mailer } from '../activities/mailer';
import { createLeadNurtureActivities } from '../activities/leadNurture';
import { createDealLifecycleActivities } from '../activities/dealLifecycle';
import { createCustomerUnificationActivities } from '../activities/customerUnification';
import { createOrderToCashActivities } from '../activities/orderToCash';
import { createSequenceEnrollmentActivities } from '../activities/sequenceEnrollment';
import { createLeadImportEnrollmentActivities } from '../activities/leadImportEnrollment';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  log: Logger;
  customers: CustomerConfig;
  /** Where people follow links from their email (unsubscribe); default http://localhost:3000. */
  publicUrl?: string;
}

type UnionToIntersection<U> = (U extends unknown ? (k: U) => void : never) extends (k: infer I) => void ? I : never;

/** The areas' activities as one registry; throws naming the clash when two areas use one name. */
export function mergeActivities<T extends Record<string, Record<string, unknown>>>(areas: T): UnionToIntersection<T[keyof T]> {
  const merged: Record<string, unknown> = {};
  const owner = new Map<string, string>();
  for (const [area, activities] of Object.entries(areas)) {
    for (const [name, fn] of Object.entries(activities)) {
      const other = owner.get(name);
      if (other !== undefined) throw new Error(`activity name clash: "${name}" is registered by both ${other} and ${area}`);
      owner.set(name, area);
      merged[name] = fn;
    }
  }
  return merged as UnionToIntersection<T[keyof T]>;
}

export function createActivities(deps: ActivityDeps) {
  return mergeActivities({
    leadNurture: createLeadNurtureActivities(deps),
    dealLifecycle: createDealLifecycleActivities(deps),
    customerUnification: createCustomerUnificationActivities(deps),
    orderToCash: createOrderToCashActivities(deps),
    leadImportEnrollment: createLeadImportEnrollmentActivities(deps),
    sequenceEnrollment: createSequenceEnrollmentActivities({ ...deps, publicUrl: deps.publicUrl ?? 'http://localhost:3000' }),
  });
}

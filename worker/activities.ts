/** Every area's activities, built from the dependencies the worker injects. */
import type { CustomerConfig } from '../config';
import type { Logger } from '../config/logger';
import type { Db } from '../db/knex';
import type { Mailer } from '../activities/mailer';
import { createLeadNurtureActivities } from '../activities/leadNurture';
import { createDealLifecycleActivities } from '../activities/dealLifecycle';
import { createCustomerUnificationActivities } from '../activities/customerUnification';
import { createOrderToCashActivities } from '../activities/orderToCash';

export interface ActivityDeps {
  db: Db;
  mailer: Mailer;
  log: Logger;
  customers: CustomerConfig;
}

export function createActivities(deps: ActivityDeps) {
  return {
    ...createLeadNurtureActivities(deps),
    ...createDealLifecycleActivities(deps),
    ...createCustomerUnificationActivities(deps),
    ...createOrderToCashActivities(deps),
  };
}

/** `GET /health`: 200 only when both Postgres and Temporal answer; 503 naming what is down. */
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { Db } from '../../db/knex';
import { route, type RouteSpec } from '../http';

const CHECK_TIMEOUT_MS = 3_000;

export const healthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.object({ postgres: z.enum(['ok', 'unavailable']), temporal: z.enum(['ok', 'unavailable']) }),
});

async function check(probe: () => Promise<unknown>): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
  });
  try {
    await Promise.race([probe(), timeout]);
    return 'ok';
  } catch {
    return 'unavailable';
  } finally {
    clearTimeout(timer);
  }
}

export function healthRoutes({ db, temporal }: { db: Db; temporal: Client }): RouteSpec[] {
  return [
    route({
      method: 'get', path: '/health', tag: 'Operations', summary: 'Is the service able to work?',
      responses: { 200: { description: 'Postgres and Temporal reachable', schema: healthSchema }, 503: { description: 'Something is down', schema: healthSchema } },
      async handler() {
        const [postgres, temporalStatus] = await Promise.all([
          check(() => db.raw('select 1')),
          check(() => temporal.connection.workflowService.getSystemInfo({})),
        ]);
        const ok = postgres === 'ok' && temporalStatus === 'ok';
        return { status: ok ? 200 : 503, body: { status: ok ? 'ok' : 'unavailable', checks: { postgres, temporal: temporalStatus } } };
      },
    }),
  ];
}

/**
 * The caller themself: who they are (so a client can offer only what their role may do) and their
 * work list across every record.
 */
import { z } from 'zod';
import type { Db } from '../../db/knex';
import { ROLES } from '../../db/stores/users';
import { MyWorkStore } from '../../db/stores/myWork';
import { route, type RouteSpec } from '../http';
import { isoDateTime, pageOf } from '../schemas';
import { activitySchema, timelineQuery, toTimelineFilter } from '../views/timeline';

export const meSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  email: z.string().nullable(),
  role: z.enum(ROLES),
  managerId: z.uuid().nullable(),
});

const myActivitiesQuery = timelineQuery.extend({
  dueBefore: isoDateTime().optional().describe('Only activities due before this instant (say, the end of your day)'),
});

export function meRoutes({ db }: { db: Db }): RouteSpec[] {
  const work = new MyWorkStore(db);
  return [
    route({
      method: 'get', path: '/me', tag: 'Me', summary: 'Who the token belongs to: name and role',
      responses: { 200: { description: 'The signed-in user', schema: meSchema } },
      async handler({ user }) {
        return { status: 200, body: { id: user.id, name: user.name, email: user.email, role: user.role, managerId: user.managerId } };
      },
    }),
    route({
      method: 'get', path: '/me/activities', tag: 'Me', summary: 'My activities across every record, open ones the soonest due first',
      description: 'The activities the caller owns on any record’s timeline, filtered like a timeline (`type`, `status` incl. `overdue`, the same overdue rule) and by `dueBefore`. Open ones come first, the soonest due first; then closed ones, the latest first.',
      query: myActivitiesQuery,
      responses: { 200: { description: 'A page of activities', schema: pageOf(activitySchema) } },
      async handler({ user, query }) {
        const { limit, offset } = query;
        const { items, total } = await work.activities(user.id, { ...toTimelineFilter(query), dueBefore: query.dueBefore }, { limit, offset });
        return { status: 200, body: { data: items, page: { limit, offset, total } } };
      },
    }),
  ];
}

/** Every migration goes down and up again on a database with rows in it. */
import assert from 'node:assert/strict';
import { migrateLatest } from '../../db/knex';
import { TimelineActivityStore } from '../../db/stores/timelineActivities';
import { createTestDatabase, type TestDatabase } from '../helpers/db';
import { createLead, createUsers } from '../helpers/fixtures';

describe('migrations', function () {
  let database: TestDatabase;

  before(async function () {
    database = await createTestDatabase({ template: false });
  });

  after(async function () {
    await database?.drop();
  });

  async function populate(): Promise<void> {
    const users = await createUsers(database.db);
    const lead = await createLead(database.db, users.rep.id);
    await new TimelineActivityStore(database.db).create(
      { type: 'task', regarding: { type: 'lead', id: lead.id }, subject: 'Call back' },
      { actor: { type: 'user', id: users.rep.id }, userId: users.rep.id },
    );
  }

  it('applies every migration on an empty database', async function () {
    const applied = await migrateLatest(database.db);
    assert.ok(applied.length >= 1);
    assert.ok(await database.db.schema.hasTable('leads'));
  });

  it('rolls every migration back with rows present, then applies them again and the schema works', async function () {
    await populate();
    const [, pending] = (await database.db.migrate.list()) as [unknown[], unknown[]];
    assert.equal(pending.length, 0, 'all migrations applied before rolling back');
    await database.db.migrate.rollback(undefined, true);
    for (const table of ['users', 'leads', 'activities', 'audit_log']) assert.equal(await database.db.schema.hasTable(table), false, `${table} dropped`);
    await migrateLatest(database.db);
    await populate();
    assert.equal(Number((await database.db('leads').count({ n: '*' }))[0].n), 1);
  });

  it('rolls back one migration at a time, newest first, each down leaving a schema the next down accepts', async function () {
    const [applied] = (await database.db.migrate.list()) as [Array<{ name: string }>];
    let remaining = applied.length;
    while (remaining > 0) {
      await database.db.migrate.down();
      remaining--;
      const [done] = (await database.db.migrate.list()) as [unknown[]];
      assert.equal(done.length, remaining);
    }
    await migrateLatest(database.db);
  });
});

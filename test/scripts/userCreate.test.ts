/** `npm run user:create` prints a working token as its last line, and refuses bad arguments. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UserStore } from '../../db/stores/users';
import { PROJECT_ROOT } from '../../config';
import { createTestDatabase, type TestDatabase } from '../helpers/db';

const run = promisify(execFile);

describe('npm run user:create', function () {
  let database: TestDatabase;

  before(async function () {
    database = await createTestDatabase();
  });

  after(async function () {
    await database?.drop();
  });

  const userCreate = (...args: string[]) =>
    run('npm', ['run', '--silent', 'user:create', '--', ...args], { cwd: PROJECT_ROOT, env: { ...process.env, DATABASE_URL: database.url } });

  it('creates the user and prints a token that authenticates as them, stored only as a hash', async function () {
    const { stdout } = await userCreate('--name', 'Dana Rep', '--role', 'rep');
    const token = stdout.trim().split('\n').at(-1)!;
    assert.match(token, /^sps_[\w-]{43}$/);
    const user = await new UserStore(database.db).findByToken(token);
    assert.equal(user?.name, 'Dana Rep');
    assert.equal(user?.role, 'rep');
    const stored = await database.db('users').where({ id: user!.id }).first();
    assert.notEqual(stored.token_hash, token);
  });

  it('refuses an unknown role with a usage message and exit code 2, creating nobody', async function () {
    const before = Number((await database.db('users').count({ n: '*' }))[0].n);
    await assert.rejects(userCreate('--name', 'X', '--role', 'ceo'), (error: { code?: number; stderr?: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr!, /--role must be one of rep, tech_consultant, manager, admin/);
      return true;
    });
    assert.equal(Number((await database.db('users').count({ n: '*' }))[0].n), before);
  });
});

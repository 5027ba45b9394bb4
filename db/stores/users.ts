/**
 * Users and their API tokens. A token is shown once, at creation; only its SHA-256 is stored
 * (tokens are 256 random bits, so a fast hash is enough and lookups stay one index probe).
 */
import crypto from 'node:crypto';
import type { Knex } from 'knex';
import { fromRow } from '../rows';

export const ROLES = ['rep', 'tech_consultant', 'manager', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  id: string;
  name: string;
  email: string | null;
  role: Role;
  managerId: string | null;
  createdAt: string;
  disabledAt: string | null;
}

const COLUMNS = ['id', 'name', 'email', 'role', 'manager_id', 'created_at', 'disabled_at'];

export const hashToken = (token: string): string => crypto.createHash('sha256').update(token).digest('hex');
const newToken = (): string => `sps_${crypto.randomBytes(32).toString('base64url')}`;

export class UserStore {
  constructor(private readonly db: Knex) {}

  async create(input: { name: string; role: Role; email?: string | null; managerId?: string | null }): Promise<{ user: User; token: string }> {
    const token = newToken();
    const [row] = await this.db('users')
      .insert({ name: input.name, role: input.role, email: input.email ?? null, manager_id: input.managerId ?? null, token_hash: hashToken(token) })
      .returning(COLUMNS);
    return { user: fromRow<User>(row), token };
  }

  async findByToken(token: string): Promise<User | null> {
    const row = await this.db('users').select(COLUMNS).where({ token_hash: hashToken(token) }).whereNull('disabled_at').first();
    return row ? fromRow<User>(row) : null;
  }

  async get(id: string): Promise<User | null> {
    const row = await this.db('users').select(COLUMNS).where({ id }).first();
    return row ? fromRow<User>(row) : null;
  }
}

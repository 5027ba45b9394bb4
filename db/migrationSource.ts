/**
 * Lists db/migrations/* by name without extension, so a database migrated from the TypeScript
 * sources (dev, tests) and one migrated by the compiled build (Docker image) record the same names.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Knex } from 'knex';

const MIGRATIONS_DIR = path.join(__dirname, 'migrations');
const MIGRATION_FILE = /^\d{14}_[a-z0-9_]+\.(ts|js)$/;

interface MigrationFile {
  name: string;
  file: string;
}

export class FileMigrationSource implements Knex.MigrationSource<MigrationFile> {
  constructor(private readonly dir = MIGRATIONS_DIR) {}

  async getMigrations(): Promise<MigrationFile[]> {
    const byName = new Map<string, MigrationFile>();
    for (const file of fs.readdirSync(this.dir).sort()) {
      if (!MIGRATION_FILE.test(file) || file.endsWith('.d.ts')) continue;
      const name = file.replace(/\.(ts|js)$/, '');
      if (!byName.has(name)) byName.set(name, { name, file: path.join(this.dir, file) });
    }
    return [...byName.values()];
  }

  getMigrationName(migration: MigrationFile): string {
    return migration.name;
  }

  async getMigration(migration: MigrationFile): Promise<Knex.Migration> {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(migration.file) as Knex.Migration;
  }
}

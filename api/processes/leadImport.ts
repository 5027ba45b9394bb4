/**
 * A lead import as the API and the CLI run it: every row is judged by the rules of `POST /leads`
 * (its schema, the storable-text rule, who may name another owner), then the streaming importer
 * (db/leads/importer.ts) does the rest in one transaction.
 */
import type { Readable } from 'node:stream';
import type { Logger } from '../../config/logger';
import type { LeadColumn } from '../../domain/leadImport';
import { TEXT_FAULT_MESSAGES, findBadText } from '../../domain/text';
import type { Db } from '../../db/knex';
import { importLeads, type LeadCells, type LeadImportProgress, type LeadImportResult, type RowVerdict } from '../../db/leads/importer';
import type { Actor } from '../../db/stores/audit';
import type { User } from '../../db/stores/users';
import { definedOnly } from '../schemas';
import { fieldErrors } from '../http';
import { assertMayAssignOwner } from '../auth';
import { EMPTY_LEAD, createLeadBody } from '../views/leads';

/** An external id is a key: long enough for any CRM's ids, short enough to index. */
const MAX_EXTERNAL_ID = 200;

/**
 * One row, judged as `POST /leads` judges its body. `importer` is the user importing (null: the
 * CLI, whose operator may name any owner). A lead without a `source` column is `import`.
 */
export function judgeLeadRow(cells: LeadCells, importer: User | null): RowVerdict {
  const bad = findBadText(cells);
  if (bad) return { ok: false, reason: 'invalid_text', column: bad.path, message: `${bad.path}: ${TEXT_FAULT_MESSAGES[bad.fault]}` };
  const { externalId, estimatedValueCents, ...fields } = cells;
  if (externalId !== undefined && externalId.length > MAX_EXTERNAL_ID) {
    return { ok: false, reason: 'too_long', column: 'externalId', message: `externalId: at most ${MAX_EXTERNAL_ID} characters` };
  }
  // A cell is text; the body of `POST /leads` carries the amount as a JSON number.
  const body: Record<string, unknown> = { ...fields };
  if (estimatedValueCents !== undefined) body.estimatedValueCents = /^\d{1,16}$/.test(estimatedValueCents) ? Number(estimatedValueCents) : estimatedValueCents;
  const parsed = createLeadBody.safeParse(body, { reportInput: true });
  if (!parsed.success) {
    const errors = fieldErrors(parsed.error);
    return { ok: false, reason: errors[0].code, column: errors[0].field, message: errors.map((e) => `${e.field}: ${e.message}`).join('; ') };
  }
  const lead = parsed.data;
  if (importer) {
    try {
      assertMayAssignOwner(importer, lead.ownerId);
    } catch (error) {
      return { ok: false, reason: 'owner_reassign_forbidden', column: 'ownerId' satisfies LeadColumn, message: `ownerId: ${(error as Error).message}` };
    }
  }
  return { ok: true, lead: { ...EMPTY_LEAD, source: 'import', ...definedOnly(lead), ownerId: lead.ownerId ?? null } };
}

export interface RunLeadImport {
  db: Db;
  log: Logger;
  origin: 'api' | 'cli';
  /** The importing user (null from the CLI). */
  importer: User | null;
  /** The owner of rows that name none. */
  defaultOwnerId: string | null;
  actor: Actor;
  requestId?: string | null;
  fileName: string;
  stream: Readable;
  beforeCommit?: () => Promise<void>;
  onProgress?: (progress: LeadImportProgress) => void;
}

export function runLeadImport(run: RunLeadImport): Promise<LeadImportResult> {
  return importLeads(run.db, run.log, {
    origin: run.origin, createdBy: run.importer?.id ?? null, defaultOwnerId: run.defaultOwnerId, actor: run.actor, requestId: run.requestId,
    fileName: run.fileName, stream: run.stream, beforeCommit: run.beforeCommit, onProgress: run.onProgress,
    validate: (cells) => judgeLeadRow(cells, run.importer),
  });
}

/**
 * Lead imports (SPEC "Leads": a lead may be imported from a table): `POST /leads/imports` streams
 * one CSV file into leads in one transaction, `GET /leads/imports/:id` shows its counts and every
 * row it did not create. Columns, keys, duplicates and limits: docs/lead-import.md.
 */
import { z } from 'zod';
import { DEFAULT_LEAD_IMPORT_MAX_MB, type LeadConfig } from '../../config';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import type { LeadImportResult } from '../../db/leads/importer';
import { LEAD_IMPORT_OUTCOMES, LeadImportStore } from '../../db/stores/leadImports';
import { UserStore, type User } from '../../db/stores/users';
import { InvalidFieldError, NotFoundError } from '../../domain/rejection';
import { SequenceStore } from '../../db/stores/sequences';
import type { Client } from '@temporalio/client';
import { getLeadImportEnrollmentQuery, leadImportEnrollmentWorkflowId } from '../../workflows/leadImportEnrollment.contract';
import type { leadImportEnrollmentWorkflow } from '../../workflows/leadImportEnrollment';
import { workflowCalls } from '../workflowCalls';
import { WORKERS, assertMayAssignOwner, assertOwnerOrSupervisor } from '../auth';
import { route, type RouteSpec } from '../http';
import { runLeadImport } from '../processes/leadImport';
import { idParams, isoDateTime, paging } from '../schemas';
import { receiveCsvFile } from '../uploads';

const rowSchema = z.object({
  line: z.number().int().describe('The line of the file the row starts on (the header is line 1)'),
  outcome: z.enum(LEAD_IMPORT_OUTCOMES).describe('`rejected`: the row is not a valid lead; `duplicate`: the lead exists already; `already_imported`: an earlier import created it'),
  reason: z.string().describe('invalid_text, invalid_encoding, wrong_column_count, malformed_row, required, invalid_value, invalid_email, too_long, …, owner_reassign_forbidden, unknown_user; duplicate_email, duplicate_key; already_imported'),
  columnName: z.string().nullable().describe('The column to blame, as the file names it'),
  message: z.string(),
  email: z.string().nullable(),
  existingLeadId: z.uuid().nullable().describe('The lead that has the email already, or that an earlier import created from this row'),
  existingContactId: z.uuid().nullable().describe('The contact that has the email already'),
  raw: z.string().nullable().describe('The row as the file has it (personal data)'),
});

export const leadImportSchema = z.object({
  id: z.uuid(), origin: z.enum(['cli', 'api']), createdBy: z.uuid().nullable(), fileName: z.string(), bytes: z.number().int(), sha256: z.string().nullable(),
  header: z.array(z.string()).nullable(), ignoredColumns: z.array(z.string()).nullable().describe('Columns that mean no lead field: not imported'),
  keyColumn: z.string().nullable().describe('The external-id column its leads are keyed by; null: keyed by email'),
  rowsRead: z.number().int(), rowsCreated: z.number().int(), rowsAlreadyImported: z.number().int(), rowsDuplicate: z.number().int(), rowsRejected: z.number().int(),
  reasons: z.record(z.string(), z.number().int()).describe('Rows not created, by reason'),
  ms: z.number().int(), startedAt: isoDateTime(), finishedAt: isoDateTime().nullable(),
});

export const leadImportViewSchema = leadImportSchema.extend({
  rows: z.object({ data: z.array(rowSchema), page: z.object({ limit: z.number(), offset: z.number(), total: z.number() }) })
    .describe('The rows not created (rejected, duplicate, already imported), in file order'),
});

const postQuery = z.object({
  ownerId: z.uuid().optional().describe('The owner of every row that names none; defaults to the caller. Naming another user needs a manager or an admin'),
  sequenceId: z.uuid().optional().describe('Enroll every lead the import creates in this sequence (its latest published version, pinned now), in the background: `enrollment` in the answer names the workflow, `GET /leads/imports/{id}/enrollment` shows its progress'),
});

const enrollmentSchema = z.object({
  workflowId: z.string(), sequenceId: z.uuid(), sequenceVersion: z.number().int(),
  enrolled: z.number().int(), refused: z.record(z.string(), z.number().int()).describe('Leads not enrolled, by code: not_corporate, email_required, already_enrolled, …'),
  done: z.boolean(),
});
export const leadImportPostedSchema = leadImportViewSchema.extend({
  enrollment: enrollmentSchema.nullable().describe('The enrollment of the created leads, when `sequenceId` was given'),
});

const rowsQuery = z.object({
  outcome: z.enum(LEAD_IMPORT_OUTCOMES).optional(),
  reason: z.string().optional(),
  ...paging,
});

/**
 * What runs once an import has committed, with the importing user. Enrolling every imported lead
 * in a sequence plugs in here: `LeadImportStore.createdLeadIds(result.id, page)` pages the new leads.
 */
export type AfterLeadImport = (result: LeadImportResult, by: User) => Promise<void>;

export interface LeadImportRoutesDeps {
  db: Db;
  log: Logger;
  temporal: Client;
  taskQueue: string;
  leads?: LeadConfig;
  afterLeadImport?: AfterLeadImport;
}

export function leadImportRoutes({ db, log, leads, afterLeadImport, temporal, taskQueue }: LeadImportRoutesDeps): RouteSpec[] {
  const sequences = new SequenceStore(db);
  const imports = new LeadImportStore(db);
  const users = new UserStore(db);
  const maxBytes = leads?.importMaxBytes ?? DEFAULT_LEAD_IMPORT_MAX_MB * 1024 * 1024;
  const params = idParams('import');

  return [
    route({
      method: 'post', path: '/leads/imports', tag: 'Leads', summary: 'Import leads from a CSV file',
      description: [
        'Send one CSV file as the body (`Content-Type: text/csv`, UTF-8) or as the one file part of `multipart/form-data` (`curl -F file=@leads.csv`).',
        'The header line names the columns, case- and punctuation-insensitively: `topic` (or `subject`), `firstName`, `lastName`, `email`, `mobilePhone`, `businessPhone` (or `phone`), `companyName` (or `company`), `website`, `street`, `city`, `postalCode` (or `zip`), `state`, `country`, `source`, `customerType`, `estimatedValueCents`, `ownerId` (or `owner`), and `externalId`; `topic`, `lastName` and `customerType` are required, other columns are ignored.',
        'Every row is judged like the body of `POST /leads`; a bad row is not created and is reported with its line, reason and raw text.',
        'A row whose email (trimmed, case-insensitive) an existing lead or contact, or an earlier row, already has is reported as `duplicate_email` with the existing record and not created.',
        'Each lead is keyed by its `externalId`, else its email, else its content: importing the same file again creates nothing (`already_imported`).',
        'The file streams into the database in one transaction: all of its leads or none. Each created lead is owned by its `ownerId` cell, else the `ownerId` parameter, else the caller (naming another owner needs a manager or an admin), and gets the `lead.created` audit entry.',
        'A file the import cannot read at all (no header, a header without the required columns, not UTF-8 text) is refused whole (400); the file may be at most LEAD_IMPORT_MAX_MB (413 `file_too_large`).',
      ].join(' '),
      // A streamed upload cannot be hashed for an Idempotency-Key; re-sending the same file creates nothing.
      roles: WORKERS, query: postQuery, idempotent: false,
      streamedBody: {
        contentType: 'text/csv',
        schema: { type: 'string', description: 'The CSV file (UTF-8); or `multipart/form-data` with one file part' },
      },
      responses: {
        201: { description: 'Imported: the counts and the first page of the rows not created (the rest: `GET /leads/imports/{id}`)', schema: leadImportPostedSchema },
        404: { description: '`sequence_not_found`: no such sequence' },
        409: { description: '`sequence_archived`, `sequence_not_published`: the sequence takes no enrollments (nothing is imported)' },
        403: { description: 'Wrong role, or a rep naming another owner (`owner_reassign_forbidden`)' },
        413: { description: '`file_too_large` (LEAD_IMPORT_MAX_MB)' },
      },
      async handler({ req, user, query, requestId }) {
        assertMayAssignOwner(user, query.ownerId);
        if (query.ownerId) {
          const owner = await users.get(query.ownerId);
          if (!owner || owner.disabledAt) throw new InvalidFieldError('ownerId', 'unknown_user', `ownerId ${query.ownerId} is not an active user`);
        }
        // Judged before the file is read: a sequence that takes nobody imports nothing.
        const version = query.sequenceId ? await sequences.forEnrollment(query.sequenceId) : null;
        const result = await receiveCsvFile(req, maxBytes, ({ stream, fileName, beforeCommit }) => runLeadImport({
          db, log, origin: 'api', importer: user, defaultOwnerId: query.ownerId ?? user.id, actor: { type: 'user', id: user.id }, requestId,
          fileName, stream, beforeCommit,
        }));
        if (afterLeadImport) {
          try {
            await afterLeadImport(result, user);
          } catch (error) {
            // The leads are in: a failing follow-up must not turn a successful import into an error.
            log.warn({ err: error, importId: result.id }, 'leads imported but the follow-up failed');
          }
        }
        let enrollment: z.infer<typeof enrollmentSchema> | null = null;
        if (version) {
          const workflowId = leadImportEnrollmentWorkflowId(result.id);
          await workflowCalls(temporal).start<typeof leadImportEnrollmentWorkflow>('leadImportEnrollmentWorkflow', {
            workflowId, taskQueue, workflowIdConflictPolicy: 'USE_EXISTING',
            memo: { sequenceId: version.sequenceId, sequenceVersion: version.version },
            args: [{ importId: result.id, sequenceId: version.sequenceId, sequenceVersion: version.version, enrolledBy: user.id }],
            staticSummary: `Enroll the leads of import ${result.fileName} in ${version.name} v${version.version}`,
          });
          enrollment = { workflowId, sequenceId: version.sequenceId, sequenceVersion: version.version, enrolled: 0, refused: {}, done: false };
        }
        const stored = await imports.require(result.id);
        const page = { limit: 50, offset: 0 };
        const { items, total } = await imports.rows(result.id, page);
        return { status: 201, body: { ...stored, rows: { data: items, page: { ...page, total } }, enrollment }, headers: { Location: `/leads/imports/${result.id}` } };
      },
    }),
    route({
      method: 'get', path: '/leads/imports/:id/enrollment', tag: 'Leads', summary: 'The enrollment of an import’s leads: how many enrolled, refused by code, done',
      roles: WORKERS, params,
      responses: { 200: { description: 'Its progress', schema: enrollmentSchema }, 403: { description: 'Wrong role, or `not_owner`: the import is someone else\'s' }, 404: { description: 'No such import, or it enrolled nobody (`enrollment_not_found`)' } },
      async handler({ user, params: { id } }) {
        const found = await imports.require(id);
        assertOwnerOrSupervisor(user, found.createdBy ?? '', 'import');
        const workflowId = leadImportEnrollmentWorkflowId(id);
        const description = await workflowCalls(temporal).describe(workflowId);
        if (!description) throw new NotFoundError('enrollment', workflowId);
        const handle = temporal.workflow.getHandle<typeof leadImportEnrollmentWorkflow>(workflowId);
        const progress = description.status.name === 'RUNNING' ? await workflowCalls(temporal).query(handle, getLeadImportEnrollmentQuery) : await handle.result();
        const args = description.memo as { sequenceId?: string; sequenceVersion?: number } | undefined;
        return { status: 200, body: { workflowId, sequenceId: args?.sequenceId ?? '', sequenceVersion: args?.sequenceVersion ?? 0, ...progress } };
      },
    }),
    route({
      method: 'get', path: '/leads/imports/:id', tag: 'Leads', summary: 'A lead import: counts and the rows it did not create',
      description: 'The rows not created come with their line, outcome, reason code, column, the existing lead or contact of a duplicate, and the raw text (personal data: the importing user, managers and admins only). Page through them with `limit`/`offset`, filter by `outcome` or `reason`.',
      roles: WORKERS, params, query: rowsQuery,
      responses: { 200: { description: 'The import', schema: leadImportViewSchema }, 403: { description: 'Wrong role, or `not_owner`: the import is someone else\'s' }, 404: { description: 'No such import' } },
      async handler({ user, params: { id }, query }) {
        const found = await imports.require(id);
        assertOwnerOrSupervisor(user, found.createdBy ?? '', 'import');
        const { limit, offset, outcome, reason } = query;
        const { items, total } = await imports.rows(id, { limit, offset }, { outcome, reason });
        return { status: 200, body: { ...found, rows: { data: items, page: { limit, offset, total } } } };
      },
    }),
  ];
}

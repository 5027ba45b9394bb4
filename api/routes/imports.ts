/**
 * Customer imports through the API: `POST /imports` streams a multipart upload (one file part
 * per source, the part's name being the source: contacts, loyalty, pos_purchases,
 * online_purchases, or any source with a mapping file) straight into the importer — nothing is
 * buffered — and `GET /imports/:id` shows the summary and every rejected row.
 */
import type { Request } from 'express';
import busboy from 'busboy';
import { z } from 'zod';
import type { Client } from '@temporalio/client';
import type { CustomerConfig } from '../../config';
import { loadMappings } from '../../config/customers';
import { beginImport, type ImportSession } from '../../db/customers/importer';
import type { Logger } from '../../config/logger';
import type { Db } from '../../db/knex';
import { CustomerImportStore } from '../../db/stores/customerImports';
import { SUPERVISORS } from '../auth';
import { HttpError } from '../errors';
import { route, type RouteSpec } from '../http';
import { idParams, isoDateTime, paging } from '../schemas';
import { badRequest, malformedMultipart, settleMultipart } from '../uploads';
import { requestUnification, type UnificationTicket } from '../unificationClient';

const fileSchema = z.object({
  source: z.string(), fileName: z.string(), mapping: z.string(), header: z.array(z.string()).nullable(), headerError: z.string().nullable(),
  bytes: z.number().int(), sha256: z.string().nullable(), rowsRead: z.number().int(), rowsLoaded: z.number().int(), rowsInserted: z.number().int(),
  rowsUpdated: z.number().int(), rowsUnchanged: z.number().int(), rowsRejected: z.number().int(),
  valuesRejected: z.number().int().describe('Values left out of loaded rows because they did not parse (the rows loaded with those attributes empty)'), ms: z.number().int(),
});

const rejectSchema = z.object({
  source: z.string(), fileName: z.string(), line: z.number().int(),
  scope: z.enum(['row', 'value']).describe('`row`: the row was not loaded; `value`: the row loaded with this column\'s attribute empty'),
  sourceKey: z.string().nullable(), reason: z.string(), columnName: z.string().nullable(), message: z.string(), raw: z.string().nullable(),
});

export const importSchema = z.object({
  id: z.uuid(), origin: z.enum(['cli', 'api']), createdBy: z.string().nullable(), status: z.enum(['loading', 'loaded', 'failed']),
  rowsRead: z.number().int(), rowsLoaded: z.number().int(), rowsInserted: z.number().int(), rowsUpdated: z.number().int(),
  rowsUnchanged: z.number().int(), rowsRejected: z.number().int(), valuesRejected: z.number().int(), error: z.string().nullable(),
  unificationWorkflowId: z.string().nullable(), unificationRunId: z.string().nullable(), unificationRequestId: z.string().nullable(),
  startedAt: isoDateTime(), finishedAt: isoDateTime().nullable(), files: z.array(fileSchema),
});

export const importViewSchema = importSchema.extend({
  rejects: z.object({ data: z.array(rejectSchema), page: z.object({ limit: z.number(), offset: z.number(), total: z.number() }) }),
});

const postQuery = z.object({
  unify: z.enum(['true', 'false']).default('true').transform((v) => v === 'true').describe('Run customer unification after loading (default true)'),
});

const rejectsQuery = z.object({
  source: z.string().optional(),
  reason: z.string().optional().describe('malformed_row, wrong_column_count, wrong_header, missing_key, invalid_value, missing_value, invalid_encoding, duplicate_key'),
  scope: z.enum(['row', 'value']).optional().describe('Only rejected rows, or only values left out of loaded rows'),
  ...paging,
});

export interface ImportRoutesDeps {
  db: Db;
  temporal: Client;
  taskQueue: string;
  log: Logger;
  /** Mapping files and upload limit (config `customers`). */
  customers: CustomerConfig;
}

/**
 * Streams every file part of the request into one import; refuses the whole request on a bad part.
 * Every stream gets its error listener the moment it exists (an unheard stream error would end the
 * process), and a body that stops early (the client aborts, or never sends the closing boundary)
 * ends the import as `failed` with the reason, nothing of it loaded.
 */
async function receive(req: Request, db: Db, log: Logger, settings: CustomerConfig, userId: string): Promise<ImportSession> {
  if (!req.is('multipart/form-data')) throw badRequest('multipart_required', 'body', 'send the files as multipart/form-data, one part per source');
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: { fileSize: settings.importMaxBytes, files: 20 } });
  } catch (error) {
    // No boundary, an unparsable Content-Type: busboy refuses before reading anything.
    throw malformedMultipart((error as Error).message);
  }
  const mappings = loadMappings(settings.mappingsDir);
  let session: ImportSession | null = null;
  let refusal: HttpError | null = null;
  let broken: Error | null = null;
  let work: Promise<unknown> = Promise.resolve();
  const seen = new Set<string>();
  const finished = new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      broken ??= error;
      reject(broken);
    };
    parser.on('file', (name, stream, info) => {
      stream.on('error', fail);
      const mapping = mappings.get(name);
      if (refusal || broken || !mapping || seen.has(name)) {
        refusal ??= !mapping
          ? badRequest('unknown_source', name, `no mapping for source "${name}"; parts must be named ${[...mappings.keys()].join(', ')}`)
          : badRequest('duplicate_source', name, `source "${name}" appears twice`);
        stream.resume();
        return;
      }
      seen.add(name);
      stream.on('limit', () => {
        refusal ??= new HttpError(413, 'file_too_large', `${info.filename || name} is larger than ${Math.round(settings.importMaxBytes / 1048576)} MiB`, { field: name });
      });
      work = work.then(async () => {
        if (refusal || broken) return void stream.resume();
        session ??= await beginImport(db, log, { origin: 'api', createdBy: userId });
        // A file name is the client's text: NUL cannot be stored.
        const fileName = (info.filename || `${name}.csv`).replaceAll('\u0000', '\uFFFD');
        await session.loadFile({ mapping, fileName, stream });
      });
      work.catch(() => stream.resume());
    });
    settleMultipart(req, parser, fail, resolve);
  });
  req.pipe(parser);
  try {
    await finished;
    await work;
  } catch (error) {
    await work.catch(() => undefined);
    const reason = (broken ?? (error as Error)).message ?? String(error);
    const failure = broken ? new Error(`malformed_multipart: ${reason}`) : error;
    if (session) await (session as ImportSession).abort(failure).catch((abortError: unknown) => log.warn({ err: abortError }, 'could not mark the import failed'));
    else if (seen.size > 0) {
      // The upload broke before its first rows reached the database: still on record, as failed.
      await db('customer_imports').insert({ origin: 'api', created_by: userId, status: 'failed', finished_at: db.fn.now(), error: String((failure as Error).message ?? failure).slice(0, 2000) })
        .catch((recordError: unknown) => log.warn({ err: recordError }, 'could not record the failed import'));
    }
    if (broken) throw malformedMultipart(reason);
    throw error;
  }
  const refused = refusal as HttpError | null;
  if (refused) {
    if (session) await (session as ImportSession).abort(refused, { discard: true });
    throw refused;
  }
  if (!session) throw badRequest('no_files', 'body', `send at least one file part named after its source (${[...mappings.keys()].join(', ')})`);
  return session;
}

export function importRoutes({ db, temporal, taskQueue, log, customers }: ImportRoutesDeps): RouteSpec[] {
  const imports = new CustomerImportStore(db);
  const params = idParams('import');
  const settings = () => customers;

  return [
    route({
      method: 'post', path: '/imports', tag: 'Customer imports', summary: 'Import customer CSV files (multipart upload)',
      description: 'Send `multipart/form-data` with one file part per source, each named after its source (`contacts`, `loyalty`, `pos_purchases`, `online_purchases`, or any source with a mapping file), e.g. `curl -F contacts=@contacts.csv -F loyalty=@loyalty.csv`. The upload streams into the database in one transaction: rows are upserted by source key, bad rows are kept as rejected (see `GET /imports/{id}`), re-sending a file changes nothing. A request with an unknown part name, the same source twice or no file is refused whole (400, nothing imported). Then customer unification runs, unless `unify=false`.',
      // A streamed upload cannot be hashed for an Idempotency-Key; re-sending the same files changes nothing.
      roles: SUPERVISORS, query: postQuery, idempotent: false,
      streamedBody: {
        contentType: 'multipart/form-data',
        schema: {
          type: 'object',
          description: 'One file part per source, named after it; any source with a mapping file is accepted.',
          properties: Object.fromEntries(['contacts', 'loyalty', 'pos_purchases', 'online_purchases'].map((source) => [source, { type: 'string', contentMediaType: 'text/csv', description: `${source}.csv` }])),
          additionalProperties: { type: 'string', contentMediaType: 'text/csv' },
        },
      },
      responses: {
        201: { description: 'Imported; the summary, and the unification request when one was made', schema: importSchema.extend({ unification: z.object({ workflowId: z.string(), runId: z.string(), requestId: z.string() }).nullable() }) },
        413: { description: '`file_too_large` (CUSTOMER_IMPORT_MAX_MB)' },
      },
      async handler({ req, user, query }) {
        const session = await receive(req, db, log, settings(), user.id);
        await session.commit();
        let unification: UnificationTicket | null = null;
        if (query.unify) {
          try {
            unification = await requestUnification(temporal, taskQueue, { trigger: 'import', by: user.id, importId: session.id });
            await imports.linkUnification(session.id, unification);
          } catch (error) {
            // The data is in: a Temporal outage must not turn a successful import into an error.
            log.warn({ err: error, importId: session.id }, 'import loaded but unification could not be requested');
          }
        }
        const stored = await imports.require(session.id);
        return { status: 201, body: { ...stored, unification }, headers: { Location: `/imports/${session.id}` } };
      },
    }),
    route({
      method: 'get', path: '/imports/:id', tag: 'Customer imports', summary: 'An import: totals, files and rejected rows',
      description: 'Rejected rows come with their file, line number, reason code, column and raw text (personal data: managers and admins only); so do values that did not parse in a row that loaded without them (`scope: value`; only a missing or duplicate key, a purchase without a valid date or total, or a broken row rejects the row). Page through them with `limit`/`offset`, filter by `source`, `reason` or `scope`.',
      roles: SUPERVISORS, params, query: rejectsQuery,
      responses: { 200: { description: 'The import', schema: importViewSchema }, 404: { description: 'No such import' } },
      async handler({ params: { id }, query }) {
        const found = await imports.require(id);
        const { limit, offset, source, reason, scope } = query;
        const { items, total } = await imports.rejects(id, { limit, offset }, { source, reason, scope });
        return { status: 200, body: { ...found, rejects: { data: items, page: { limit, offset, total } } } };
      },
    }),
  ];
}

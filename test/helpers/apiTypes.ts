/**
 * The bodies the API answers with, as the tests read them: inferred from the API's own response
 * schemas (api/views, api/routes), so a test reads only what a response documents. Pass one as the
 * type argument of a request (`rep.get<DealDetail>(...)`); a refusal's body is a `Problem`.
 */
import type { z } from 'zod';
import type { accountSchema } from '../../api/views/accounts';
import type { contactSchema } from '../../api/views/contacts';
import type {
  dealDetailSchema, dealSchema, dealUpdatedSchema, processSchema, quoteDetailSchema, quoteSchema, techCheckSchema,
} from '../../api/views/deals';
import type { leadSchema } from '../../api/views/leads';
import type { invoiceDetailSchema, invoiceSchema, orderDetailSchema, orderProcessSchema, orderSchema } from '../../api/views/orders';
import type { activitySchema, timelineEntrySchema } from '../../api/views/timeline';
import type { accountDetailSchema } from '../../api/routes/accounts';
import type { auditRecordSchema } from '../../api/routes/audit';
import type { contactDetailSchema } from '../../api/routes/contacts';
import type { passSchema, ticketSchema } from '../../api/routes/customerUnification';
import type { customerSchema, customerViewSchema } from '../../api/routes/customers';
import type { healthSchema } from '../../api/routes/health';
import type { importSchema, importViewSchema } from '../../api/routes/imports';
import type { leadImportViewSchema, leadImportPostedSchema } from '../../api/routes/leadImports';
import type { invoiceChangedSchema } from '../../api/routes/invoices';
import type { enrolledSchema, nurtureSchema } from '../../api/routes/leadNurture';
import type { qualifiedSchema } from '../../api/routes/leadQualification';
import type { meSchema } from '../../api/routes/me';
import type { operationSchema } from '../../api/routes/operations';
import type { orderChangedSchema } from '../../api/routes/orders';
import type { productSchema } from '../../api/routes/products';
import type { quoteChangedSchema } from '../../api/routes/quotes';
import type { funnelSchema, sequenceDetailSchema, sequenceVersionSchema } from '../../api/routes/sequences';
import type { inboundResultSchema } from '../../api/routes/inbound';

/** A page of a list (`pageOf` in api/schemas.ts). */
export interface Page<T> {
  data: T[];
  page: { limit: number; offset: number; total: number };
}
/** A whole list, unpaged (a deal's quotes, an order's invoices, the catalog). */
export interface List<T> {
  data: T[];
}

/** application/problem+json (api/errors.ts; its documented members: `Problem` in api/http.ts). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  code: string;
  detail: string;
  field?: string;
  errors?: { field: string; code: string; message: string }[];
  instance?: string;
  requestId?: string;
  leadStatus?: string;
  dealStatus?: string;
  dealStage?: string;
  quoteStatus?: string;
  orderStatus?: string;
  invoiceStatus?: string;
  activityStatus?: string;
  invoiceId?: string;
  balanceCents?: number;
  accountId?: string;
  contactId?: string;
  contactAccountId?: string | null;
  references?: Record<string, number>;
  workflowId?: string;
  runId?: string;
  operationId?: string;
  location?: string;
}

export type Lead = z.infer<typeof leadSchema>;
export type Account = z.infer<typeof accountSchema>;
export type AccountDetail = z.infer<typeof accountDetailSchema>;
export type Contact = z.infer<typeof contactSchema>;
export type ContactDetail = z.infer<typeof contactDetailSchema>;
export type Deal = z.infer<typeof dealSchema>;
export type DealDetail = z.infer<typeof dealDetailSchema>;
/** A deal after a change: its detail, the change's `createdId`, the process's view. */
export type DealUpdated = z.infer<typeof dealUpdatedSchema>;
export type Process = z.infer<typeof processSchema>;
export type Quote = z.infer<typeof quoteSchema>;
export type QuoteDetail = z.infer<typeof quoteDetailSchema>;
export type QuoteChanged = z.infer<typeof quoteChangedSchema>;
export type TechCheck = z.infer<typeof techCheckSchema>;
export type TechCheckRecorded = TechCheck & { process: Process };
export type Qualified = z.infer<typeof qualifiedSchema>;
export type Order = z.infer<typeof orderSchema>;
export type OrderDetail = z.infer<typeof orderDetailSchema>;
export type OrderChanged = z.infer<typeof orderChangedSchema>;
export type OrderProcess = z.infer<typeof orderProcessSchema>;
/** POST /quotes/:id/win: the new order, and the deal's process. */
export type OrderWon = OrderDetail & { deal: Process };
export type Invoice = z.infer<typeof invoiceSchema>;
export type InvoiceDetail = z.infer<typeof invoiceDetailSchema>;
export type InvoiceChanged = z.infer<typeof invoiceChangedSchema>;
/** POST /orders/:id/invoices: the invoice, and the order's process. */
export type InvoiceIssued = InvoiceDetail & { process: OrderProcess };
export type Activity = z.infer<typeof activitySchema>;
export type TimelineEntry = z.infer<typeof timelineEntrySchema>;
export type Timeline = Page<TimelineEntry>;
export type Nurture = z.infer<typeof nurtureSchema>;
export type Enrolled = z.infer<typeof enrolledSchema>;
export type Sequence = z.infer<typeof sequenceDetailSchema>;
export type SequenceVersion = z.infer<typeof sequenceVersionSchema>;
export type Funnel = z.infer<typeof funnelSchema>;
export type InboundResult = z.infer<typeof inboundResultSchema>;
export type AuditRecord = z.infer<typeof auditRecordSchema>;
export type Customer = z.infer<typeof customerSchema>;
export type CustomerView = z.infer<typeof customerViewSchema>;
export type Health = z.infer<typeof healthSchema>;
export type ImportSummary = z.infer<typeof importSchema>;
/** POST /imports: the summary, and the unification request when one was made. */
export type Imported = ImportSummary & { unification: UnificationTicket | null };
export type ImportView = z.infer<typeof importViewSchema>;
/** POST /leads/imports and GET /leads/imports/{id}. */
export type LeadImportPosted = z.infer<typeof leadImportPostedSchema>;
export type LeadImportView = z.infer<typeof leadImportViewSchema>;
export type UnificationTicket = z.infer<typeof ticketSchema>;
export type UnificationPass = z.infer<typeof passSchema>;
/** GET /unification. */
export interface Unification {
  passes: UnificationPass[];
  request: { status: string; pass: number | null; view: unknown } | null;
}
export type Me = z.infer<typeof meSchema>;
export type OperationView = z.infer<typeof operationSchema>;
export type Product = z.infer<typeof productSchema>;

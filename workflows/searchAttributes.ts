/**
 * The custom search attributes ops filter on in the Temporal Web UI. One list: the dev server is
 * started with it, the worker registers it on an external cluster, the tests register it on the
 * test servers, and the workflows and the API upsert through these typed keys.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const LeadIdKey = defineSearchAttributeKey('LeadId', SearchAttributeType.KEYWORD);
export const OwnerIdKey = defineSearchAttributeKey('OwnerId', SearchAttributeType.KEYWORD);
export const CustomerTypeKey = defineSearchAttributeKey('CustomerType', SearchAttributeType.KEYWORD);
export const NurtureStepKey = defineSearchAttributeKey('NurtureStep', SearchAttributeType.KEYWORD);
export const NurtureStatusKey = defineSearchAttributeKey('NurtureStatus', SearchAttributeType.KEYWORD);
/** Enrollments (issue 9): the sequence and its pinned version (the person is in the workflow id). */
export const SequenceIdKey = defineSearchAttributeKey('SequenceId', SearchAttributeType.KEYWORD);
export const SequenceVersionKey = defineSearchAttributeKey('SequenceVersion', SearchAttributeType.INT);

export const DealIdKey = defineSearchAttributeKey('DealId', SearchAttributeType.KEYWORD);
export const DealStageKey = defineSearchAttributeKey('DealStage', SearchAttributeType.KEYWORD);
/** The deal's value in dollars (a Double for range filters; the records keep exact cents). */
export const DealValueKey = defineSearchAttributeKey('DealValue', SearchAttributeType.DOUBLE);
export const TechCheckRequiredKey = defineSearchAttributeKey('TechCheckRequired', SearchAttributeType.BOOL);
/** When the deal entered its current stage: `DealStage = 'tech_check' AND WaitingSince < …` finds the long waits. */
export const WaitingSinceKey = defineSearchAttributeKey('WaitingSince', SearchAttributeType.DATETIME);

/**
 * Orders (`order-<orderId>` workflows; they also carry DealId and OwnerId). No OrderId: the workflow
 * id holds it, and SQL visibility stores allow only 10 Keyword attributes per namespace (and 3 each
 * of Double, Datetime, Bool, Int) — this list uses 10 Keywords, 2 Doubles, 2 Datetimes, 2 Bools, 1 Int.
 */
export const OrderStatusKey = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
/** The order's invoice that is not canceled: `none`, `open`, `partially_paid` or `paid`. */
export const InvoiceStatusKey = defineSearchAttributeKey('InvoiceStatus', SearchAttributeType.KEYWORD);
/** While an invoice is unpaid: the moment it becomes overdue (the end of its due date, UTC). */
export const PaymentDueAtKey = defineSearchAttributeKey('PaymentDueAt', SearchAttributeType.DATETIME);
/** What is still owed on the unpaid invoice, in dollars (0 when nothing is). */
export const AmountDueKey = defineSearchAttributeKey('AmountDue', SearchAttributeType.DOUBLE);
export const PaymentOverdueKey = defineSearchAttributeKey('PaymentOverdue', SearchAttributeType.BOOL);

export const ALL_SEARCH_ATTRIBUTES = [
  LeadIdKey, OwnerIdKey, CustomerTypeKey, NurtureStepKey, NurtureStatusKey, SequenceIdKey, SequenceVersionKey,
  DealIdKey, DealStageKey, DealValueKey, TechCheckRequiredKey, WaitingSinceKey,
  OrderStatusKey, InvoiceStatusKey, PaymentDueAtKey, AmountDueKey, PaymentOverdueKey,
];

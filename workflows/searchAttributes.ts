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

export const ALL_SEARCH_ATTRIBUTES = [LeadIdKey, OwnerIdKey, CustomerTypeKey, NurtureStepKey, NurtureStatusKey];

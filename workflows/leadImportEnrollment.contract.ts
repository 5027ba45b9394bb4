/**
 * Enrolling every lead of an import in a sequence (issue 9), durably: `lead-import-enroll-<importId>`
 * walks the import's created leads a page at a time; a page is one activity that starts each
 * lead's enrollment (idempotent: a retried page finds the runs it started and counts them again).
 */
import { defineQuery } from '@temporalio/workflow';

export const leadImportEnrollmentWorkflowId = (importId: string): string => `lead-import-enroll-${importId}`;

export interface LeadImportEnrollmentInput {
  importId: string;
  sequenceId: string;
  /** The version pinned when the import was accepted: every lead runs the same one. */
  sequenceVersion: number;
  /** The user who imported; null (the CLI): each lead's owner. */
  enrolledBy: string | null;
  /** Where this run starts (a run continues as new every few pages). */
  offset?: number;
  totals?: LeadImportEnrollmentProgress;
}

export interface LeadImportEnrollmentProgress {
  enrolled: number;
  refused: Record<string, number>;
  done: boolean;
}

export interface EnrollPageInput {
  importId: string;
  sequenceId: string;
  sequenceVersion: number;
  enrolledBy: string | null;
  offset: number;
  limit: number;
}

export interface EnrollPageResult {
  /** How many leads the page held (fewer than the limit: the last page). */
  read: number;
  enrolled: number;
  refused: Record<string, number>;
}

export const IMPORT_ENROLLMENT_PAGE = 200;

export const getLeadImportEnrollmentQuery = defineQuery<LeadImportEnrollmentProgress>('getLeadImportEnrollment');

/**
 * Enrolls an import's leads in a sequence, a page at a time (issue 9). Each page is one activity;
 * the run continues as new every 25 pages so a large import never grows one history without bound.
 */
import { condition, allHandlersFinished, continueAsNew, proxyActivities, setHandler } from '@temporalio/workflow';
import type { LeadImportEnrollmentActivities } from '../activities/leadImportEnrollment';
import {
  IMPORT_ENROLLMENT_PAGE,
  getLeadImportEnrollmentQuery,
  type LeadImportEnrollmentInput,
  type LeadImportEnrollmentProgress,
} from './leadImportEnrollment.contract';

const { enrollImportPage } = proxyActivities<LeadImportEnrollmentActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', nonRetryableErrorTypes: ['sequence_not_found'] },
});

const PAGES_PER_RUN = 25;

export async function leadImportEnrollmentWorkflow(input: LeadImportEnrollmentInput): Promise<LeadImportEnrollmentProgress> {
  const progress: LeadImportEnrollmentProgress = input.totals ?? { enrolled: 0, refused: {}, done: false };
  setHandler(getLeadImportEnrollmentQuery, () => progress);
  let offset = input.offset ?? 0;
  for (let page = 0; page < PAGES_PER_RUN; page++) {
    const result = await enrollImportPage({
      importId: input.importId, sequenceId: input.sequenceId, sequenceVersion: input.sequenceVersion, enrolledBy: input.enrolledBy,
      offset, limit: IMPORT_ENROLLMENT_PAGE,
    });
    progress.enrolled += result.enrolled;
    for (const [code, n] of Object.entries(result.refused)) progress.refused[code] = (progress.refused[code] ?? 0) + n;
    offset += result.read;
    if (result.read < IMPORT_ENROLLMENT_PAGE) {
      progress.done = true;
      await condition(allHandlersFinished);
      return progress;
    }
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof leadImportEnrollmentWorkflow>({ ...input, offset, totals: progress });
}

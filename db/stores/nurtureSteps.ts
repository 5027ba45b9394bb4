/**
 * The durable record of each nurture step: done (with its timeline activity) or skipped (with the
 * reason the sequence stopped). One row per run and step, so retries rewrite the same row.
 */
import type { Knex } from 'knex';
import { fromRow } from '../rows';

export interface NurtureStepRecord {
  workflowId: string;
  runId: string;
  /** The person: a lead or (sequences, issue 9) a contact. */
  leadId: string | null;
  contactId?: string | null;
  /** Absent for the lead-nurture runs started before sequences were data. */
  sequenceId?: string | null;
  sequenceVersion?: number | null;
  step: string;
  stepIndex: number;
  state: 'done' | 'skipped';
  dueAt: string | null;
  doneAt: string | null;
  activityId: string | null;
  skipReason: string | null;
}

export class NurtureStepStore {
  constructor(private readonly db: Knex) {}

  async record(records: NurtureStepRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.db('nurture_steps')
      .insert(
        records.map((r) => ({
          workflow_id: r.workflowId,
          run_id: r.runId,
          lead_id: r.leadId,
          contact_id: r.contactId ?? null,
          sequence_id: r.sequenceId ?? null,
          sequence_version: r.sequenceVersion ?? null,
          step: r.step,
          step_index: r.stepIndex,
          state: r.state,
          due_at: r.dueAt,
          done_at: r.doneAt,
          activity_id: r.activityId,
          skip_reason: r.skipReason,
        })),
      )
      .onConflict(['run_id', 'step'])
      .merge(['state', 'due_at', 'done_at', 'activity_id', 'skip_reason']);
  }

  async forLead(leadId: string): Promise<NurtureStepRecord[]> {
    const rows = await this.db('nurture_steps').where({ lead_id: leadId }).orderBy([{ column: 'recorded_at' }, { column: 'step_index' }]);
    return rows.map((r: Record<string, unknown>) => fromRow<NurtureStepRecord>(r));
  }
}

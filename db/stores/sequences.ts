/**
 * Sequence definitions (issue 9). A sequence has one editable draft and numbered published
 * versions; publishing freezes the draft into the next version, which is never changed again.
 * Every write is audited. Enrollments are recorded per run, for the funnel and for finding a
 * person's sequences.
 */
import type { Knex } from 'knex';
import { ConflictError, NotFoundError } from '../../domain/rejection';
import type { SequenceDefinition, SequenceEligibility, SequenceStep } from '../../domain/sequences/definition';
import { fromRow } from '../rows';
import { recordAudit } from './audit';
import type { UserWriteContext, WriteContext } from './context';
import type { Person } from './people';
import { HOLIDAY_HORIZON_DAYS, type UserCalendar } from './calendars';
import { DEFAULT_WORKING_HOURS } from '../../domain/sequences/time';

export interface Sequence {
  id: string;
  name: string;
  description: string | null;
  eligibility: SequenceEligibility;
  /** The draft: what the next publish freezes. */
  steps: SequenceStep[];
  latestVersion: number | null;
  isDefault: boolean;
  status: 'active' | 'archived';
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
  archivedAt: string | null;
}

export interface SequenceVersion extends SequenceDefinition {
  publishedBy: string | null;
  publishedAt: string;
}

export interface SequenceDraft {
  name: string;
  description: string | null;
  eligibility: SequenceEligibility;
  steps: SequenceStep[];
}

export type PersonType = 'lead' | 'contact';

export interface EnrollmentRecord {
  runId: string;
  workflowId: string;
  sequenceId: string;
  sequenceVersion: number;
  personType: PersonType;
  personId: string;
  ownerId: string;
  enrolledBy: string | null;
}

export interface FunnelRow {
  version: number;
  enrolled: number;
  running: number;
  completed: number;
  exited: Record<string, number>;
  /** Per step key: how many enrollments reached it (performed it) and how many skipped it. */
  steps: Array<{ key: string; reached: number; skipped: number }>;
}

const toSequence = (row: Record<string, unknown>): Sequence => {
  const { archivedBy: _archivedBy, ...s } = fromRow<Omit<Sequence, 'status'> & { archivedBy: string | null }>(row);
  return { ...s, status: s.archivedAt ? 'archived' : 'active' };
};

const toVersion = (row: Record<string, unknown>): SequenceVersion => {
  const v = fromRow<{ sequenceId: string; version: number; name: string; eligibility: SequenceEligibility; steps: SequenceStep[]; publishedBy: string | null; publishedAt: string }>(row);
  return v;
};

/** Everything an enrollment needs, read in one round trip (issue 9's enrollment figure). */
export interface EnrollmentContext {
  person: Person;
  owner: UserCalendar;
  /** The company's holidays from `today` on, within what a sequence can reach. */
  holidays: string[];
  version: SequenceVersion;
}

export class SequenceStore {
  constructor(private readonly db: Knex) {}

  async list(includeArchived: boolean): Promise<Sequence[]> {
    const rows = await this.db('sequences')
      .modify((q) => (includeArchived ? q : q.whereNull('archived_at')))
      .orderBy([{ column: 'is_default', order: 'desc' }, { column: 'name' }, { column: 'id' }]);
    return rows.map(toSequence);
  }

  async get(id: string, db: Knex = this.db): Promise<Sequence | null> {
    const row = await db('sequences').where({ id }).first();
    return row ? toSequence(row) : null;
  }

  async require(id: string, db: Knex = this.db): Promise<Sequence> {
    const sequence = await this.get(id, db);
    if (!sequence) throw new NotFoundError('sequence', id);
    return sequence;
  }

  async versions(id: string): Promise<Array<Pick<SequenceVersion, 'version' | 'name' | 'publishedBy' | 'publishedAt'>>> {
    const rows = await this.db('sequence_versions').where({ sequence_id: id }).orderBy('version', 'desc').select('version', 'name', 'published_by', 'published_at');
    return rows.map((r: Record<string, unknown>) => fromRow(r));
  }

  async version(id: string, version: number): Promise<SequenceVersion | null> {
    const row = await this.db('sequence_versions').where({ sequence_id: id, version }).first();
    return row ? toVersion(row) : null;
  }

  /** What a new enrollment runs: the latest published version of a sequence that is not archived. */
  async forEnrollment(id: string | null): Promise<SequenceVersion> {
    const sequence = id ? await this.require(id) : await this.defaultSequence();
    if (sequence.archivedAt) throw new ConflictError('sequence_archived', `sequence ${sequence.id} is archived and takes no new enrollments`, 'sequenceId');
    if (sequence.latestVersion === null) throw new ConflictError('sequence_not_published', `sequence ${sequence.id} has no published version yet`, 'sequenceId');
    const version = await this.version(sequence.id, sequence.latestVersion);
    if (!version) throw new NotFoundError('sequence version', `${sequence.id}/${sequence.latestVersion}`);
    return version;
  }

  /**
   * The person, their owner's calendar, the holidays and the sequence's latest version, in one
   * query; refuses as `forEnrollment` does. With `pinnedVersion` (a lead import that pinned its
   * version when it was accepted) that version, archived sequence or not.
   */
  async enrollmentContext(type: PersonType, personId: string, sequenceId: string | null, today: string, pinnedVersion?: number): Promise<EnrollmentContext> {
    const personSql = type === 'lead'
      ? `select l.id, l.first_name, l.last_name, l.email, l.company_name as company, l.topic, l.status, l.owner_id, l.customer_type, l.time_zone, l.do_not_email_at
           from leads l where l.id = :personId`
      : `select c.id, c.first_name, c.last_name, c.email, a.name as company, null::text as topic, 'open' as status, c.owner_id, c.customer_type, c.time_zone, c.do_not_email_at
           from contacts c left join accounts a on a.id = c.parent_account_id where c.id = :personId`;
    const { rows } = await this.db.raw(`
      with p as (${personSql}),
           s as (select * from sequences where ${sequenceId ? 'id = :sequenceId' : 'is_default'} limit 1)
      select (select row_to_json(p) from p) as person,
             (select json_build_object('zone', u.time_zone, 'hours', u.working_hours, 'signature', u.email_signature, 'name', u.name) from users u join p on u.id = p.owner_id) as owner,
             (select coalesce(json_agg(to_char(h.day, 'YYYY-MM-DD') order by h.day), '[]'::json) from holidays h where h.day >= :today::date and h.day < :today::date + ${HOLIDAY_HORIZON_DAYS}) as holidays,
             (select row_to_json(s) from s) as sequence,
             (select row_to_json(v) from sequence_versions v join s on v.sequence_id = s.id and v.version = ${pinnedVersion === undefined ? 's.latest_version' : ':pinnedVersion'}) as version`,
    { personId, today, ...(sequenceId ? { sequenceId } : {}), ...(pinnedVersion === undefined ? {} : { pinnedVersion }) });
    const row = rows[0] as { person: Record<string, unknown> | null; owner: UserCalendar | null; holidays: string[]; sequence: Record<string, unknown> | null; version: Record<string, unknown> | null };
    if (!row.person) throw new NotFoundError(type, personId);
    if (!row.sequence) throw new NotFoundError('sequence', sequenceId ?? 'default');
    const sequence = toSequence(row.sequence);
    if (sequence.archivedAt && pinnedVersion === undefined) throw new ConflictError('sequence_archived', `sequence ${sequence.id} is archived and takes no new enrollments`, 'sequenceId');
    if (!row.version) throw new ConflictError('sequence_not_published', `sequence ${sequence.id} has no published version yet`, 'sequenceId');
    const p = fromRow<Omit<Person, 'type'>>(row.person);
    return {
      person: { ...p, type, doNotEmailAt: p.doNotEmailAt ? new Date(p.doNotEmailAt).toISOString() : null },
      owner: { ...row.owner!, hours: row.owner!.hours ?? DEFAULT_WORKING_HOURS },
      holidays: row.holidays,
      version: toVersion(row.version),
    };
  }

  /** After the start: the enrollment row and its audit entry, in one statement. */
  async recordEnrollmentAudited(record: EnrollmentRecord, audit: { actorId: string; requestId: string | null }): Promise<void> {
    await this.db.raw(`
      with e as (
        insert into sequence_enrollments (run_id, workflow_id, sequence_id, sequence_version, person_type, person_id, owner_id, enrolled_by)
        values (:runId, :workflowId, :sequenceId, :sequenceVersion, :personType, :personId, :ownerId, :enrolledBy)
        on conflict (run_id) do nothing
      )
      insert into audit_log (actor_type, actor_id, action, entity_type, entity_id, after, request_id)
      values ('user', :actorId, 'nurture.enrolled', :personType, :personId, :after::jsonb, :requestId)`,
    {
      ...record, actorId: audit.actorId, requestId: audit.requestId,
      after: JSON.stringify({ workflowId: record.workflowId, runId: record.runId, sequenceId: record.sequenceId, sequenceVersion: record.sequenceVersion }),
    });
  }

  async defaultSequence(): Promise<Sequence> {
    const row = await this.db('sequences').where({ is_default: true }).first();
    if (!row) throw new NotFoundError('sequence', 'default');
    return toSequence(row);
  }

  async create(draft: SequenceDraft, ctx: UserWriteContext): Promise<Sequence> {
    return this.db.transaction(async (trx) => {
      const [row] = await trx('sequences')
        .insert({ name: draft.name, description: draft.description, eligibility: JSON.stringify(draft.eligibility), steps: JSON.stringify(draft.steps), created_by: ctx.userId })
        .returning('*');
      const created = toSequence(row);
      await recordAudit(trx, { actor: ctx.actor, action: 'sequence.created', entityType: 'sequence', entityId: created.id, after: draft, requestId: ctx.requestId });
      return created;
    });
  }

  /** Replaces the draft's fields that the patch names; an archived sequence is read-only. */
  async updateDraft(id: string, patch: Partial<SequenceDraft>, ctx: WriteContext): Promise<Sequence> {
    return this.db.transaction(async (trx) => {
      const before = await this.lockOpen(trx, id);
      const values: Record<string, unknown> = { updated_at: trx.fn.now() };
      if (patch.name !== undefined) values.name = patch.name;
      if (patch.description !== undefined) values.description = patch.description;
      if (patch.eligibility !== undefined) values.eligibility = JSON.stringify(patch.eligibility);
      if (patch.steps !== undefined) values.steps = JSON.stringify(patch.steps);
      const [row] = await trx('sequences').where({ id }).update(values).returning('*');
      const after = toSequence(row);
      await recordAudit(trx, { actor: ctx.actor, action: 'sequence.edited', entityType: 'sequence', entityId: id, before: draftOf(before), after: draftOf(after), requestId: ctx.requestId });
      return after;
    });
  }

  /** Freezes the draft into the next version; running enrollments keep theirs. */
  async publish(id: string, ctx: UserWriteContext): Promise<SequenceVersion> {
    return this.db.transaction(async (trx) => {
      const sequence = await this.lockOpen(trx, id);
      if (sequence.steps.length === 0) throw new ConflictError('sequence_steps_required', 'a sequence needs at least one step before it is published', 'steps');
      const version = (sequence.latestVersion ?? 0) + 1;
      const [row] = await trx('sequence_versions')
        .insert({ sequence_id: id, version, name: sequence.name, eligibility: JSON.stringify(sequence.eligibility), steps: JSON.stringify(sequence.steps), published_by: ctx.userId })
        .returning('*');
      await trx('sequences').where({ id }).update({ latest_version: version, updated_at: trx.fn.now() });
      await recordAudit(trx, { actor: ctx.actor, action: 'sequence.published', entityType: 'sequence', entityId: id, after: { version }, requestId: ctx.requestId });
      return toVersion(row);
    });
  }

  async archive(id: string, ctx: UserWriteContext): Promise<Sequence> {
    return this.db.transaction(async (trx) => {
      const sequence = await this.lockOpen(trx, id);
      if (sequence.isDefault) throw new ConflictError('sequence_is_default', 'the default sequence cannot be archived', 'id');
      const [row] = await trx('sequences').where({ id }).update({ archived_at: trx.fn.now(), archived_by: ctx.userId, updated_at: trx.fn.now() }).returning('*');
      await recordAudit(trx, { actor: ctx.actor, action: 'sequence.archived', entityType: 'sequence', entityId: id, requestId: ctx.requestId });
      return toSequence(row);
    });
  }

  private async lockOpen(trx: Knex.Transaction, id: string): Promise<Sequence> {
    const row = await trx('sequences').where({ id }).forUpdate().first();
    if (!row) throw new NotFoundError('sequence', id);
    const sequence = toSequence(row);
    if (sequence.archivedAt) throw new ConflictError('sequence_archived', `sequence ${id} is archived`, 'id');
    return sequence;
  }

  /** Idempotent: the API records the enrollment when it starts it, the first step again (a lost write is healed). */
  async recordEnrollment(record: EnrollmentRecord, db: Knex = this.db): Promise<void> {
    await db('sequence_enrollments')
      .insert({
        run_id: record.runId, workflow_id: record.workflowId, sequence_id: record.sequenceId, sequence_version: record.sequenceVersion,
        person_type: record.personType, person_id: record.personId, owner_id: record.ownerId, enrolled_by: record.enrolledBy,
      })
      .onConflict('run_id')
      .ignore();
  }

  async endEnrollment(runId: string, status: 'completed' | 'stopped', exitReason: string | null, db: Knex = this.db): Promise<void> {
    await db('sequence_enrollments').where({ run_id: runId, status: 'running' }).update({ status, exit_reason: exitReason, ended_at: db.fn.now() });
  }

  /** The funnel of each published version: from the enrollments and the step records. */
  async funnel(id: string): Promise<FunnelRow[]> {
    const versions = await this.db('sequence_versions').where({ sequence_id: id }).orderBy('version').select('version', 'steps');
    const totals = await this.db('sequence_enrollments').where({ sequence_id: id })
      .groupBy('sequence_version', 'status', 'exit_reason')
      .select('sequence_version as version', 'status', 'exit_reason as exitReason', this.db.raw('count(*)::int as n'));
    const steps = await this.db('nurture_steps').where({ sequence_id: id })
      .groupBy('sequence_version', 'step', 'state')
      .select('sequence_version as version', 'step', 'state', this.db.raw('count(distinct run_id)::int as n'));
    return versions.map(({ version, steps: defined }: { version: number; steps: SequenceStep[] }) => {
      const row: FunnelRow = { version, enrolled: 0, running: 0, completed: 0, exited: {}, steps: [] };
      for (const t of totals.filter((x: { version: number }) => x.version === version) as Array<{ status: string; exitReason: string | null; n: number }>) {
        row.enrolled += t.n;
        if (t.status === 'running') row.running += t.n;
        else if (t.status === 'completed') row.completed += t.n;
        else row.exited[t.exitReason ?? 'unknown'] = (row.exited[t.exitReason ?? 'unknown'] ?? 0) + t.n;
      }
      const count = (key: string, state: string) =>
        (steps as Array<{ version: number; step: string; state: string; n: number }>).find((s) => s.version === version && s.step === key && s.state === state)?.n ?? 0;
      row.steps = defined.map((s) => ({ key: s.key, reached: count(s.key, 'done'), skipped: count(s.key, 'skipped') }));
      return row;
    });
  }
}

const draftOf = (s: Sequence): SequenceDraft => ({ name: s.name, description: s.description, eligibility: s.eligibility, steps: s.steps });

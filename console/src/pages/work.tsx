/** My work: my open activities due today (overdue ones first) and the nurture sequences I own. */
import { useState } from 'preact/hooks';
import { act, api, read, type Activity, type Lead, type Me, type Nurture } from '../api/client';
import { formatDateTime, fromLocalInput, humanize, toLocalInput } from '../format';
import { Button, Empty, Page, ProblemMessage, Section, Show, useAction, useLoad } from '../ui';
import { NurtureControls } from './nurture';

const RECORD_PAGES: Record<string, string> = { lead: 'leads', deal: 'deals', order: 'orders' };

export function RecordLink({ type, id }: { type: string; id: string }) {
  const page = RECORD_PAGES[type];
  return page ? <a href={`#/${page}/${id}`}>{humanize(type)}</a> : <span>{humanize(type)}</span>;
}

function endOfToday(): string {
  const end = new Date();
  end.setHours(23, 59, 59, 999);
  return end.toISOString();
}

function ActivityRow({ activity, onChanged }: { activity: Activity; onChanged: () => void }) {
  const action = useAction();
  const [rescheduling, setRescheduling] = useState(false);
  const [due, setDue] = useState(toLocalInput(new Date(Date.now() + 86_400_000)));
  const complete = () => action.run(async () => {
    await act((key) => api.PATCH('/activities/{id}', { params: { path: { id: activity.id }, header: { 'Idempotency-Key': key } }, body: { status: 'completed' } }));
    onChanged();
  });
  const reschedule = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      await act((key) => api.PATCH('/activities/{id}', { params: { path: { id: activity.id }, header: { 'Idempotency-Key': key } }, body: { dueAt: fromLocalInput(due) } }));
      setRescheduling(false);
      onChanged();
    });
  };
  return (
    <li class={`work-item${activity.overdue ? ' overdue' : ''}`}>
      <div class="work-main">
        <span class="work-subject">{activity.subject}</span>
        <span class="muted">
          {humanize(activity.type)} · <RecordLink type={activity.regardingType} id={activity.regardingId} /> · due {formatDateTime(activity.dueAt)}
          {activity.overdue && <strong class="badge danger"> overdue</strong>}
        </span>
      </div>
      <div class="work-actions">
        <Button action={action} kind="primary" onClick={complete} aria-label={`Complete: ${activity.subject}`}>Complete</Button>
        <Button action={action} onClick={() => setRescheduling(!rescheduling)} aria-expanded={rescheduling} aria-label={`Reschedule: ${activity.subject}`}>Reschedule</Button>
      </div>
      {rescheduling && (
        <form class="inline-form" onSubmit={reschedule}>
          <label>New due date <input type="datetime-local" required value={due} onInput={(e) => setDue(e.currentTarget.value)} /></label>
          <button type="submit" class="button primary" disabled={action.busy}>Save</button>
        </form>
      )}
      <ProblemMessage problem={action.problem} />
    </li>
  );
}

async function myNurtures(me: Me): Promise<Array<{ lead: Lead; nurture: Nurture }>> {
  const leads = await read(() => api.GET('/leads', { params: { query: { ownerId: me.id, status: 'open', limit: '100' } } }));
  const found = await Promise.all(leads.data.map(async (lead) => {
    const { data, response } = await api.GET('/leads/{id}/nurture', { params: { path: { id: lead.id } } });
    return response.ok && data ? { lead, nurture: data } : null;
  }));
  return found.filter((x): x is { lead: Lead; nurture: Nurture } => x !== null && (x.nurture.status === 'running' || x.nurture.status === 'paused'));
}

export function MyWork({ me }: { me: Me }) {
  const [scope, setScope] = useState<'today' | 'open'>('today');
  const activities = useLoad(() => read(() => api.GET('/me/activities', {
    params: { query: { status: ['open'], limit: '100', ...(scope === 'today' ? { dueBefore: endOfToday() } : {}) } },
  })), [scope]);
  const nurtures = useLoad(() => myNurtures(me), [me.id]);
  return (
    <Page title="My work">
      <Section title="Activities" actions={(
        <div class="segmented" role="group" aria-label="Which activities">
          <button type="button" aria-pressed={scope === 'today'} onClick={() => setScope('today')}>Due today</button>
          <button type="button" aria-pressed={scope === 'open'} onClick={() => setScope('open')}>All open</button>
        </div>
      )}>
        <Show state={activities} rows={4}>
          {(page) => page.data.length === 0
            ? <Empty>{scope === 'today' ? 'Nothing due today.' : 'No open activities.'}</Empty>
            : <ul class="work-list">{page.data.map((a) => <ActivityRow key={a.id} activity={a} onChanged={activities.reload} />)}</ul>}
        </Show>
      </Section>
      <Section title="My nurture sequences">
        <Show state={nurtures} rows={2}>
          {(list) => list.length === 0 ? <Empty>None of your open leads is in a nurture sequence.</Empty> : (
            <ul class="work-list">
              {list.map(({ lead, nurture }) => (
                <li class="work-item" key={lead.id}>
                  <div class="work-main">
                    <a class="work-subject" href={`#/leads/${lead.id}`}>{lead.topic}</a>
                    <span class="muted">{[lead.firstName, lead.lastName].filter(Boolean).join(' ')}{lead.companyName ? `, ${lead.companyName}` : ''}</span>
                  </div>
                  <NurtureControls me={me} lead={lead} nurture={nurture} onChanged={nurtures.reload} compact />
                </li>
              ))}
            </ul>
          )}
        </Show>
      </Section>
    </Page>
  );
}

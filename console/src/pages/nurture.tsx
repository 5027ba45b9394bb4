/** A lead's nurture sequence: where it stands, and pause / resume / stop for whoever may. */
import { useState } from 'preact/hooks';
import { act, api, type Lead, type Me, type Nurture } from '../api/client';
import { mayChange } from '../access';
import { formatDateTime, humanize } from '../format';
import { Button, ProblemMessage, Status, useAction } from '../ui';

const STOP_REASONS = ['replied', 'meeting_booked', 'unsubscribed', 'manual'] as const;

export function NurtureControls({ me, lead, nurture, onChanged, compact = false }: { me: Me; lead: Lead; nurture: Nurture; onChanged: () => void; compact?: boolean }) {
  const action = useAction();
  const [reason, setReason] = useState<(typeof STOP_REASONS)[number]>('replied');
  const may = mayChange(me, lead.ownerId);
  const live = nurture.status === 'running' || nurture.status === 'paused';
  const path = { path: { id: lead.id } };
  const pause = () => action.run(async () => {
    await act((key) => api.POST('/leads/{id}/nurture/pause', { params: { ...path, header: { 'Idempotency-Key': key } }, body: {} }));
    onChanged();
  });
  const resume = () => action.run(async () => {
    await act((key) => api.POST('/leads/{id}/nurture/resume', { params: { ...path, header: { 'Idempotency-Key': key } }, body: {} }));
    onChanged();
  });
  const stop = () => action.run(async () => {
    await act((key) => api.POST('/leads/{id}/nurture/stop', { params: { ...path, header: { 'Idempotency-Key': key } }, body: { reason } }));
    onChanged();
  });
  const next = nurture.steps.find((s) => s.step === nurture.currentStep);
  return (
    <div class={compact ? 'nurture compact' : 'nurture'}>
      <p class="nurture-state">
        <Status value={nurture.status} />{' '}
        {live && next ? <>next: <strong>{next.title}</strong> {nurture.status === 'paused' ? '(paused)' : `at ${formatDateTime(nurture.nextStepAt ?? next.dueAt)}`}</> : null}
        {nurture.stopReason && <> · {humanize(nurture.stopReason)}</>}
      </p>
      {!compact && (
        <ol class="steps">
          {nurture.steps.map((s) => (
            <li key={s.step} class={`step step-${s.state}`}>
              <span>{s.title}</span> <Status value={s.state} />{' '}
              <span class="muted">{s.state === 'done' ? formatDateTime(s.doneAt) : s.state === 'pending' ? `due ${formatDateTime(s.dueAt)}` : ''}</span>
            </li>
          ))}
        </ol>
      )}
      {may && live && (
        <div class="button-row">
          {nurture.status === 'running' && <Button action={action} onClick={pause}>Pause</Button>}
          {nurture.status === 'paused' && <Button action={action} onClick={resume}>Resume</Button>}
          <label class="inline">Stop because <select value={reason} onChange={(e) => setReason(e.currentTarget.value as typeof reason)}>
            {STOP_REASONS.map((r) => <option key={r} value={r}>{humanize(r)}</option>)}
          </select></label>
          <Button action={action} kind="danger" onClick={stop}>Stop</Button>
        </div>
      )}
      <ProblemMessage problem={action.problem} />
    </div>
  );
}

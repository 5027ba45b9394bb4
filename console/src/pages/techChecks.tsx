/** Tech Checks: the deals waiting in Tech Check, oldest first, and the form a consultant records a check with. */
import { useState } from 'preact/hooks';
import { act, api, read, type DealSummary, type Me } from '../api/client';
import { recordsTechChecks } from '../access';
import { formatCents, formatDateTime, fromLocalInput, toLocalInput } from '../format';
import { Button, Empty, Field, Page, ProblemMessage, Show, useAction, useLoad } from '../ui';

function CheckForm({ deal, onRecorded }: { deal: DealSummary; onRecorded: () => void }) {
  const full = useLoad(() => read(() => api.GET('/deals/{id}', { params: { path: { id: deal.id } } })), [deal.id]);
  const action = useAction();
  const [outcome, setOutcome] = useState<'passed' | 'failed'>('passed');
  const [notes, setNotes] = useState('');
  const [when, setWhen] = useState(toLocalInput(new Date()));
  const quote = full.data?.quotes.find((q) => q.id === full.data?.activeQuoteId);
  const submit = (event: Event) => {
    event.preventDefault();
    if (!quote) return;
    void action.run(async () => {
      await act((k) => api.POST('/deals/{id}/tech-checks', {
        params: { path: { id: deal.id }, header: { 'Idempotency-Key': k } },
        body: { quoteId: quote.id, outcome, notes, completedAt: fromLocalInput(when) },
      }));
      onRecorded();
    });
  };
  const name = `outcome-${deal.id}`;
  return (
    <form class="check-form" onSubmit={submit} aria-label={`Tech Check of ${deal.name}`}>
      <Show state={full} rows={1}>
        {() => quote
          ? <p>Checks quote <strong>{quote.quoteNumber}</strong>, revision {quote.revision}, {formatCents(quote.totalCents)}.</p>
          : <p class="problem" role="alert">This deal has no active quote to check.</p>}
      </Show>
      <fieldset>
        <legend>Outcome</legend>
        <label class="check"><input type="radio" name={name} value="passed" checked={outcome === 'passed'} onChange={() => setOutcome('passed')} /> Passed</label>
        <label class="check"><input type="radio" name={name} value="failed" checked={outcome === 'failed'} onChange={() => setOutcome('failed')} /> Failed</label>
      </fieldset>
      <Field label="Notes"><textarea required rows={3} value={notes} onInput={(e) => setNotes(e.currentTarget.value)} /></Field>
      <Field label="Checked on"><input type="datetime-local" required value={when} onInput={(e) => setWhen(e.currentTarget.value)} /></Field>
      <button type="submit" class="button primary" disabled={action.busy || !quote}>Record the Tech Check</button>
      <ProblemMessage problem={action.problem} />
    </form>
  );
}

function QueueItem({ me, deal, onRecorded }: { me: Me; deal: DealSummary; onRecorded: () => void }) {
  const [open, setOpen] = useState(false);
  const waitedDays = Math.floor((Date.now() - new Date(deal.stageEnteredAt).getTime()) / 86_400_000);
  return (
    <li class="work-item">
      <div class="work-main">
        <a class="work-subject" href={`#/deals/${deal.id}`}>{deal.name}</a>
        <span class="muted">{formatCents(deal.valueCents)} · waiting since {formatDateTime(deal.stageEnteredAt)}{waitedDays >= 2 && <strong class="badge danger"> {waitedDays} days</strong>}</span>
      </div>
      {recordsTechChecks(me) && <div class="work-actions"><Button kind="primary" onClick={() => setOpen(!open)} aria-expanded={open}>Record a check</Button></div>}
      {open && <CheckForm deal={deal} onRecorded={() => { setOpen(false); onRecorded(); }} />}
    </li>
  );
}

export function TechChecks({ me }: { me: Me }) {
  const queue = useLoad(() => read(() => api.GET('/deals', { params: { query: { stage: 'tech_check', status: 'open', limit: '200' } } })), []);
  return (
    <Page title="Tech Checks">
      <p class="lede">Deals waiting in Tech Check, the longest waiting first.{recordsTechChecks(me) ? '' : ' Technical consultants record the checks.'}</p>
      <Show state={queue} rows={4}>
        {(page) => {
          const waiting = [...page.data].sort((a, b) => a.stageEnteredAt.localeCompare(b.stageEnteredAt));
          return waiting.length === 0 ? <Empty>No deal is waiting for a Tech Check.</Empty>
            : <ul class="work-list">{waiting.map((d) => <QueueItem key={d.id} me={me} deal={d} onRecorded={queue.reload} />)}</ul>;
        }}
      </Show>
    </Page>
  );
}

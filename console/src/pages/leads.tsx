/** Leads: list and search, create; a lead's page: enroll, qualify, disqualify, its sequence and timeline. */
import { useState } from 'preact/hooks';
import { ProblemError, act, api, read, type Lead, type Me } from '../api/client';
import { mayChange, sells } from '../access';
import { formatCents, formatDateTime, humanize, parseDollars } from '../format';
import { Button, Empty, Field, Page, ProblemMessage, Section, Show, Status, go, useAction, useLoad } from '../ui';
import { NurtureControls } from './nurture';
import { Timeline } from './timeline';

const STATUSES = ['open', 'qualified', 'disqualified'] as const;
const DISQUALIFY_REASONS = ['lost', 'cannot_contact', 'no_longer_interested', 'canceled'];

const person = (lead: Lead) => [lead.firstName, lead.lastName].filter(Boolean).join(' ');

function matches(lead: Lead, q: string): boolean {
  const needle = q.trim().toLowerCase();
  return !needle || [lead.topic, lead.firstName, lead.lastName, lead.companyName, lead.email].some((v) => v?.toLowerCase().includes(needle));
}

function NewLead({ onCreated }: { onCreated: (lead: Lead) => void }) {
  const action = useAction();
  const [form, setForm] = useState({ topic: '', firstName: '', lastName: '', email: '', companyName: '', customerType: 'corporate' as 'corporate' | 'consumer', estimate: '' });
  const set = (key: keyof typeof form) => (e: Event) => setForm({ ...form, [key]: (e.currentTarget as HTMLInputElement).value });
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const estimate = form.estimate.trim() ? parseDollars(form.estimate) : null;
      if (form.estimate.trim() && estimate === null) throw new ProblemError({ status: 400, code: 'invalid_value', field: 'estimatedValueCents', detail: 'Estimated value: write an amount in dollars, such as 25,000.00' });
      const lead = await act((key) => api.POST('/leads', {
        params: { header: { 'Idempotency-Key': key } },
        body: {
          topic: form.topic, lastName: form.lastName, customerType: form.customerType,
          firstName: form.firstName || null, email: form.email || null, companyName: form.companyName || null,
          ...(estimate !== null ? { estimatedValueCents: estimate } : {}),
        },
      }));
      onCreated(lead);
    });
  };
  return (
    <form class="card form-grid" onSubmit={submit} aria-labelledby="new-lead">
      <h2 id="new-lead">New lead</h2>
      <Field label="Topic"><input required name="topic" value={form.topic} onInput={set('topic')} /></Field>
      <Field label="First name"><input name="firstName" value={form.firstName} onInput={set('firstName')} /></Field>
      <Field label="Last name"><input required name="lastName" value={form.lastName} onInput={set('lastName')} /></Field>
      <Field label="E-mail"><input type="email" name="email" value={form.email} onInput={set('email')} /></Field>
      <Field label="Company"><input name="companyName" value={form.companyName} onInput={set('companyName')} /></Field>
      <Field label="Customer type">
        <select name="customerType" value={form.customerType} onChange={set('customerType')}>
          <option value="corporate">Corporate</option>
          <option value="consumer">Consumer</option>
        </select>
      </Field>
      <Field label="Estimated value (USD)" hint="Optional, e.g. 25,000.00"><input name="estimate" inputMode="decimal" value={form.estimate} onInput={set('estimate')} /></Field>
      <div class="form-actions">
        <button type="submit" class="button primary" disabled={action.busy}>Create lead</button>
      </div>
      <ProblemMessage problem={action.problem} />
    </form>
  );
}

export function Leads({ me }: { me: Me }) {
  const [status, setStatus] = useState<(typeof STATUSES)[number] | ''>('open');
  const [mine, setMine] = useState(me.role === 'rep');
  const [q, setQ] = useState('');
  const [creating, setCreating] = useState(false);
  const leads = useLoad(() => read(() => api.GET('/leads', {
    params: { query: { limit: '200', ...(status ? { status } : {}), ...(mine ? { ownerId: me.id } : {}) } },
  })), [status, mine]);
  return (
    <Page title="Leads" actions={sells(me) && <Button kind="primary" onClick={() => setCreating(!creating)} aria-expanded={creating}>New lead</Button>}>
      {creating && <NewLead onCreated={(lead) => go(`leads/${lead.id}`)} />}
      <div class="filters" role="search">
        <Field label="Search"><input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} placeholder="Topic, name, company, e-mail" /></Field>
        <Field label="Status">
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value as typeof status)}>
            <option value="">Any</option>
            {STATUSES.map((s) => <option key={s} value={s}>{humanize(s)}</option>)}
          </select>
        </Field>
        <label class="check"><input type="checkbox" checked={mine} onChange={(e) => setMine(e.currentTarget.checked)} /> Only mine</label>
      </div>
      <Show state={leads} rows={6}>
        {(page) => {
          const shown = page.data.filter((l) => matches(l, q));
          return shown.length === 0 ? <Empty>No leads match.</Empty> : (
            <div class="table-wrap" tabIndex={0} role="region" aria-label="Leads">
              <table>
                <caption class="sr-only">Leads</caption>
                <thead><tr><th scope="col">Topic</th><th scope="col">Contact</th><th scope="col">Type</th><th scope="col">Estimate</th><th scope="col">Status</th><th scope="col">Created</th></tr></thead>
                <tbody>
                  {shown.map((lead) => (
                    <tr key={lead.id}>
                      <td><a href={`#/leads/${lead.id}`}>{lead.topic}</a></td>
                      <td>{person(lead)}{lead.companyName ? <span class="muted">, {lead.companyName}</span> : null}</td>
                      <td>{humanize(lead.customerType)}</td>
                      <td class="num">{formatCents(lead.estimatedValueCents)}</td>
                      <td><Status value={lead.status} /></td>
                      <td>{formatDateTime(lead.createdAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          );
        }}
      </Show>
    </Page>
  );
}

async function loadLead(id: string) {
  const lead = await read(() => api.GET('/leads/{id}', { params: { path: { id } } }));
  const nurture = await api.GET('/leads/{id}/nurture', { params: { path: { id } } });
  const deals = lead.status === 'qualified' ? await read(() => api.GET('/deals', { params: { query: { limit: '200', ownerId: lead.ownerId } } })) : null;
  return { lead, nurture: nurture.response.ok ? nurture.data ?? null : null, deal: deals?.data.find((d) => d.leadId === lead.id) ?? null };
}

export function LeadPage({ me, id }: { me: Me; id: string }) {
  const state = useLoad(() => loadLead(id), [id]);
  const [version, setVersion] = useState(0);
  const changed = () => {
    state.reload();
    setVersion((v) => v + 1);
  };
  const action = useAction();
  const [qualified, setQualified] = useState<{ dealId: string; contactId: string; accountId: string | null } | null>(null);
  const [reason, setReason] = useState(DISQUALIFY_REASONS[0]);
  return (
    <Page title={state.data?.lead.topic ?? 'Lead'}>
      <Show state={state} rows={5}>
        {({ lead, nurture, deal }) => {
          const may = mayChange(me, lead.ownerId) && lead.status === 'open';
          const enroll = () => action.run(async () => {
            await act((key) => api.POST('/leads/{id}/nurture', { params: { path: { id }, header: { 'Idempotency-Key': key } }, body: {} }));
            changed();
          });
          const qualify = () => action.run(async () => {
            const made = await act((key) => api.POST('/leads/{id}/qualify', { params: { path: { id }, header: { 'Idempotency-Key': key } }, body: {} }));
            setQualified(made);
            changed();
          });
          const disqualify = () => action.run(async () => {
            await act((key) => api.POST('/leads/{id}/disqualify', { params: { path: { id }, header: { 'Idempotency-Key': key } }, body: { reason } }));
            changed();
          });
          const live = nurture && (nurture.status === 'running' || nurture.status === 'paused');
          return (
            <>
              <Section title="Details">
                <dl class="facts">
                  <dt>Status</dt><dd><Status value={lead.status} />{lead.statusReason ? ` (${humanize(lead.statusReason)})` : ''}</dd>
                  <dt>Contact</dt><dd>{person(lead)}{lead.email ? ` · ${lead.email}` : ''}</dd>
                  <dt>Company</dt><dd>{lead.companyName ?? '—'}</dd>
                  <dt>Customer type</dt><dd>{humanize(lead.customerType)}</dd>
                  <dt>Estimated value</dt><dd>{formatCents(lead.estimatedValueCents)}</dd>
                  <dt>Source</dt><dd>{humanize(lead.source)}</dd>
                </dl>
                {may && (
                  <div class="button-row">
                    {!live && lead.customerType === 'corporate' && <Button action={action} onClick={enroll}>Enroll in nurture</Button>}
                    <Button action={action} kind="primary" onClick={qualify}>Qualify</Button>
                    <label class="inline">Reason <select value={reason} onChange={(e) => setReason(e.currentTarget.value)}>
                      {DISQUALIFY_REASONS.map((r) => <option key={r} value={r}>{humanize(r)}</option>)}
                    </select></label>
                    <Button action={action} kind="danger" onClick={disqualify}>Disqualify</Button>
                  </div>
                )}
                <ProblemMessage problem={action.problem} />
                {(qualified || deal) && (
                  <div class="notice" role="status">
                    Qualified: <a href={`#/deals/${qualified?.dealId ?? deal!.id}`}>open the deal</a>
                    {qualified && <> · contact <code>{qualified.contactId.slice(0, 8)}</code>{qualified.accountId ? <> · account <code>{qualified.accountId.slice(0, 8)}</code></> : ' · no account (a consumer)'}</>}
                  </div>
                )}
              </Section>
              <Section title="Nurture sequence">
                {nurture ? <NurtureControls me={me} lead={lead} nurture={nurture} onChanged={changed} /> : <p class="empty">Not enrolled.</p>}
              </Section>
              <Timeline kind="lead" id={id} version={version} />
            </>
          );
        }}
      </Show>
    </Page>
  );
}

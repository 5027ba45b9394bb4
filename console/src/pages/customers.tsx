/** Customers: search the unified view, and one profile with its sources, purchases and CRM records. */
import { useState } from 'preact/hooks';
import { api, read } from '../api/client';
import { formatCents, formatDate, humanize } from '../format';
import { Empty, Field, Page, Section, Show, useLoad } from '../ui';

export function Customers() {
  const [q, setQ] = useState(new URLSearchParams(location.hash.split('?')[1] ?? '').get('q') ?? '');
  const [submitted, setSubmitted] = useState(q);
  const results = useLoad(() => read(() => api.GET('/customers', { params: { query: { limit: '50', ...(submitted.trim() ? { q: submitted.trim() } : {}) } } })), [submitted]);
  return (
    <Page title="Customers">
      <form class="filters" role="search" onSubmit={(e) => { e.preventDefault(); setSubmitted(q); }}>
        <Field label="Find a customer" hint="Name, e-mail, phone, postal code, ContactId or LoyaltyId"><input type="search" value={q} onInput={(e) => setQ(e.currentTarget.value)} /></Field>
        <button type="submit" class="button primary">Search</button>
      </form>
      <Show state={results} rows={5}>
        {(page) => page.data.length === 0 ? <Empty>No customer matches.</Empty> : (
          <div class="table-wrap" tabIndex={0} role="region" aria-label="Customers found">
            <table>
              <caption class="sr-only">Customers</caption>
              <thead><tr><th scope="col">Name</th><th scope="col">E-mail</th><th scope="col">Phone</th><th scope="col">Postal code</th><th scope="col" class="num">Source records</th></tr></thead>
              <tbody>{page.data.map((c) => (
                <tr key={c.id}><td><a href={`#/customers/${c.id}`}>{c.fullName ?? ([c.firstName, c.lastName].filter(Boolean).join(' ') || c.id)}</a></td><td>{c.email ?? '—'}</td><td>{c.phone ?? '—'}</td><td>{c.postalCode ?? '—'}</td><td class="num">{c.recordCount}</td></tr>
              ))}</tbody>
            </table>
          </div>
        )}
      </Show>
    </Page>
  );
}

export function CustomerPage({ id }: { id: string }) {
  const state = useLoad(() => read(() => api.GET('/customers/{id}', { params: { path: { id } } })), [id]);
  const c = state.data;
  return (
    <Page title={c ? c.fullName ?? ([c.firstName, c.lastName].filter(Boolean).join(' ') || 'Customer') : 'Customer'}>
      <Show state={state} rows={6}>
        {(customer) => (
          <>
            <Section title="Profile">
              <dl class="facts">
                <dt>E-mail</dt><dd>{customer.emails.join(', ') || '—'}</dd>
                <dt>Phone</dt><dd>{customer.phone ?? '—'}</dd>
                <dt>Address</dt><dd>{[customer.street, customer.postalCode, customer.city, customer.state, customer.country].filter(Boolean).join(', ') || '—'}</dd>
                <dt>Purchases</dt><dd>{customer.totals.count}, {formatCents(customer.totals.lifetimeCents)} in all ({formatCents(customer.totals.last12MonthsCents)} in the last 12 months)</dd>
                <dt>Loyalty points</dt><dd>{customer.loyalty.pointsBalance ?? '—'}</dd>
              </dl>
            </Section>
            <Section title="Sources">
              <div class="table-wrap" tabIndex={0} role="region" aria-label="Sources">
                <table>
                  <thead><tr><th scope="col">Source</th><th scope="col">Key</th><th scope="col">Name</th><th scope="col">E-mail</th><th scope="col">Matched by</th></tr></thead>
                  <tbody>{customer.records.map((r) => <tr key={`${r.source}-${r.sourceKey}`}><td>{humanize(r.source)}</td><td><code>{r.sourceKey}</code></td><td>{r.fullName ?? [r.firstName, r.lastName].filter(Boolean).join(' ')}</td><td>{r.email ?? '—'}</td><td>{r.rule ? `${humanize(r.rule)} (${Math.round(r.confidence * 100)}%)` : 'first record'}</td></tr>)}</tbody>
                </table>
              </div>
            </Section>
            <Section title="Purchases">
              {customer.purchases.length === 0 ? <Empty>No purchases.</Empty> : (
                <div class="table-wrap" tabIndex={0} role="region" aria-label="Purchases">
                  <table>
                    <thead><tr><th scope="col">Date</th><th scope="col">Channel</th><th scope="col">Purchase</th><th scope="col" class="num">Total</th></tr></thead>
                    <tbody>{customer.purchases.map((p) => <tr key={`${p.source}-${p.purchaseId}`}><td>{formatDate(p.purchasedOn)}</td><td>{humanize(p.channel)}</td><td><code>{p.purchaseId}</code></td><td class="num">{formatCents(p.totalCents)}</td></tr>)}</tbody>
                  </table>
                </div>
              )}
            </Section>
            <Section title="CRM records">
              {customer.crm.leads.length === 0 && customer.crm.deals.length === 0 ? <Empty>No leads or deals with this customer's e-mail.</Empty> : (
                <ul class="plain">
                  {customer.crm.leads.map((l) => <li key={l.id}>Lead <a href={`#/leads/${l.id}`}>{l.topic}</a> ({l.status})</li>)}
                  {customer.crm.deals.map((d) => <li key={d.id}>Deal <a href={`#/deals/${d.id}`}>{d.name}</a> ({d.stage}, {d.status})</li>)}
                </ul>
              )}
            </Section>
          </>
        )}
      </Show>
    </Page>
  );
}

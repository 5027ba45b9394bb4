/** A deal: stage and the gate, lines, quotes with their revisions, Tech Checks, orders, timeline. */
import { useState } from 'preact/hooks';
import { ProblemError, act, api, read, type Deal, type Me, type Quote } from '../api/client';
import { mayChange } from '../access';
import { STAGE_NAMES, formatCents, formatDate, formatDateTime, humanize, parseDollars } from '../format';
import { Button, Empty, Field, Page, ProblemMessage, Section, Show, Status, useAction, useLoad } from '../ui';
import { STAGES } from './pipeline';
import { Timeline } from './timeline';

const key = (k: string) => ({ 'Idempotency-Key': k });

function StageControls({ deal, onChanged }: { deal: Deal; onChanged: () => void }) {
  const action = useAction();
  const [lostReason, setLostReason] = useState('');
  const blocked = new Map(deal.blockedMoves.map((b) => [b.to, b.message]));
  const move = (to: (typeof STAGES)[number]) => action.run(async () => {
    await act((k) => api.POST('/deals/{id}/advance', { params: { path: { id: deal.id }, header: key(k) }, body: { to } }));
    onChanged();
  });
  const close = (outcome: 'won' | 'lost') => action.run(async () => {
    await act((k) => api.POST('/deals/{id}/close', { params: { path: { id: deal.id }, header: key(k) }, body: { outcome, ...(outcome === 'lost' ? { reason: lostReason || null } : {}) } }));
    onChanged();
  });
  return (
    <div class="stage-controls">
      <ol class="stages" aria-label="Stages">
        {STAGES.map((s) => <li key={s} aria-current={s === deal.stage ? 'step' : undefined} class={s === deal.stage ? 'current' : undefined}>{STAGE_NAMES[s]}</li>)}
      </ol>
      <div class="button-row">
        {STAGES.filter((s) => s !== deal.stage).map((s) => (
          <Button key={s} action={action} onClick={() => move(s)} title={blocked.get(s)} kind={deal.allowedMoves.includes(s) ? 'secondary' : 'secondary'}>
            Move to {STAGE_NAMES[s]}
          </Button>
        ))}
      </div>
      <div class="button-row">
        <Button action={action} kind="primary" onClick={() => close('won')}>Close as won</Button>
        <label class="inline">Reason <input value={lostReason} onInput={(e) => setLostReason(e.currentTarget.value)} placeholder="e.g. price" /></label>
        <Button action={action} kind="danger" onClick={() => close('lost')}>Close as lost</Button>
      </div>
      {deal.blockedMoves.length > 0 && (
        <ul class="hints" aria-label="Moves the rules refuse now">
          {deal.blockedMoves.map((b) => <li key={b.to}><strong>{STAGE_NAMES[b.to]}</strong>: {b.message}</li>)}
        </ul>
      )}
      <ProblemMessage problem={action.problem} />
    </div>
  );
}

function AddLine({ deal, onChanged }: { deal: Deal; onChanged: () => void }) {
  const products = useLoad(() => read(() => api.GET('/products', { params: { query: { active: 'true' } } })), []);
  const action = useAction();
  const [productId, setProductId] = useState('');
  const [quantity, setQuantity] = useState('1');
  const [price, setPrice] = useState('');
  const submit = (event: Event) => {
    event.preventDefault();
    void action.run(async () => {
      const unitPriceCents = price.trim() ? parseDollars(price) : undefined;
      if (unitPriceCents === null) throw new ProblemError({ status: 400, code: 'invalid_value', field: 'unitPriceCents', detail: 'Unit price: write an amount in dollars, such as 1,250.00' });
      await act((k) => api.POST('/deals/{id}/lines', {
        params: { path: { id: deal.id }, header: key(k) },
        body: { productId, quantity: Number(quantity), ...(unitPriceCents !== undefined ? { unitPriceCents } : {}) },
      }));
      setPrice('');
      onChanged();
    });
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Add a product line">
      <Field label="Product">
        <select required value={productId} onChange={(e) => setProductId(e.currentTarget.value)}>
          <option value="">Choose…</option>
          {products.data?.data.map((p) => <option key={p.id} value={p.id}>{p.name} ({formatCents(p.listPriceCents)})</option>)}
        </select>
      </Field>
      <Field label="Quantity"><input type="number" min={1} required value={quantity} onInput={(e) => setQuantity(e.currentTarget.value)} /></Field>
      <Field label="Unit price (USD)" hint="Empty: the list price"><input name="unitPrice" inputMode="decimal" value={price} onInput={(e) => setPrice(e.currentTarget.value)} /></Field>
      <button type="submit" class="button primary" disabled={action.busy}>Add line</button>
      <ProblemMessage problem={action.problem} />
    </form>
  );
}

function QuoteRow({ quote, deal, may, onChanged }: { quote: Quote; deal: Deal; may: boolean; onChanged: (orderId?: string) => void }) {
  const action = useAction();
  const [reason, setReason] = useState<'lost' | 'canceled'>('canceled');
  const path = { path: { id: quote.id } };
  const activate = () => action.run(async () => {
    await act((k) => api.POST('/quotes/{id}/activate', { params: { ...path, header: key(k) } }));
    onChanged();
  });
  const revise = () => action.run(async () => {
    await act((k) => api.POST('/quotes/{id}/revise', { params: { ...path, header: key(k) } }));
    onChanged();
  });
  const close = () => action.run(async () => {
    await act((k) => api.POST('/quotes/{id}/close', { params: { ...path, header: key(k) }, body: { reason } }));
    onChanged();
  });
  const win = () => action.run(async () => {
    const order = await act((k) => api.POST('/quotes/{id}/win', { params: { ...path, header: key(k) }, body: { closeDeal: true } }));
    onChanged(order.id);
  });
  const open = quote.status === 'draft' || quote.status === 'active';
  return (
    <tr>
      <td>{quote.quoteNumber}</td>
      <td class="num">{quote.revision}</td>
      <td><Status value={quote.status} />{quote.statusReason ? ` (${quote.statusReason})` : ''}</td>
      <td class="num">{formatCents(quote.totalCents)}</td>
      <td>{formatDate(quote.validUntil)}</td>
      <td>
        {may && open && deal.status === 'open' && (
          <div class="button-row">
            {quote.status === 'draft' && <Button action={action} onClick={activate}>Activate</Button>}
            {quote.status === 'active' && <Button action={action} onClick={revise}>Revise</Button>}
            {quote.status === 'active' && <Button action={action} kind="primary" onClick={win}>Win (create the order)</Button>}
            <label class="inline">as <select value={reason} onChange={(e) => setReason(e.currentTarget.value as typeof reason)}><option value="canceled">canceled</option><option value="lost">lost</option></select></label>
            <Button action={action} kind="danger" onClick={close}>Close quote</Button>
          </div>
        )}
        <ProblemMessage problem={action.problem} />
      </td>
    </tr>
  );
}

export function DealPage({ me, id }: { me: Me; id: string }) {
  const state = useLoad(() => read(() => api.GET('/deals/{id}', { params: { path: { id } } })), [id]);
  const [version, setVersion] = useState(0);
  const [order, setOrder] = useState<string | null>(null);
  const quoteAction = useAction();
  const changed = (orderId?: string) => {
    if (orderId) setOrder(orderId);
    state.reload();
    setVersion((v) => v + 1);
  };
  return (
    <Page title={state.data?.name ?? 'Deal'}>
      <Show state={state} rows={6}>
        {(deal) => {
          const may = mayChange(me, deal.ownerId);
          const gate = deal.techCheck;
          const newQuote = () => quoteAction.run(async () => {
            await act((k) => api.POST('/deals/{id}/quotes', { params: { path: { id }, header: key(k) }, body: {} }));
            changed();
          });
          const orderId = order ?? deal.orders[0]?.id;
          return (
            <>
              <Section title="Deal">
                <dl class="facts">
                  <dt>Stage</dt><dd>{STAGE_NAMES[deal.stage]} <Status value={deal.status} /></dd>
                  <dt>Value</dt><dd>{formatCents(deal.valueCents)}{deal.estimatedValueCents !== null && deal.lines.length === 0 ? ' (estimate)' : ''}</dd>
                  <dt>Tech Check</dt>
                  <dd>{gate.required ? (gate.satisfied ? 'Required, passed' : `Required above ${formatCents(gate.thresholdCents)}, not passed yet`) : `Not required (${formatCents(gate.thresholdCents)} or less)`}</dd>
                  <dt>In this stage since</dt><dd>{formatDateTime(deal.stageEnteredAt)}</dd>
                </dl>
                {orderId && <p class="notice" role="status">Order created: <a href={`#/orders/${orderId}`}>{deal.orders.find((o) => o.id === orderId)?.orderNumber ?? 'open the order'}</a></p>}
                {may && deal.status === 'open' && <StageControls deal={deal} onChanged={changed} />}
              </Section>
              <Section title="Product lines">
                {deal.lines.length === 0 ? <Empty>No lines yet.</Empty> : (
                  <div class="table-wrap" tabIndex={0} role="region" aria-label="Product lines">
                    <table>
                      <thead><tr><th scope="col">Product</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Unit price</th><th scope="col" class="num">Discount</th><th scope="col" class="num">Amount</th></tr></thead>
                      <tbody>{deal.lines.map((l) => <tr key={l.id}><td>{l.productName} <span class="muted">{l.sku}</span></td><td class="num">{l.quantity}</td><td class="num">{formatCents(l.unitPriceCents)}</td><td class="num">{formatCents(l.discountCents)}</td><td class="num">{formatCents(l.amountCents)}</td></tr>)}</tbody>
                      <tfoot><tr><th scope="row" colSpan={4}>Total</th><td class="num">{formatCents(deal.valueCents)}</td></tr></tfoot>
                    </table>
                  </div>
                )}
                {may && deal.status === 'open' && <AddLine deal={deal} onChanged={changed} />}
              </Section>
              <Section title="Quotes" actions={may && deal.status === 'open' ? <Button action={quoteAction} onClick={newQuote}>New quote</Button> : undefined}>
                <ProblemMessage problem={quoteAction.problem} />
                {deal.quotes.length === 0 ? <Empty>No quotes yet.</Empty> : (
                  <div class="table-wrap" tabIndex={0} role="region" aria-label="Quotes">
                    <table>
                      <thead><tr><th scope="col">Quote</th><th scope="col" class="num">Revision</th><th scope="col">Status</th><th scope="col" class="num">Total</th><th scope="col">Valid until</th><th scope="col">Actions</th></tr></thead>
                      <tbody>{deal.quotes.map((q) => <QuoteRow key={`${q.id}-${q.status}`} quote={q} deal={deal} may={may} onChanged={changed} />)}</tbody>
                    </table>
                  </div>
                )}
              </Section>
              <Section title="Tech Checks">
                {deal.techChecks.length === 0 ? <Empty>No Tech Check recorded.</Empty> : (
                  <ol class="timeline">
                    {deal.techChecks.map((c) => (
                      <li key={c.id}><span class="timeline-when">{formatDateTime(c.completedAt)}</span><span class="timeline-what"><Status value={c.outcome} /> revision {c.quoteRevision} at {formatCents(c.quoteTotalCents)}: {c.notes}</span></li>
                    ))}
                  </ol>
                )}
              </Section>
              {deal.moves.length > 0 && (
                <Section title="Stage moves">
                  <ol class="timeline">{deal.moves.map((m) => <li key={m.seq}><span class="timeline-when">{formatDateTime(m.at)}</span><span class="timeline-what">{STAGE_NAMES[m.from]} → {STAGE_NAMES[m.to] ?? humanize(m.to)}{m.reason ? ` (${m.reason})` : ''}</span></li>)}</ol>
                </Section>
              )}
              <Timeline kind="deal" id={id} version={version} />
            </>
          );
        }}
      </Show>
    </Page>
  );
}

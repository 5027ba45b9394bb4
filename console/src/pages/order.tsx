/** An order made by winning a quote: its lines, where its process stands, fulfillments and invoices. */
import { api, read } from '../api/client';
import { formatCents, formatDate, humanize } from '../format';
import { Empty, Page, Section, Show, Status, useLoad } from '../ui';
import { Timeline } from './timeline';

export function OrderPage({ id }: { id: string }) {
  const state = useLoad(() => read(() => api.GET('/orders/{id}', { params: { path: { id } } })), [id]);
  return (
    <Page title={state.data ? `Order ${state.data.orderNumber}` : 'Order'}>
      <Show state={state} rows={5}>
        {(order) => (
          <>
            <Section title="Order">
              <dl class="facts">
                <dt>Name</dt><dd>{order.name}</dd>
                <dt>Status</dt><dd><Status value={order.status} /> · {humanize(order.phase)}</dd>
                <dt>Total</dt><dd>{formatCents(order.totalCents)}</dd>
                <dt>Deal</dt><dd><a href={`#/deals/${order.dealId}`}>open the deal</a></dd>
              </dl>
            </Section>
            <Section title="Lines">
              <div class="table-wrap" tabIndex={0} role="region" aria-label="Order lines">
                <table>
                  <thead><tr><th scope="col">Product</th><th scope="col" class="num">Quantity</th><th scope="col" class="num">Unit price</th><th scope="col" class="num">Amount</th></tr></thead>
                  <tbody>{order.lines.map((l) => <tr key={l.id}><td>{l.productName}</td><td class="num">{l.quantity}</td><td class="num">{formatCents(l.unitPriceCents)}</td><td class="num">{formatCents(l.amountCents)}</td></tr>)}</tbody>
                </table>
              </div>
            </Section>
            <Section title="Invoices">
              {order.invoices.length === 0 ? <Empty>Not invoiced yet.</Empty> : (
                <ul class="plain">{order.invoices.map((i) => <li key={i.id}>{i.invoiceNumber}: {formatCents(i.totalCents)}, due {formatDate(i.dueOn)} <Status value={i.overdue ? 'overdue' : i.status} /></li>)}</ul>
              )}
            </Section>
            <Timeline kind="order" id={id} />
          </>
        )}
      </Show>
    </Page>
  );
}

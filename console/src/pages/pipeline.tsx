/** The pipeline board: open deals by stage with their value; a move the gate refuses says why, on the card. */
import { useState } from 'preact/hooks';
import { act, api, read, type DealStage, type DealSummary, type Me } from '../api/client';
import { mayChange } from '../access';
import { STAGE_NAMES, formatCents } from '../format';
import { Button, Page, ProblemMessage, Show, useAction, useLoad } from '../ui';

export const STAGES: DealStage[] = ['qualify', 'develop', 'propose', 'tech_check', 'close'];

function DealCard({ me, deal, onMoved }: { me: Me; deal: DealSummary; onMoved: () => void }) {
  const action = useAction();
  const others = STAGES.filter((s) => s !== deal.stage);
  const next = STAGES[STAGES.indexOf(deal.stage) + 1];
  const [to, setTo] = useState<DealStage>(next ?? others[0]);
  const move = () => action.run(async () => {
    await act((key) => api.POST('/deals/{id}/advance', { params: { path: { id: deal.id }, header: { 'Idempotency-Key': key } }, body: { to } }));
    onMoved();
  });
  const selectId = `move-${deal.id}`;
  return (
    <li class="deal-card" data-deal={deal.id}>
      <a class="deal-name" href={`#/deals/${deal.id}`}>{deal.name}</a>
      <span class="deal-value">{formatCents(deal.valueCents || deal.estimatedValueCents)}</span>
      {mayChange(me, deal.ownerId) && (
        <div class="deal-move">
          <label class="sr-only" for={selectId}>Move {deal.name} to</label>
          <select id={selectId} value={to} onChange={(e) => { setTo(e.currentTarget.value as DealStage); action.clear(); }}>
            {others.map((s) => <option key={s} value={s}>{STAGE_NAMES[s]}</option>)}
          </select>
          <Button action={action} onClick={move} aria-describedby={action.problem ? `${selectId}-problem` : undefined}>Move</Button>
        </div>
      )}
      <ProblemMessage problem={action.problem} id={`${selectId}-problem`} />
    </li>
  );
}

export function Pipeline({ me }: { me: Me }) {
  const [mine, setMine] = useState(me.role !== 'tech_consultant');
  const deals = useLoad(() => read(() => api.GET('/deals', { params: { query: { status: 'open', limit: '200', ...(mine ? { ownerId: me.id } : {}) } } })), [mine]);
  return (
    <Page title="Pipeline" actions={<label class="check"><input type="checkbox" checked={mine} onChange={(e) => setMine(e.currentTarget.checked)} /> Only my deals</label>}>
      <Show state={deals} rows={4}>
        {(page) => (
          <div class="board">
            {STAGES.map((stage) => {
              const here = page.data.filter((d) => d.stage === stage);
              const total = here.reduce((sum, d) => sum + (d.valueCents || d.estimatedValueCents || 0), 0);
              return (
                <section class="column" key={stage} aria-labelledby={`col-${stage}`}>
                  <h2 id={`col-${stage}`}>{STAGE_NAMES[stage]} <span class="muted">{here.length} · {formatCents(total)}</span></h2>
                  <ul>{here.map((d) => <DealCard key={`${d.id}-${d.moveSeq}`} me={me} deal={d} onMoved={deals.reload} />)}</ul>
                </section>
              );
            })}
          </div>
        )}
      </Show>
    </Page>
  );
}

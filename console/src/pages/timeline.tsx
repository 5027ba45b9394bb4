/** A record's timeline, newest first, as the API builds it (its own activities and its related records'). */
import { api, read, type TimelineEntry } from '../api/client';
import { formatDateTime, humanize } from '../format';
import { Empty, Section, Show, Status, useLoad } from '../ui';

type Kind = 'lead' | 'deal' | 'order';

function load(kind: Kind, id: string): Promise<{ data: TimelineEntry[] }> {
  const params = { params: { path: { id }, query: { limit: '50' } } };
  switch (kind) {
    case 'lead': return read(() => api.GET('/leads/{id}/timeline', params));
    case 'deal': return read(() => api.GET('/deals/{id}/timeline', params));
    case 'order': return read(() => api.GET('/orders/{id}/timeline', params));
  }
}

export function Timeline({ kind, id, version = 0 }: { kind: Kind; id: string; version?: number }) {
  const state = useLoad(() => load(kind, id), [kind, id, version]);
  return (
    <Section title="Timeline">
      <Show state={state} rows={3}>
        {(page) => page.data.length === 0 ? <Empty>Nothing on the timeline yet.</Empty> : (
          <ol class="timeline">
            {page.data.map((a) => (
              <li key={a.id} class={a.overdue ? 'overdue' : undefined}>
                <span class="timeline-when">{formatDateTime(a.status === 'completed' ? a.completedAt : a.status === 'canceled' ? a.canceledAt : a.dueAt ?? a.createdAt)}</span>
                <span class="timeline-what"><strong>{a.subject}</strong> <span class="muted">{humanize(a.type)}{a.via !== 'self' ? ` · from the ${humanize(a.regardingType).toLowerCase()}` : ''}</span></span>
                <span>{a.overdue ? <Status value="overdue" /> : <Status value={a.status} />}</span>
              </li>
            ))}
          </ol>
        )}
      </Show>
    </Section>
  );
}

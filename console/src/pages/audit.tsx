/** The audit trail of one record (managers and admins): who changed what, when, before and after. */
import { useState } from 'preact/hooks';
import { api, read, type AuditEntry } from '../api/client';
import { formatDateTime, humanize } from '../format';
import { Empty, Field, Page, Show, useLoad } from '../ui';

const ENTITIES = ['lead', 'deal', 'quote', 'activity', 'account', 'contact', 'order', 'invoice'] as const;

function Changes({ entry }: { entry: AuditEntry }) {
  const before = (entry.before ?? {}) as Record<string, unknown>;
  const after = (entry.after ?? {}) as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]) && k !== 'updated_at' && k !== 'updatedAt');
  if (keys.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="plain changes">
      {keys.slice(0, 8).map((k) => <li key={k}><code>{k}</code>: {JSON.stringify(before[k] ?? null)} → {JSON.stringify(after[k] ?? null)}</li>)}
      {keys.length > 8 && <li class="muted">and {keys.length - 8} more</li>}
    </ul>
  );
}

export function Audit() {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const [entity, setEntity] = useState<(typeof ENTITIES)[number]>((params.get('entity') as (typeof ENTITIES)[number]) ?? 'deal');
  const [id, setId] = useState(params.get('id') ?? '');
  const [query, setQuery] = useState<{ entity: (typeof ENTITIES)[number]; id: string } | null>(params.get('id') ? { entity, id } : null);
  const state = useLoad(async () => (query ? read(() => api.GET('/audit', { params: { query: { entity: query.entity, id: query.id, limit: '100' } } })) : null), [query?.entity, query?.id]);
  return (
    <Page title="Audit log">
      <form class="filters" role="search" onSubmit={(e) => { e.preventDefault(); setQuery({ entity, id: id.trim() }); }}>
        <Field label="Record type">
          <select value={entity} onChange={(e) => setEntity(e.currentTarget.value as typeof entity)}>{ENTITIES.map((x) => <option key={x} value={x}>{humanize(x)}</option>)}</select>
        </Field>
        <Field label="Record id"><input required value={id} onInput={(e) => setId(e.currentTarget.value)} placeholder="e.g. the id in a deal's address" /></Field>
        <button type="submit" class="button primary">Show the trail</button>
      </form>
      {query && (
        <Show state={state} rows={5}>
          {(page) => !page || page.data.length === 0 ? <Empty>No audit entries for this record.</Empty> : (
            <div class="table-wrap" tabIndex={0} role="region" aria-label="Audit entries">
              <table>
                <caption class="sr-only">Audit entries, newest first</caption>
                <thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">Action</th><th scope="col">Changes</th></tr></thead>
                <tbody>{page.data.map((a) => (
                  <tr key={a.id}><td>{formatDateTime(a.at)}</td><td>{a.actor.name ?? a.actor.id} <span class="muted">({a.actor.type})</span></td><td>{humanize(a.action)}</td><td><Changes entry={a} /></td></tr>
                ))}</tbody>
              </table>
            </div>
          )}
        </Show>
      )}
    </Page>
  );
}

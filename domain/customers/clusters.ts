/**
 * From links to customers, with stable CustomerIds (pure, in memory). The records a pass groups
 * together form one profile; which id it carries is decided against the previous assignment:
 * every previous id goes to the new group holding most of its records (largest overlap first,
 * ties by id), so a person keeps their CustomerId across re-runs and re-imports. Only a real
 * change moves ids: a group that gained records keeps the id of its larger part and the other id
 * is redirected to it (a join); a group that lost records keeps the id on its larger part and
 * the rest gets a new id (a split); a group of new records gets a new id.
 */
import StaticDisjointSet from 'mnemonist/static-disjoint-set';
import type { Link } from './matcher';

export interface Assignment {
  recordId: number;
  customerId: string;
  /** The rule of the strongest link that joined this record to its group; null for a lone record. */
  rule: string | null;
  confidence: number;
}

export interface ClusterStats {
  records: number;
  customers: number;
  /** Groups that kept their previous id. */
  kept: number;
  /** Groups that got a new id. */
  created: number;
  /** Previous ids now redirected to another customer (their group joined another). */
  joined: number;
  /** Previous ids whose records are now spread over several customers. */
  split: number;
  largest: number;
}

export interface ClusterResult {
  assignments: Assignment[];
  redirects: Array<{ oldId: string; newId: string }>;
  stats: ClusterStats;
}

/**
 * `recordIds` in a stable order; `previous` maps a record id to its current CustomerId;
 * `newId` makes the id of a new group from its smallest record id (deterministic per pass, so a
 * retried phase makes the same ids).
 */
export function assignCustomers(recordIds: readonly number[], links: readonly Link[], previous: ReadonlyMap<number, string>, newId: (smallestRecordId: number) => string): ClusterResult {
  const index = new Map<number, number>();
  recordIds.forEach((id, i) => index.set(id, i));
  const sets = new StaticDisjointSet(Math.max(1, recordIds.length));
  const best = new Map<number, { rule: string; confidence: number }>();
  for (const link of links) {
    const a = index.get(link.a);
    const b = index.get(link.b);
    if (a === undefined || b === undefined) continue;
    sets.union(a, b);
    for (const r of [link.a, link.b]) {
      const current = best.get(r);
      if (!current || link.confidence > current.confidence) best.set(r, { rule: link.rule, confidence: link.confidence });
    }
  }

  const groups = new Map<number, number[]>();
  for (let i = 0; i < recordIds.length; i++) {
    const root = sets.find(i);
    const members = groups.get(root);
    if (members) members.push(i);
    else groups.set(root, [i]);
  }
  const groupList = [...groups.values()];

  // Overlap of every group with every previous id it holds records of.
  const candidates: Array<{ group: number; oldId: string; overlap: number }> = [];
  const oldSpread = new Map<string, Map<number, number>>();
  groupList.forEach((members, g) => {
    const counts = new Map<string, number>();
    for (const i of members) {
      const old = previous.get(recordIds[i]);
      if (old) counts.set(old, (counts.get(old) ?? 0) + 1);
    }
    for (const [oldId, overlap] of counts) {
      candidates.push({ group: g, oldId, overlap });
      let spread = oldSpread.get(oldId);
      if (!spread) oldSpread.set(oldId, (spread = new Map()));
      spread.set(g, overlap);
    }
  });
  candidates.sort((x, y) => y.overlap - x.overlap || (x.oldId < y.oldId ? -1 : x.oldId > y.oldId ? 1 : x.group - y.group));

  const idOfGroup: Array<string | undefined> = new Array(groupList.length);
  const usedOld = new Set<string>();
  let kept = 0;
  for (const c of candidates) {
    if (idOfGroup[c.group] !== undefined || usedOld.has(c.oldId)) continue;
    idOfGroup[c.group] = c.oldId;
    usedOld.add(c.oldId);
    kept++;
  }
  let created = 0;
  groupList.forEach((members, g) => {
    if (idOfGroup[g] !== undefined) return;
    let smallest = Infinity;
    for (const i of members) if (recordIds[i] < smallest) smallest = recordIds[i];
    idOfGroup[g] = newId(smallest);
    created++;
  });

  const redirects: Array<{ oldId: string; newId: string }> = [];
  let split = 0;
  for (const [oldId, spread] of oldSpread) {
    if (spread.size > 1) split++;
    if (usedOld.has(oldId)) continue;
    let target = -1;
    let most = -1;
    for (const [g, n] of spread) if (n > most || (n === most && g < target)) [target, most] = [g, n];
    redirects.push({ oldId, newId: idOfGroup[target]! });
  }

  const assignments: Assignment[] = new Array(recordIds.length);
  let largest = 0;
  groupList.forEach((members, g) => {
    if (members.length > largest) largest = members.length;
    for (const i of members) {
      const link = members.length > 1 ? best.get(recordIds[i]) : undefined;
      assignments[i] = { recordId: recordIds[i], customerId: idOfGroup[g]!, rule: link?.rule ?? null, confidence: link?.confidence ?? 1 };
    }
  });
  return {
    assignments,
    redirects,
    stats: { records: recordIds.length, customers: groupList.length, kept, created, joined: redirects.length, split, largest },
  };
}

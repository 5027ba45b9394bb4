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
import type { Pause } from './pace';

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
  const steps = assignSteps(recordIds, links, previous, newId);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** The same, letting the event loop through while it works (a million records take seconds). */
export async function assignCustomersPaced(recordIds: readonly number[], links: readonly Link[], previous: ReadonlyMap<number, string>, newId: (smallestRecordId: number) => string, pause: Pause): Promise<ClusterResult> {
  const steps = assignSteps(recordIds, links, previous, newId);
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
    await pause();
  }
}

/** Yields every few thousand records: the caller decides whether to pause there. */
function* assignSteps(recordIds: readonly number[], links: readonly Link[], previous: ReadonlyMap<number, string>, newId: (smallestRecordId: number) => string): Generator<void, ClusterResult> {
  const EVERY = 4095;
  const index = new Map<number, number>();
  for (let i = 0; i < recordIds.length; i++) {
    index.set(recordIds[i], i);
    if ((i & EVERY) === 0) yield;
  }
  const sets = new StaticDisjointSet(Math.max(1, recordIds.length));
  const best = new Map<number, { rule: string; confidence: number }>();
  let n = 0;
  for (const link of links) {
    if ((++n & EVERY) === 0) yield;
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
    if ((i & EVERY) === 0) yield;
    const root = sets.find(i);
    const members = groups.get(root);
    if (members) members.push(i);
    else groups.set(root, [i]);
  }
  const groupList = [...groups.values()];
  groups.clear();

  // Overlap of every group with every previous id it holds records of.
  const candidates: Array<{ group: number; oldId: string; overlap: number }> = [];
  const oldSpread = new Map<string, Map<number, number>>();
  for (let g = 0; g < groupList.length; g++) {
    if ((g & EVERY) === 0) yield;
    const counts = new Map<string, number>();
    for (const i of groupList[g]) {
      const old = previous.get(recordIds[i]);
      if (old) counts.set(old, (counts.get(old) ?? 0) + 1);
    }
    for (const [oldId, overlap] of counts) {
      candidates.push({ group: g, oldId, overlap });
      let spread = oldSpread.get(oldId);
      if (!spread) oldSpread.set(oldId, (spread = new Map()));
      spread.set(g, overlap);
    }
  }
  // Largest overlap first, ties by id. A candidate whose group holds no other previous id and
  // whose id lies in no other group competes with nothing: it wins whatever the order, so only
  // the contested ones (joins and splits, a few) need sorting.
  const candidatesOf = new Uint32Array(groupList.length);
  for (const c of candidates) candidatesOf[c.group]++;
  const idOfGroup: Array<string | undefined> = new Array(groupList.length);
  const usedOld = new Set<string>();
  let kept = 0;
  const contested: typeof candidates = [];
  n = 0;
  for (const c of candidates) {
    if ((++n & EVERY) === 0) yield;
    if (candidatesOf[c.group] === 1 && oldSpread.get(c.oldId)!.size === 1) {
      idOfGroup[c.group] = c.oldId;
      usedOld.add(c.oldId);
      kept++;
    } else {
      contested.push(c);
    }
  }
  candidates.length = 0;
  contested.sort((x, y) => y.overlap - x.overlap || (x.oldId < y.oldId ? -1 : x.oldId > y.oldId ? 1 : x.group - y.group));
  for (const c of contested) {
    if (idOfGroup[c.group] !== undefined || usedOld.has(c.oldId)) continue;
    idOfGroup[c.group] = c.oldId;
    usedOld.add(c.oldId);
    kept++;
  }
  let created = 0;
  for (let g = 0; g < groupList.length; g++) {
    if ((g & EVERY) === 0) yield;
    if (idOfGroup[g] !== undefined) continue;
    let smallest = Infinity;
    for (const i of groupList[g]) if (recordIds[i] < smallest) smallest = recordIds[i];
    idOfGroup[g] = newId(smallest);
    created++;
  }

  const redirects: Array<{ oldId: string; newId: string }> = [];
  let split = 0;
  n = 0;
  for (const [oldId, spread] of oldSpread) {
    if ((++n & EVERY) === 0) yield;
    if (spread.size > 1) split++;
    if (usedOld.has(oldId)) continue;
    let target = -1;
    let most = -1;
    for (const [g, count] of spread) if (count > most || (count === most && g < target)) [target, most] = [g, count];
    redirects.push({ oldId, newId: idOfGroup[target]! });
  }

  const assignments: Assignment[] = new Array(recordIds.length);
  let largest = 0;
  for (let g = 0; g < groupList.length; g++) {
    if ((g & EVERY) === 0) yield;
    const members = groupList[g];
    if (members.length > largest) largest = members.length;
    for (const i of members) {
      const link = members.length > 1 ? best.get(recordIds[i]) : undefined;
      assignments[i] = { recordId: recordIds[i], customerId: idOfGroup[g]!, rule: link?.rule ?? null, confidence: link?.confidence ?? 1 };
    }
  }
  return {
    assignments,
    redirects,
    stats: { records: recordIds.length, customers: groupList.length, kept, created, joined: redirects.length, split, largest },
  };
}

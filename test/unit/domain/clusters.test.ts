/**
 * Stable CustomerIds at a million records: `assignCustomers` sorts only the contested candidates
 * (a previous id spread over several groups, or a group holding several previous ids) and the
 * paced variant lets the event loop through. Both must give exactly what the plain greedy
 * assignment — every candidate sorted, largest overlap first, ties by id — gives, on any links
 * and any previous membership.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import StaticDisjointSet from 'mnemonist/static-disjoint-set';
import { assignCustomers, assignCustomersPaced, type Assignment, type ClusterResult } from '../../../domain/customers/clusters';
import type { Link } from '../../../domain/customers/matcher';
import { pacer } from '../../../domain/customers/pace';

/** The assignment as it was before the shortcut: every candidate sorted. */
function reference(recordIds: readonly number[], links: readonly Link[], previous: ReadonlyMap<number, string>, newId: (smallestRecordId: number) => string): ClusterResult {
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

const arbitrary = fc.record({
  records: fc.integer({ min: 1, max: 60 }),
  links: fc.array(fc.tuple(fc.nat(59), fc.nat(59), fc.constantFrom('email_and_name', 'phone_and_name'), fc.integer({ min: 50, max: 100 })), { maxLength: 80 }),
  previous: fc.array(fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }), { maxLength: 60 }),
});

describe('stable CustomerIds (assignCustomers)', function () {
  it('sorting only contested candidates, paced or not, gives exactly the plain greedy assignment', async function () {
    await fc.assert(fc.asyncProperty(arbitrary, async ({ records, links, previous }) => {
      const recordIds = Array.from({ length: records }, (_, i) => 100 + i * 3);
      const edges: Link[] = links.filter(([a, b]) => a < records && b < records)
        .map(([a, b, rule, c]) => ({ a: recordIds[a], b: recordIds[b], rule, confidence: c / 100 }));
      const before = new Map<number, string>();
      previous.forEach((old, i) => {
        if (old !== undefined && i < records) before.set(recordIds[i], `old-${old}`);
      });
      const fresh = (smallest: number) => `new-${smallest}`;
      const expected = reference(recordIds, edges, before, fresh);
      assert.deepEqual(assignCustomers(recordIds, edges, before, fresh), expected);
      assert.deepEqual(await assignCustomersPaced(recordIds, edges, before, fresh, pacer(0)), expected);
    }), { numRuns: 300 });
  });

  it('keeps ids through joins and splits the way the greedy rule says', function () {
    const ids = [1, 2, 3, 4];
    const link = (a: number, b: number): Link => ({ a, b, rule: 'r', confidence: 1 });
    // 1+2 were "A", 3+4 were "B"; now all four are one group: A and B tie (2 each), A wins by id, B is redirected.
    const joined = assignCustomers(ids, [link(1, 2), link(2, 3), link(3, 4)], new Map([[1, 'A'], [2, 'A'], [3, 'B'], [4, 'B']]), (s) => `new-${s}`);
    assert.deepEqual(joined.assignments.map((a: Assignment) => a.customerId), ['A', 'A', 'A', 'A']);
    assert.deepEqual(joined.redirects, [{ oldId: 'B', newId: 'A' }]);
  });
});

/**
 * `npm run bench:customers:quality -- [--dir DIR] [--truth FILE | --contact-links] [--without RULE,...]`
 *
 * Match quality of the rules on a folder of the four CSV sources, computed in memory with the
 * same mapping, normalisation, match and cluster code the workflow runs: pairwise precision,
 * recall and F1 over source keys in the same profile. Ground truth is truth.csv
 * (`SourceKey,PersonId`, the customers-sample set) or, with --contact-links, the links that
 * loyalty.csv's ContactId column gives (the Contoso set; the `source_link` rule is then left out,
 * or the measure would grade the answer with itself).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse/sync';
import { assignCustomers } from '../../domain/customers/clusters';
import { loadMappings } from '../../config/customers';
import { bindHeader, parseRow, type PersonRow } from '../../domain/customers/mapping';
import { matchAll, recordKeys, type MatchRecord } from '../../domain/customers/matcher';
import { pairwiseQuality, type Quality } from '../../domain/customers/quality';
import { compileRules, type CompiledRules } from '../../domain/customers/rules';
import { PROJECT_ROOT } from '../../config';

export interface QualityRun {
  quality: Quality;
  records: number;
  customers: number;
  ms: number;
  wrong: { falseMerges: string[][]; missed: string[][] };
}

export function readPersonRecords(dir: string): MatchRecord[] & { rows: PersonRow[] } {
  const records: MatchRecord[] = [];
  const rows: PersonRow[] = [];
  let id = 0;
  for (const mapping of loadMappings().values()) {
    if (mapping.kind !== 'person') continue;
    const file = path.join(dir, mapping.fileName);
    if (!fs.existsSync(file)) continue;
    const table = parse(fs.readFileSync(file), { bom: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
    const bound = bindHeader(mapping, table[0]);
    if (!bound.ok) throw new Error(`${file}: ${bound.message}`);
    for (const fields of table.slice(1)) {
      const parsed = parseRow(bound.layout, fields);
      if (!parsed.ok || parsed.row.kind !== 'person') continue;
      rows.push(parsed.row);
      records.push({ id: ++id, source: mapping.source, sourceKey: parsed.row.sourceKey, keys: {}, links: parsed.row.links });
    }
  }
  return Object.assign(records, { rows });
}

export async function measure(dir: string, truth: Map<string, string>, rules: CompiledRules): Promise<QualityRun> {
  const records = readPersonRecords(dir);
  const started = Date.now();
  records.forEach((r, i) => (r.keys = recordKeys(records.rows[i].values as Record<string, string | number | null>, rules, records.rows[i].extra)));
  const { links } = await matchAll(records, rules);
  const clusters = assignCustomers(records.map((r) => r.id), links, new Map(), (smallest) => `new-${smallest}`);
  const ms = Date.now() - started;
  const keyOf = new Map(records.map((r) => [r.id, r.sourceKey]));
  const predicted = new Map(clusters.assignments.map((a) => [keyOf.get(a.recordId)!, a.customerId]));
  const quality = pairwiseQuality(predicted, truth);
  // The pairs it got wrong, for tuning rules (never the data).
  const members = new Map<string, string[]>();
  for (const [key, profile] of predicted) (members.get(profile) ?? members.set(profile, []).get(profile)!).push(key);
  const people = new Map<string, string[]>();
  for (const [key, person] of truth) if (predicted.has(key)) (people.get(person) ?? people.set(person, []).get(person)!).push(key);
  const falseMerges = [...members.values()].filter((keys) => new Set(keys.map((k) => truth.get(k))).size > 1);
  const missed = [...people.values()].filter((keys) => new Set(keys.map((k) => predicted.get(k))).size > 1);
  return { quality, records: records.length, customers: clusters.stats.customers, ms, wrong: { falseMerges, missed } };
}

export function readTruth(file: string): Map<string, string> {
  const rows = parse(fs.readFileSync(file), { bom: true, columns: true, skip_empty_lines: true }) as Array<{ SourceKey: string; PersonId: string }>;
  return new Map(rows.map((r) => [r.SourceKey, r.PersonId]));
}

/** Truth from loyalty's ContactId: a member with a ContactId is that contact's person. */
export function contactLinkTruth(dir: string): Map<string, string> {
  const truth = new Map<string, string>();
  for (const r of readPersonRecords(dir).map((rec, i, all) => ({ rec, row: (all as ReturnType<typeof readPersonRecords>).rows[i] }))) {
    truth.set(r.rec.sourceKey, r.row.links.contacts ?? r.rec.sourceKey);
  }
  return truth;
}

export async function rulesWithout(file: string, without: string[]): Promise<CompiledRules> {
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as { rules: Array<{ name: string }> };
  json.rules = json.rules.filter((r) => !without.includes(r.name));
  return compileRules(json, file);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: path.resolve(PROJECT_ROOT, '..', 'shared', 'data', 'customers-sample') },
      truth: { type: 'string' },
      'contact-links': { type: 'boolean', default: false },
      without: { type: 'string' },
      rules: { type: 'string', default: path.join(PROJECT_ROOT, 'config', 'customer-matching.json') },
      verbose: { type: 'boolean', default: false },
    },
  });
  const without = values.without ? values.without.split(',') : values['contact-links'] ? ['source_link'] : [];
  const rules = await rulesWithout(values.rules!, without);
  const truth = values['contact-links'] ? contactLinkTruth(values.dir!) : readTruth(values.truth ?? path.join(values.dir!, 'truth.csv'));
  const run = await measure(values.dir!, truth, rules);
  const q = run.quality;
  console.log(`${values.dir} (rules without: ${without.join(', ') || 'none'})`);
  console.log(`  records ${run.records}, profiles ${run.customers}, keys graded ${q.keys}, true pairs ${q.truePairs}, predicted ${q.predictedPairs}, correct ${q.correctPairs}`);
  console.log(`  precision ${q.precision.toFixed(4)}  recall ${q.recall.toFixed(4)}  F1 ${q.f1.toFixed(4)}  (${run.ms} ms)`);
  if (values.verbose) {
    for (const m of run.wrong.falseMerges) console.log('  false merge:', m.join(' '));
    for (const m of run.wrong.missed) console.log('  missed:', m.join(' '));
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/**
 * The match engine (pure, in memory): applies the rules in order to every person record and
 * returns the links that joined two groups, each with the rule that made it and a confidence.
 *
 * Work stays near-linear in the number of records through blocking: a rule only compares
 * records that share a blocking key (by default the values of its exact conditions), and a pair
 * already in one group is not compared again. Groups are kept in a union-find (mnemonist's
 * StaticDisjointSet); never-match overrides are enforced at each union. A probabilistic rule's
 * step estimates its weights over the same records, scores its blocked pairs and links those
 * above its threshold (fellegiSunter.ts); `explain` says why a pair scored as it did.
 */
import { jaroWinkler } from '@skyra/jaro-winkler';
import { distance as levenshtein } from 'fastest-levenshtein';
import StaticDisjointSet from 'mnemonist/static-disjoint-set';
import { candidatePairs, estimateModel, explainPair, givenModel, scorePairs, termFrequencies, type FellegiSunterModel, type PairExplanation, type PairSpace, type TermFrequencies } from './fellegiSunter';
import { normalize } from './normalize';
import { pacer, type Pause } from './pace';
import { extraColumnOf, keyId, keyPrefix, splitRecordRef, thresholdOf, type CompiledRules, type Condition, type MatchRule, type ProbabilisticRule, type RulesConfig } from './rules';

/** A person record as the map phase leaves it: normalised values by key id. */
export interface MatchRecord {
  id: number;
  source: string;
  sourceKey: string;
  keys: Record<string, string | null>;
  /** Keys of the same person in other sources, by source (loyalty's ContactId). */
  links: Record<string, string>;
}

export interface Link {
  /** Record ids. */
  a: number;
  b: number;
  rule: string;
  confidence: number;
}

export interface StepStats {
  step: number;
  rule: string;
  blocks: number;
  comparisons: number;
  links: number;
  oversizedBlocks: number;
  largestBlock: number;
  refusedByOverride: number;
  /**
   * The keys of the blocks too large to compare (a deterministic rule's), as `blockKey` writes
   * them; absent past MAX_OVERSIZED_KEPT (an incremental pass then needs a full one first).
   */
  oversizedKeys?: string[];
  /** A probabilistic rule's weights, as estimated (or given) for this step: kept with the pass. */
  model?: FellegiSunterModel;
}

export interface MatchProgress {
  step: number;
  rule: string;
  comparisons: number;
  blocksDone: number;
  blocks: number;
}

/** The record's standard attributes, as the map phase reads them. */
export type PersonValues = Partial<Record<string, string | number | null>>;

/** The extra columns a mapping keeps for the record, by column name. */
export type ExtraValues = Record<string, string | number | boolean | null | undefined>;

/** The normalised values the rules read, for one record (the map phase's output). */
export function recordKeys(values: PersonValues, rules: CompiledRules, extra: ExtraValues = {}): Record<string, string | null> {
  const name = [values.firstName, values.lastName].filter((v) => v !== null && v !== undefined && String(v).trim() !== '').join(' ') || (values.fullName ?? null);
  const out: Record<string, string | null> = {};
  for (const key of rules.keys) {
    const column = extraColumnOf(key.attribute);
    const raw = column !== null ? extra[column] : key.attribute === 'name' ? name : values[key.attribute];
    out[key.id] = normalize(raw === null || raw === undefined ? null : String(raw), key.normalize);
  }
  return out;
}

export function similarity(kind: 'jaroWinkler' | 'levenshtein', a: string, b: string): number {
  if (a === b) return 1;
  if (kind === 'levenshtein') return 1 - levenshtein(a, b) / Math.max(a.length, b.length);
  return jaroWinkler(a, b);
}

function permutations(n: number): number[][] {
  if (n <= 1) return [[0]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1)) for (let i = 0; i <= rest.length; i++) out.push([...rest.slice(0, i), n - 1, ...rest.slice(i)]);
  return out;
}
const PERMUTATIONS = [1, 2, 3, 4].map((n) => permutations(n));

/**
 * Similarity of two names whose word order does not matter: the words are paired up (the best
 * pairing) and the name is as similar as its least similar pair — so a shared surname cannot
 * carry "John" to "Jane", and a typo in the first letters of one word is judged on that word.
 * Extra words on one side (a middle name) are left out when both sides have two or more.
 */
export function nameSimilarity(kind: 'jaroWinkler' | 'levenshtein', a: string, b: string): number {
  if (a === b) return 1;
  const ta = a.split(' ');
  const tb = b.split(' ');
  if (ta.length < 2 || tb.length < 2 || ta.length > 4 || tb.length > 4) return similarity(kind, a, b);
  const [short, long] = ta.length <= tb.length ? [ta, tb] : [tb, ta];
  let best = 0;
  for (const perm of PERMUTATIONS[long.length - 1]) {
    let worst = 1;
    for (let i = 0; i < short.length && worst > best; i++) worst = Math.min(worst, similarity(kind, short[i], long[perm[i]]));
    if (worst > best) best = worst;
  }
  return best;
}

interface CompiledCondition {
  column: Array<string | null>;
  exact: boolean;
  threshold: number;
  similarity: 'jaroWinkler' | 'levenshtein';
  ifMissing: 'fail' | 'pass';
  /** Word order does not matter (the nameOrder normalisation): compare word by word. */
  words: boolean;
}

/** How many oversized block keys a step keeps for later incremental passes. */
export const MAX_OVERSIZED_KEPT = 10_000;

/** What a deterministic rule blocks on: its block keys, or else its exact conditions that must hold. */
export function blockSpec(rule: MatchRule): Array<{ keyId: string; prefix?: number }> {
  return (rule.block ?? rule.conditions.filter((c) => c.precision === 'exact' && c.ifMissing === 'fail').map((c) => ({ ...c, prefix: undefined as number | undefined })))
    .map((b) => ({ keyId: keyId(b.attribute, b.normalize), prefix: b.prefix }));
}

/**
 * A record's block under a rule (each key's value, cut to its prefix of code points, then U+0001), or null when
 * a key is missing: the record is then in no block of that rule.
 */
export function blockKey(spec: ReadonlyArray<{ keyId: string; prefix?: number }>, keys: Record<string, string | null | undefined>): string | null {
  let key = '';
  for (const b of spec) {
    const value = keys[b.keyId];
    if (value === null || value === undefined) return null;
    key += `${b.prefix ? keyPrefix(value, b.prefix) : value}\u0001`;
  }
  return key;
}

/** The steps of a match: 0 applies the always-match overrides, 1..n the rules in order. */
export function stepNames(config: RulesConfig): string[] {
  return ['always_match', ...config.rules.map((r) => r.name)];
}

export class Matcher {
  size = 0;
  private readonly ids: number[] = [];
  private sourceOf: Uint16Array = new Uint16Array(0);
  private readonly sources: string[] = [];
  private readonly sourceIndex = new Map<string, number>();
  private readonly sourceList: number[] = [];
  private readonly columns = new Map<string, Array<string | null>>();
  private readonly linksOf: Array<Record<string, string> | null> = [];
  private readonly byKey = new Map<string, number>();
  private readonly byId = new Map<number, number>();
  private sets: StaticDisjointSet = new StaticDisjointSet(1);
  /** Root → records its group must never join (never-match overrides only; usually empty). */
  private readonly forbidden = new Map<number, number[]>();
  private dedupe = new Set<number>();
  private sealed = false;
  /** Per step, blocks to treat as too large whatever their size here (known so from the whole set). */
  private readonly oversizedElsewhere = new Map<number, ReadonlySet<string>>();
  /** Record ids whose pairs alone a match rule compares (`focusOn`); null: every pair. */
  private focusIds: Set<number> | null = null;
  /** The weights each probabilistic rule applied in this matcher, by rule name (for `explain`). */
  private readonly models = new Map<string, { rule: ProbabilisticRule; model: FellegiSunterModel; tf: TermFrequencies }>();

  /** With records: ready to run. Without: add records with `add`, then `seal` (lets a caller load a million records in slices). */
  constructor(records: Iterable<MatchRecord> | null, private readonly rules: CompiledRules) {
    for (const key of rules.keys) this.columns.set(key.id, []);
    if (records === null) return;
    for (const r of records) this.add(r);
    this.seal();
  }

  /**
   * For a match over part of the records (an incremental pass): blocks of `step` that are too
   * large in the whole set are skipped here too, however few of their records this matcher holds.
   */
  treatAsOversized(step: number, keys: Iterable<string>): void {
    this.oversizedElsewhere.set(step, new Set(keys));
  }

  /**
   * For a probe around a few records (an incremental pass's plan): match rules compare only the
   * pairs with at least one of these records; other pairs are left as they are. Blocks, their
   * sizes and the oversized ones are as without focus. Link and always-match steps are unchanged.
   */
  focusOn(ids: Iterable<number>): void {
    this.focusIds = new Set(ids);
  }

  /**
   * Every record in a group with one of `ids` (a record alone in its group included), as far as
   * the steps run so far have grouped them; ids this matcher does not hold are left out.
   */
  async groupedWith(ids: Iterable<number>, pause: Pause = pacer()): Promise<number[]> {
    this.seal();
    const roots = new Set<number>();
    for (const id of ids) {
      const i = this.byId.get(id);
      if (i !== undefined) roots.add(this.sets.find(i));
    }
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) {
      if ((i & 1023) === 0) await pause();
      if (roots.has(this.sets.find(i))) out.push(this.ids[i]);
    }
    return out;
  }

  /** Adds one record (before `seal`). */
  add(r: MatchRecord): void {
    if (this.sealed) throw new Error('the matcher is sealed: records are added before it runs');
    const index = this.ids.length;
    this.ids.push(r.id);
    let s = this.sourceIndex.get(r.source);
    if (s === undefined) {
      s = this.sources.length;
      this.sources.push(r.source);
      this.sourceIndex.set(r.source, s);
    }
    this.sourceList.push(s);
    for (const [id, column] of this.columns) column.push(r.keys[id] ?? null);
    this.linksOf.push(r.links && Object.keys(r.links).length ? r.links : null);
    this.byKey.set(`${r.source}\u0000${r.sourceKey}`, index);
    this.byId.set(r.id, index);
  }

  /** Ends the adding: the groups start as one record each, with the never-match overrides in force. */
  seal(): void {
    if (this.sealed) return;
    this.sealed = true;
    this.size = this.ids.length;
    this.sourceOf = Uint16Array.from(this.sourceList);
    this.sourceList.length = 0;
    this.sets = new StaticDisjointSet(Math.max(1, this.size));
    this.dedupe = new Set(this.rules.config.deduplicate.map((s) => this.sourceIndex.get(s)).filter((s): s is number => s !== undefined));
    for (const [left, right] of this.rules.config.overrides.neverMatch) {
      const a = this.lookup(left);
      const b = this.lookup(right);
      if (a === undefined || b === undefined) continue;
      this.forbid(a, b);
      this.forbid(b, a);
    }
  }

  /** Re-applies links a finished step produced (a resumed match continues from the next step). */
  replay(links: Iterable<Link>): void {
    this.seal();
    for (const link of links) {
      const a = this.byId.get(link.a);
      const b = this.byId.get(link.b);
      if (a !== undefined && b !== undefined) this.join(a, b);
    }
  }

  /** Runs one step; yields to the event loop regularly and reports progress through `onProgress`. */
  async runStep(step: number, onProgress?: (p: MatchProgress) => void | Promise<void>, pause: Pause = pacer()): Promise<{ links: Link[]; stats: StepStats }> {
    this.seal();
    const names = stepNames(this.rules.config);
    const stats: StepStats = { step, rule: names[step], blocks: 0, comparisons: 0, links: 0, oversizedBlocks: 0, largestBlock: 0, refusedByOverride: 0 };
    const links: Link[] = [];
    if (step === 0) {
      for (const [left, right] of this.rules.config.overrides.alwaysMatch) {
        const a = this.lookup(left);
        const b = this.lookup(right);
        if (a === undefined || b === undefined) continue;
        this.tryLink(a, b, 'always_match', 1, links, stats);
      }
    } else {
      const rule = this.rules.config.rules[step - 1];
      if (rule.type === 'link') {
        for (let i = 0; i < this.size; i++) {
          if ((i & 1023) === 0) await pause();
          const targets = this.linksOf[i];
          if (!targets) continue;
          for (const [source, key] of Object.entries(targets)) {
            const j = this.byKey.get(`${source}\u0000${key}`);
            if (j !== undefined && j !== i) this.tryLink(i, j, rule.name, rule.confidence, links, stats);
          }
        }
      } else if (rule.type === 'probabilistic') {
        if (rule.enabled) await this.runProbabilisticRule(step, rule, links, stats, onProgress);
      } else if (rule.enabled) {
        await this.runMatchRule(step, rule, links, stats, onProgress, pause);
      }
    }
    stats.links = links.length;
    return { links, stats };
  }

  private async runMatchRule(step: number, rule: MatchRule, links: Link[], stats: StepStats, onProgress: ((p: MatchProgress) => void | Promise<void>) | undefined, pause: Pause): Promise<void> {
    const config = this.rules.config;
    const blockKeys = blockSpec(rule).map((b) => ({ column: this.columns.get(b.keyId)!, prefix: b.prefix }));
    const elsewhere = this.oversizedElsewhere.get(step);
    const oversizedKeys: string[] = [];
    const conditions: CompiledCondition[] = rule.conditions
      .map((c: Condition) => ({
        column: this.columns.get(keyId(c.attribute, c.normalize))!,
        exact: thresholdOf(config, c) >= 1,
        threshold: thresholdOf(config, c),
        similarity: c.similarity ?? config.similarity,
        ifMissing: c.ifMissing,
        words: c.normalize.includes('nameOrder'),
      }))
      // Cheap equality tests first.
      .sort((x, y) => Number(y.exact) - Number(x.exact));
    const maxBlock = rule.maxBlockSize ?? config.maxBlockSize;
    const focus = this.focusIndex();

    const blocks = new Map<string, number[]>();
    for (let i = 0; i < this.size; i++) {
      if ((i & 1023) === 0) {
        // A million records take seconds to block: let heartbeats and other work through.
        if ((i & 0xffff) === 0) await onProgress?.({ step, rule: rule.name, comparisons: 0, blocksDone: 0, blocks: 0 });
        await pause();
      }
      let key = '';
      let complete = true;
      for (const b of blockKeys) {
        const value = b.column[i];
        if (value === null) {
          complete = false;
          break;
        }
        key += `${b.prefix ? keyPrefix(value, b.prefix) : value}\u0001`;
      }
      if (!complete) continue;
      const members = blocks.get(key);
      if (members) members.push(i);
      else blocks.set(key, [i]);
    }

    let blocksDone = 0;
    let lastProgress = Date.now();
    const total = blocks.size;
    for (const [key, members] of blocks) {
      if ((blocksDone & 15) === 0) {
        if (Date.now() - lastProgress > 250) {
          await onProgress?.({ step, rule: rule.name, comparisons: stats.comparisons, blocksDone, blocks: total });
          lastProgress = Date.now();
        }
        await pause();
      }
      blocksDone++;
      if (members.length < 2) continue;
      stats.blocks++;
      if (members.length > stats.largestBlock) stats.largestBlock = members.length;
      if (members.length > maxBlock || elsewhere?.has(key)) {
        stats.oversizedBlocks++;
        oversizedKeys.push(key);
        continue;
      }
      if (focus && !members.some((m) => focus[m] === 1)) continue;
      for (let x = 0; x < members.length; x++) {
        // A large block (up to maxBlockSize² / 2 pairs) lets the loop through between its rows too.
        if ((x & 15) === 15) await pause();
        const i = members[x];
        for (let y = x + 1; y < members.length; y++) {
          const j = members[y];
          if (focus && focus[i] === 0 && focus[j] === 0) continue;
          if (this.sourceOf[i] === this.sourceOf[j] && !this.dedupe.has(this.sourceOf[i])) continue;
          if (this.sets.connected(i, j)) continue;
          stats.comparisons++;
          const score = this.compare(conditions, i, j);
          if (score !== null) this.tryLink(i, j, rule.name, Math.round(rule.confidence * score * 1000) / 1000, links, stats);
        }
      }
    }
    await onProgress?.({ step, rule: rule.name, comparisons: stats.comparisons, blocksDone: total, blocks: total });
    if (oversizedKeys.length <= MAX_OVERSIZED_KEPT) stats.oversizedKeys = oversizedKeys;
  }

  /** The focus by record index (1: focused); null without focus. */
  private focusIndex(): Uint8Array | null {
    if (!this.focusIds) return null;
    const focus = new Uint8Array(this.size);
    for (const id of this.focusIds) {
      const i = this.byId.get(id);
      if (i !== undefined) focus[i] = 1;
    }
    return focus;
  }

  private pairSpace(): PairSpace {
    const counts = new Map<number, number>();
    for (let i = 0; i < this.size; i++) counts.set(this.sourceOf[i], (counts.get(this.sourceOf[i]) ?? 0) + 1);
    const sizes = [...counts.entries()];
    let eligiblePairs = 0;
    for (let x = 0; x < sizes.length; x++) {
      if (this.dedupe.has(sizes[x][0])) eligiblePairs += (sizes[x][1] * (sizes[x][1] - 1)) / 2;
      for (let y = x + 1; y < sizes.length; y++) eligiblePairs += sizes[x][1] * sizes[y][1];
    }
    return {
      size: this.size,
      column: (id) => this.columns.get(id)!,
      eligible: (i, j) => this.sourceOf[i] !== this.sourceOf[j] || this.dedupe.has(this.sourceOf[i]),
      eligiblePairs,
    };
  }

  private async runProbabilisticRule(step: number, rule: ProbabilisticRule, links: Link[], stats: StepStats, onProgress?: (p: MatchProgress) => void | Promise<void>): Promise<void> {
    const space = this.pairSpace();
    const maxBlock = rule.maxBlockSize ?? this.rules.config.maxBlockSize;
    await onProgress?.({ step, rule: rule.name, comparisons: 0, blocksDone: 0, blocks: 0 });
    const candidates = await candidatePairs(rule, space, maxBlock, async (p) => {
      await onProgress?.({ step, rule: rule.name, ...p });
    });
    const model = rule.model ? givenModel(rule) : await estimateModel(rule, space, candidates);
    const tf = termFrequencies(rule, space);
    this.models.set(rule.name, { rule, model, tf });
    stats.model = model;
    const scored = await scorePairs(rule, model, space, tf, candidates,
      (i, j) => this.sets.connected(i, j),
      (i, j, probability) => this.tryLink(i, j, rule.name, Math.round(probability * 1000) / 1000, links, stats));
    Object.assign(stats, { blocks: candidates.blocks, comparisons: scored.comparisons, oversizedBlocks: candidates.oversizedBlocks, largestBlock: candidates.largestBlock });
  }

  /**
   * Why two records are (or are not) one customer under a probabilistic rule this matcher ran:
   * each comparison's level and weight, the prior and the total. Record ids as in MatchRecord.
   */
  explain(a: number, b: number, ruleName?: string): PairExplanation {
    const entry = ruleName ? this.models.get(ruleName) : [...this.models.values()][0];
    if (!entry) throw new Error(ruleName ? `no probabilistic rule "${ruleName}" has run` : 'no probabilistic rule has run');
    const i = this.byId.get(a);
    const j = this.byId.get(b);
    if (i === undefined || j === undefined) throw new Error(`unknown record ${i === undefined ? a : b}`);
    const keysOf = (index: number) => Object.fromEntries([...this.columns].map(([id, column]) => [id, column[index]]));
    return explainPair(entry.rule, entry.model, keysOf(i), keysOf(j), entry.tf);
  }

  /** The mean similarity of the conditions when all hold, else null. */
  private compare(conditions: CompiledCondition[], i: number, j: number): number | null {
    let sum = 0;
    let counted = 0;
    for (const c of conditions) {
      const a = c.column[i];
      const b = c.column[j];
      if (a === null || b === null) {
        if (c.ifMissing === 'fail') return null;
        continue;
      }
      let s: number;
      if (c.exact) {
        if (a !== b) return null;
        s = 1;
      } else {
        s = c.words ? nameSimilarity(c.similarity, a, b) : similarity(c.similarity, a, b);
        if (s < c.threshold) return null;
      }
      sum += s;
      counted++;
    }
    return counted ? sum / counted : null;
  }

  private tryLink(i: number, j: number, rule: string, confidence: number, links: Link[], stats: StepStats): void {
    if (this.sets.connected(i, j)) return;
    if (!this.join(i, j)) {
      stats.refusedByOverride++;
      return;
    }
    const [a, b] = this.ids[i] < this.ids[j] ? [this.ids[i], this.ids[j]] : [this.ids[j], this.ids[i]];
    links.push({ a, b, rule, confidence });
  }

  /** Unites two groups unless a never-match pair would end up together. */
  private join(i: number, j: number): boolean {
    const ri = this.sets.find(i);
    const rj = this.sets.find(j);
    if (ri === rj) return true;
    const fi = this.forbidden.get(ri);
    const fj = this.forbidden.get(rj);
    if (fi?.some((f) => this.sets.find(f) === rj) || fj?.some((f) => this.sets.find(f) === ri)) return false;
    this.sets.union(i, j);
    if (fi || fj) {
      const root = this.sets.find(i);
      const merged = [...(fi ?? []), ...(fj ?? [])];
      this.forbidden.delete(ri);
      this.forbidden.delete(rj);
      this.forbidden.set(root, merged);
    }
    return true;
  }

  private forbid(record: number, partner: number): void {
    const root = this.sets.find(record);
    const list = this.forbidden.get(root);
    if (list) list.push(partner);
    else this.forbidden.set(root, [partner]);
  }

  private lookup(ref: string): number | undefined {
    const { source, key } = splitRecordRef(ref);
    return this.byKey.get(`${source}\u0000${key}`);
  }
}

/** Runs every step at once (tests, the quality measurement and the benchmarks' in-memory figures). */
export async function matchAll(records: MatchRecord[], rules: CompiledRules): Promise<{ links: Link[]; stats: StepStats[] }> {
  const matcher = new Matcher(records, rules);
  const links: Link[] = [];
  const stats: StepStats[] = [];
  for (let step = 0; step < stepNames(rules.config).length; step++) {
    const result = await matcher.runStep(step);
    links.push(...result.links);
    stats.push(result.stats);
  }
  return { links, stats };
}

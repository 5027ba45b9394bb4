/**
 * Probabilistic matching (Fellegi–Sunter), pure and deterministic. A probabilistic rule compares
 * a pair attribute by attribute; each comparison puts the pair in one graded level (exact, a
 * Jaro-Winkler band, an edit distance, a date tolerance, … or "else"; a value missing on either
 * side puts it in no level and weighs nothing). Each level has
 *
 *   m = P(level | the two records are one person)   u = P(level | they are two people)
 *
 * and weighs log2(m / u). The pair's match weight is the prior log2(λ / (1 − λ)) — λ the
 * probability that two random records are one person — plus the weights of its comparisons; its
 * match probability is 2^w / (1 + 2^w). Nothing is labelled:
 *
 * - u: comparison levels counted over record pairs drawn at random (seeded), almost all of which
 *   are two people;
 * - m: expectation maximisation over the pairs of each blocking rule (one training session per
 *   rule; a comparison on an attribute the rule blocks on is not estimated in that session, since
 *   every pair there agrees on it), averaged over the sessions that estimated it;
 * - λ: each session's share of matches, scaled back to all pairs by the session's recall (the
 *   chance that a true pair agrees on its keys, from the m of those keys' exact levels);
 * - term frequencies: an exact agreement on value v weighs log2(m_exact / f(v)), f(v) the share of
 *   records holding v, so a rare surname counts more than "smith".
 *
 * The estimated weights (the `FellegiSunterModel`) are plain JSON, kept with the pass; given back
 * as the rule's `model`, they are used as they are, and `explainPair` shows how a pair's weight
 * adds up.
 */
import { distance as levenshtein } from 'fastest-levenshtein';
import { keyId, keyPrefix, type BlockKey, type Comparison, type ComparisonLevel, type ProbabilisticRule } from './rules';

export interface LevelWeights {
  label: string;
  m: number;
  u: number;
}

export interface ComparisonModel {
  name: string;
  attribute: string;
  termFrequency: boolean;
  /** The configured levels, then "else". */
  levels: LevelWeights[];
}

export interface TrainingSession {
  blocking: string;
  /** Eligible pairs sharing the session's keys (in blocks no larger than the rule's limit). */
  pairs: number;
  iterations: number;
  /** Share of matches among the session's pairs. */
  lambda: number;
  /** The comparisons whose m the session estimated. */
  estimated: string[];
}

/** The weights of one probabilistic rule: what a pass applied, enough to apply it again. */
export interface FellegiSunterModel {
  rule: string;
  /** The probability that two random eligible records are one person. */
  lambda: number;
  comparisons: ComparisonModel[];
  threshold: { matchProbability: number } | { matchWeight: number };
  /** How the weights were estimated; absent when the rule gave them. */
  training?: { records: number; eligiblePairs: number; sampledPairs: number; seed: number; sessions: TrainingSession[] };
}

/** The records a probabilistic rule works on: normalised values by key id, and which pairs may match at all. */
export interface PairSpace {
  size: number;
  column(keyId: string): ReadonlyArray<string | null>;
  /** Records of different sources, or of one source that is deduplicated. */
  eligible(i: number, j: number): boolean;
  /** How many eligible pairs there are. */
  eligiblePairs: number;
}

// ---------------------------------------------------------------------------------------------
// Levels.

export function levelLabel(level: ComparisonLevel): string {
  switch (level.kind) {
    case 'exact':
      return 'exact';
    case 'jaroWinkler':
      return `Jaro-Winkler ≥ ${level.min}`;
    case 'levenshtein':
      return `edit distance ≤ ${level.max}`;
    case 'dateSwap':
      return 'day and month swapped';
    case 'dateYears':
      return `same day and month, years ≤ ${level.max} apart`;
    case 'dateDays':
      return `≤ ${level.max} days apart`;
    case 'swapped':
      return `swapped with ${level.with}${level.min < 1 ? ` (Jaro-Winkler ≥ ${level.min})` : ''}`;
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function dayNumber(y: number, m: number, d: number): number {
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

let flagsA = new Uint8Array(64);
let flagsB = new Uint8Array(64);

/**
 * Jaro-Winkler similarity as usually defined (match window ⌊max length / 2⌋ − 1, Winkler's
 * common prefix of at most 4 characters, scale 0.1), on UTF-16 code units, without allocating:
 * the scoring loop calls it millions of times.
 */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return 1;
  const la = a.length;
  const lb = b.length;
  if (la === 0 || lb === 0) return 0;
  if (flagsA.length < la) flagsA = new Uint8Array(la * 2);
  if (flagsB.length < lb) flagsB = new Uint8Array(lb * 2);
  flagsA.fill(0, 0, la);
  flagsB.fill(0, 0, lb);
  const window = Math.max(0, (Math.max(la, lb) >> 1) - 1);
  let matches = 0;
  for (let i = 0; i < la; i++) {
    const c = a.charCodeAt(i);
    const end = Math.min(i + window + 1, lb);
    for (let j = Math.max(0, i - window); j < end; j++) {
      if (flagsB[j] || b.charCodeAt(j) !== c) continue;
      flagsA[i] = 1;
      flagsB[j] = 1;
      matches++;
      break;
    }
  }
  if (matches === 0) return 0;
  let halfTranspositions = 0;
  for (let i = 0, j = 0; i < la; i++) {
    if (!flagsA[i]) continue;
    while (!flagsB[j]) j++;
    if (a.charCodeAt(i) !== b.charCodeAt(j)) halfTranspositions++;
    j++;
  }
  const jaro = (matches / la + matches / lb + (matches - (halfTranspositions >> 1)) / matches) / 3;
  let prefix = 0;
  const limit = Math.min(4, la, lb);
  while (prefix < limit && a.charCodeAt(prefix) === b.charCodeAt(prefix)) prefix++;
  return jaro + prefix * 0.1 * (1 - jaro);
}

const near = (x: string | null, y: string | null, min: number) => x !== null && y !== null && (x === y || (min < 1 && jaroWinkler(x, y) >= min));

/**
 * The index of the first level that holds for two present values; `levels.length` ("else") when
 * none does. `crossA` / `crossB`: each record's value of a `swapped` level's other attribute.
 */
export function levelOf(levels: readonly ComparisonLevel[], a: string, b: string, crossA: string | null = null, crossB: string | null = null): number {
  let jw = -1;
  let edits = -1;
  let da: RegExpExecArray | null | undefined;
  let db: RegExpExecArray | null | undefined;
  for (let l = 0; l < levels.length; l++) {
    const level = levels[l];
    switch (level.kind) {
      case 'exact':
        if (a === b) return l;
        break;
      case 'jaroWinkler':
        if (jw < 0) jw = a === b ? 1 : jaroWinkler(a, b);
        if (jw >= level.min) return l;
        break;
      case 'levenshtein':
        if (edits < 0) edits = a === b ? 0 : levenshtein(a, b);
        if (edits <= level.max) return l;
        break;
      case 'swapped':
        // Both ways: this record's value is the other's `with`, and the other way round.
        if (near(a, crossB, level.min) && near(b, crossA, level.min)) return l;
        break;
      default: {
        if (da === undefined) {
          da = DATE.exec(a);
          db = DATE.exec(b);
        }
        if (!da || !db) break;
        const [ya, ma, dA] = [Number(da[1]), Number(da[2]), Number(da[3])];
        const [yb, mb, dB] = [Number(db[1]), Number(db[2]), Number(db[3])];
        if (level.kind === 'dateSwap' && ya === yb && ma === dB && dA === mb && ma !== mb) return l;
        if (level.kind === 'dateYears' && ma === mb && dA === dB && Math.abs(ya - yb) <= level.max) return l;
        if (level.kind === 'dateDays' && Math.abs(dayNumber(ya, ma, dA) - dayNumber(yb, mb, dB)) <= level.max) return l;
      }
    }
  }
  return levels.length;
}

// ---------------------------------------------------------------------------------------------
// Determinism: a small seeded generator (mulberry32) for every random choice.

export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------
// Compiled comparisons and blocking.

interface CompiledComparison {
  name: string;
  attribute: string;
  column: ReadonlyArray<string | null>;
  /** The other attribute of a `swapped` level, normalised as this comparison. */
  cross: ReadonlyArray<string | null> | null;
  levels: ComparisonLevel[];
  termFrequency: boolean;
}

function crossOf(c: Comparison): string | null {
  const level = c.levels.find((l) => l.kind === 'swapped');
  return level?.kind === 'swapped' ? level.with : null;
}

function compileComparisons(rule: ProbabilisticRule, space: PairSpace): CompiledComparison[] {
  return rule.comparisons.map((c: Comparison) => ({
    name: c.name ?? c.attribute,
    attribute: c.attribute,
    column: space.column(keyId(c.attribute, c.normalize)),
    cross: crossOf(c) ? space.column(keyId(crossOf(c)!, c.normalize)) : null,
    levels: c.levels,
    termFrequency: c.termFrequency,
  }));
}

/** A record's key for one blocking rule, or null when one of its values is missing. */
function blockKeysOf(keys: readonly BlockKey[], space: PairSpace): Array<string | null> {
  const columns = keys.map((b) => ({ column: space.column(keyId(b.attribute, b.normalize)), prefix: b.prefix }));
  const out: Array<string | null> = new Array(space.size);
  for (let i = 0; i < space.size; i++) {
    let key = '';
    for (const { column, prefix } of columns) {
      const value = column[i];
      if (value === null) {
        key = '\u0001';
        break;
      }
      key += `${prefix ? keyPrefix(value, prefix) : value}\u0000`;
    }
    out[i] = key === '\u0001' ? null : key;
  }
  return out;
}

function groupBlocks(keys: ReadonlyArray<string | null>): number[][] {
  const blocks = new Map<string, number[]>();
  keys.forEach((key, i) => {
    if (key === null) return;
    const members = blocks.get(key);
    if (members) members.push(i);
    else blocks.set(key, [i]);
  });
  return [...blocks.values()].filter((m) => m.length > 1);
}

export function describeBlocking(keys: readonly BlockKey[]): string {
  return keys.map((b) => `${b.attribute}${b.normalize.length ? `(${b.normalize.join(',')})` : ''}${b.prefix ? `[0:${b.prefix}]` : ''}`).join(' & ');
}

/** The comparison vector of a pair: a level per comparison, -1 where a value is missing. */
function vectorOf(comparisons: readonly CompiledComparison[], i: number, j: number, out: Int8Array): void {
  for (let k = 0; k < comparisons.length; k++) {
    const c = comparisons[k];
    const a = c.column[i];
    const b = c.column[j];
    out[k] = a === null || b === null ? -1 : c.cross ? levelOf(c.levels, a, b, c.cross[i], c.cross[j]) : levelOf(c.levels, a, b);
  }
}

// ---------------------------------------------------------------------------------------------
// Estimation.

export interface EmPattern {
  /** Level per comparison, -1 for missing. */
  levels: ArrayLike<number>;
  count: number;
}

export interface EmResult {
  m: number[][];
  lambda: number;
  iterations: number;
  converged: boolean;
}

const FLOOR = 1e-9;

/**
 * EM with u fixed: finds the m of the comparisons marked `estimated` and the share of matches λ
 * that make the patterns most likely. Comparisons not estimated are left out of the likelihood.
 */
export function expectationMaximisation(patterns: readonly EmPattern[], u: readonly number[][], mStart: readonly number[][], estimated: readonly boolean[], options: { maxIterations: number; tolerance: number; lambda?: number }): EmResult {
  let m = mStart.map((levels) => [...levels]);
  let lambda = options.lambda ?? 0.1;
  const total = patterns.reduce((s, p) => s + p.count, 0);
  let iterations = 0;
  let converged = false;
  while (iterations < options.maxIterations && total > 0) {
    iterations++;
    const acc = m.map((levels) => levels.map(() => 0));
    // log(u / m) per level: a pattern's odds against a match are a sum of these.
    const logRatio = m.map((levels, k) => levels.map((v, l) => Math.log(u[k][l] / v)));
    const logPrior = Math.log((1 - lambda) / lambda);
    let matches = 0;
    for (const p of patterns) {
      let logOdds = logPrior;
      for (let k = 0; k < m.length; k++) {
        const l = p.levels[k];
        if (l >= 0 && estimated[k]) logOdds += logRatio[k][l];
      }
      const probability = 1 / (1 + Math.exp(logOdds));
      const weight = probability * p.count;
      matches += weight;
      for (let k = 0; k < m.length; k++) {
        const l = p.levels[k];
        if (l >= 0 && estimated[k]) acc[k][l] += weight;
      }
    }
    const next = m.map((levels, k) => {
      if (!estimated[k]) return levels;
      const sum = acc[k].reduce((s, v) => s + v, 0);
      if (sum <= 0) return levels;
      const raw = acc[k].map((v) => Math.max(v / sum, FLOOR));
      const norm = raw.reduce((s, v) => s + v, 0);
      return raw.map((v) => v / norm);
    });
    const nextLambda = Math.min(Math.max(matches / total, FLOOR), 1 - FLOOR);
    let change = Math.abs(nextLambda - lambda);
    for (let k = 0; k < m.length; k++) for (let l = 0; l < m[k].length; l++) change = Math.max(change, Math.abs(next[k][l] - m[k][l]));
    m = next;
    lambda = nextLambda;
    if (change < options.tolerance) {
      converged = true;
      break;
    }
  }
  return { m, lambda, iterations, converged };
}

/** m to start EM from: most of the mass on the first (closest) level. */
function startingM(levelCount: number): number[] {
  const out = new Array<number>(levelCount).fill(0.1 / (levelCount - 1));
  out[0] = 0.9;
  return out;
}

const vectorKey = (v: Int8Array) => String.fromCharCode(...Array.from(v, (l) => l + 49));

/**
 * The pairs a rule looks at: every eligible pair sharing one blocking rule's keys, once, with its
 * comparison vector (as an index into `patterns`) and the blocking rules whose keys it shares.
 * About 13 bytes a pair; the vectors are computed once for training and scoring alike.
 */
export interface Candidates {
  a: number[];
  b: number[];
  /** Index into `patterns`, per pair. */
  pattern: number[];
  patterns: Int8Array[];
  /** Per blocking rule: pattern index → pairs of that rule (a pair counts in every rule whose keys it shares). */
  sessions: Array<Map<number, number>>;
  /** Per blocking rule: its pairs. */
  sessionPairs: number[];
  blocks: number;
  oversizedBlocks: number;
  largestBlock: number;
}

export async function candidatePairs(rule: ProbabilisticRule, space: PairSpace, maxBlockSize: number, progress?: (p: { comparisons: number; blocksDone: number; blocks: number }) => Promise<void>): Promise<Candidates> {
  const comparisons = compileComparisons(rule, space);
  const width = comparisons.length;
  const vector = new Int8Array(width);
  const keys = rule.blocking.map((k) => blockKeysOf(k, space));
  const blockLists = keys.map((k) => groupBlocks(k));
  const out: Candidates = {
    a: [], b: [], pattern: [], patterns: [], sessions: rule.blocking.map(() => new Map()), sessionPairs: rule.blocking.map(() => 0),
    blocks: 0, oversizedBlocks: 0, largestBlock: 0,
  };
  const patternIndex = new Map<string, number>();
  const oversized = rule.blocking.map(() => new Set<string>());
  const total = blockLists.reduce((n, b) => n + b.length, 0);
  const shares = (r: number, i: number, j: number) => keys[r][i] !== null && keys[r][i] === keys[r][j] && !oversized[r].has(keys[r][i]!);
  for (let r = 0; r < blockLists.length; r++) {
    for (const members of blockLists[r]) {
      out.blocks++;
      if (members.length > out.largestBlock) out.largestBlock = members.length;
      if (members.length > maxBlockSize) {
        out.oversizedBlocks++;
        oversized[r].add(keys[r][members[0]]!);
      }
    }
  }
  let blocksDone = 0;
  let lastYield = Date.now();
  for (let r = 0; r < blockLists.length; r++) {
    for (const members of blockLists[r]) {
      blocksDone++;
      if (members.length > maxBlockSize) continue;
      for (let x = 0; x < members.length; x++) {
        const i = members[x];
        for (let y = x + 1; y < members.length; y++) {
          const j = members[y];
          if (!space.eligible(i, j)) continue;
          // A pair sharing an earlier blocking rule's keys is already there.
          let seen = false;
          for (let q = 0; q < r && !seen; q++) seen = shares(q, i, j);
          if (seen) continue;
          vectorOf(comparisons, i, j, vector);
          const key = vectorKey(vector);
          let p = patternIndex.get(key);
          if (p === undefined) {
            p = out.patterns.length;
            out.patterns.push(Int8Array.from(vector));
            patternIndex.set(key, p);
          }
          out.a.push(i);
          out.b.push(j);
          out.pattern.push(p);
          for (let q = r; q < blockLists.length; q++) {
            if (q > r && !shares(q, i, j)) continue;
            out.sessions[q].set(p, (out.sessions[q].get(p) ?? 0) + 1);
            out.sessionPairs[q]++;
          }
        }
      }
      if ((blocksDone & 255) === 0 && Date.now() - lastYield > 100) {
        await progress?.({ comparisons: out.a.length, blocksDone, blocks: total });
        await yieldToLoop();
        lastYield = Date.now();
      }
    }
  }
  return out;
}

/** Estimates the weights of a rule from the records and its candidate pairs (no labels). */
export async function estimateModel(rule: ProbabilisticRule, space: PairSpace, candidates: Candidates): Promise<FellegiSunterModel> {
  const comparisons = compileComparisons(rule, space);
  const width = comparisons.length;
  const random = seededRandom(rule.sample.seed);
  const vector = new Int8Array(width);

  // u: levels over random eligible pairs.
  const counts = comparisons.map((c) => new Array<number>(c.levels.length + 1).fill(0));
  let sampled = 0;
  for (let attempts = 0; sampled < rule.sample.pairs && attempts < rule.sample.pairs * 20 && space.size > 1; attempts++) {
    const i = Math.floor(random() * space.size);
    const j = Math.floor(random() * space.size);
    if (i === j || !space.eligible(i, j)) continue;
    sampled++;
    vectorOf(comparisons, i, j, vector);
    for (let k = 0; k < width; k++) if (vector[k] >= 0) counts[k][vector[k]]++;
    if ((sampled & 0x3fff) === 0) await yieldToLoop();
  }
  // Add-one smoothing: a level never seen among random pairs is rare, not impossible.
  const u = counts.map((levels) => {
    const n = levels.reduce((s, v) => s + v, 0);
    return levels.map((v) => (v + 1) / (n + levels.length));
  });

  // m: one EM session per blocking rule.
  const sessions: Array<TrainingSession & { m: number[][]; keys: BlockKey[] }> = [];
  rule.blocking.forEach((keys, r) => {
    const patterns = [...candidates.sessions[r].entries()].map(([p, count]) => ({ levels: candidates.patterns[p], count }));
    const blocked = new Set(keys.map((b) => b.attribute));
    // A session without pairs estimates nothing.
    const estimated = comparisons.map((c) => patterns.length > 0 && !blocked.has(c.attribute));
    const result = expectationMaximisation(patterns, u, comparisons.map((c) => startingM(c.levels.length + 1)), estimated, rule.em);
    sessions.push({
      blocking: describeBlocking(keys), pairs: candidates.sessionPairs[r], iterations: result.iterations, lambda: result.lambda,
      estimated: comparisons.filter((_, k) => estimated[k]).map((c) => c.name), m: result.m, keys,
    });
  });
  const m = comparisons.map((c, k) => {
    const from = sessions.filter((s) => s.estimated.includes(c.name));
    // Too few records to learn from: the starting values.
    if (from.length === 0) return startingM(c.levels.length + 1);
    return c.levels.map((_, l) => l).concat(c.levels.length).map((l) => from.reduce((s, session) => s + session.m[k][l], 0) / from.length);
  });

  // λ: each session's matches, divided by the chance a true pair shares the session's keys.
  const presence = comparisons.map((c) => {
    let present = 0;
    for (const v of c.column) if (v !== null) present++;
    return space.size ? present / space.size : 0;
  });
  const totals: number[] = [];
  const fallback: number[] = [];
  for (const s of sessions) {
    if (s.pairs === 0) continue;
    const matches = s.lambda * s.pairs;
    fallback.push(matches);
    let recall = 1;
    for (const b of s.keys) {
      const k = comparisons.findIndex((c) => c.attribute === b.attribute && c.levels[0].kind === 'exact');
      if (k < 0) {
        recall = NaN;
        break;
      }
      recall *= m[k][0] * presence[k] * presence[k];
    }
    if (Number.isFinite(recall) && recall > 0) totals.push(matches / recall);
  }
  const median = (xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    return sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  };
  const expected = totals.length ? median(totals) : fallback.length ? median(fallback) : 0;
  const lambda = Math.min(Math.max(expected / Math.max(space.eligiblePairs, 1), 1e-12), 0.5);

  return {
    rule: rule.name,
    lambda,
    comparisons: comparisons.map((c, k) => ({
      name: c.name, attribute: c.attribute, termFrequency: c.termFrequency,
      levels: [...c.levels.map(levelLabel), 'else'].map((label, l) => ({ label, m: m[k][l], u: u[k][l] })),
    })),
    threshold: rule.threshold,
    training: {
      records: space.size, eligiblePairs: space.eligiblePairs, sampledPairs: sampled, seed: rule.sample.seed,
      sessions: sessions.map(({ m: _m, keys: _k, ...s }) => s),
    },
  };
}

/** The model a rule gives (`model`): the same shape as an estimated one. */
export function givenModel(rule: ProbabilisticRule): FellegiSunterModel {
  const saved = rule.model!;
  return {
    rule: rule.name,
    lambda: saved.lambda,
    comparisons: rule.comparisons.map((c, k) => ({ name: c.name ?? c.attribute, attribute: c.attribute, termFrequency: c.termFrequency, levels: saved.comparisons[k].levels })),
    threshold: rule.threshold,
  };
}

// ---------------------------------------------------------------------------------------------
// Scoring and explaining.

/** Share of records holding each value of a term-frequency comparison, by comparison name. */
export type TermFrequencies = ReadonlyMap<string, { counts: ReadonlyMap<string, number>; total: number }>;

export function termFrequencies(rule: ProbabilisticRule, space: PairSpace): TermFrequencies {
  const out = new Map<string, { counts: Map<string, number>; total: number }>();
  for (const c of compileComparisons(rule, space)) {
    if (!c.termFrequency) continue;
    const counts = new Map<string, number>();
    let total = 0;
    for (const v of c.column) {
      if (v === null) continue;
      counts.set(v, (counts.get(v) ?? 0) + 1);
      total++;
    }
    out.set(c.name, { counts, total });
  }
  return out;
}

export const log2Odds = (p: number) => Math.log2(p / (1 - p));

export function thresholdWeight(threshold: FellegiSunterModel['threshold']): number {
  return 'matchWeight' in threshold ? threshold.matchWeight : log2Odds(threshold.matchProbability);
}

export interface ComparisonExplanation {
  comparison: string;
  attribute: string;
  a: string | null;
  b: string | null;
  /** null: a value is missing, the comparison weighs nothing. */
  level: string | null;
  m: number | null;
  u: number | null;
  /** log2(m / u), after the term-frequency adjustment when there was one. */
  weight: number;
  /** For an exact agreement with term frequencies: the share of records holding the value (used as u). */
  termFrequency?: number;
}

export interface PairExplanation {
  rule: string;
  /** log2(λ / (1 − λ)): the weight before any comparison. */
  prior: number;
  comparisons: ComparisonExplanation[];
  /** prior + the comparisons' weights. */
  matchWeight: number;
  matchProbability: number;
  /** The weight the rule's threshold demands. */
  threshold: number;
  linked: boolean;
}

interface Scorer {
  model: FellegiSunterModel;
  levels: ComparisonLevel[][];
  weights: number[][];
  prior: number;
  threshold: number;
  tf: Array<{ counts: ReadonlyMap<string, number>; total: number } | null>;
}

function scorer(rule: ProbabilisticRule, model: FellegiSunterModel, tf: TermFrequencies): Scorer {
  return {
    model,
    levels: rule.comparisons.map((c) => c.levels),
    weights: model.comparisons.map((c) => c.levels.map((l) => Math.log2(l.m / l.u))),
    prior: log2Odds(model.lambda),
    threshold: thresholdWeight(model.threshold),
    tf: model.comparisons.map((c) => (c.termFrequency ? tf.get(c.name) ?? null : null)),
  };
}

function comparisonWeight(s: Scorer, k: number, level: number, value: string): { weight: number; frequency?: number } {
  const table = s.tf[k];
  if (level === 0 && table) {
    const frequency = (table.counts.get(value) ?? 1) / Math.max(table.total, 1);
    return { weight: Math.log2(s.model.comparisons[k].levels[0].m / frequency), frequency };
  }
  return { weight: s.weights[k][level] };
}

/** How a pair's match weight adds up under a model: each comparison's level and weight, the prior, the total. */
export function explainPair(rule: ProbabilisticRule, model: FellegiSunterModel, a: Record<string, string | null>, b: Record<string, string | null>, tf: TermFrequencies = new Map()): PairExplanation {
  const s = scorer(rule, model, tf);
  const comparisons = rule.comparisons.map((c, k): ComparisonExplanation => {
    const id = keyId(c.attribute, c.normalize);
    const va = a[id] ?? null;
    const vb = b[id] ?? null;
    const name = model.comparisons[k].name;
    if (va === null || vb === null) return { comparison: name, attribute: c.attribute, a: va, b: vb, level: null, m: null, u: null, weight: 0 };
    const cross = crossOf(c);
    const level = cross ? levelOf(c.levels, va, vb, a[keyId(cross, c.normalize)] ?? null, b[keyId(cross, c.normalize)] ?? null) : levelOf(c.levels, va, vb);
    const { weight, frequency } = comparisonWeight(s, k, level, va);
    const lw = model.comparisons[k].levels[level];
    return { comparison: name, attribute: c.attribute, a: va, b: vb, level: lw.label, m: lw.m, u: frequency ?? lw.u, weight, ...(frequency !== undefined ? { termFrequency: frequency } : {}) };
  });
  const matchWeight = s.prior + comparisons.reduce((sum, c) => sum + c.weight, 0);
  return {
    rule: model.rule, prior: s.prior, comparisons, matchWeight, matchProbability: 1 / (1 + 2 ** -matchWeight), threshold: s.threshold,
    linked: matchWeight >= s.threshold,
  };
}

/**
 * Scores the candidate pairs and hands those whose match weight reaches the threshold to `link`,
 * with their match probability. `skip` leaves out pairs already known to be one person.
 */
export async function scorePairs(
  rule: ProbabilisticRule, model: FellegiSunterModel, space: PairSpace, tf: TermFrequencies, candidates: Candidates,
  skip: (i: number, j: number) => boolean, link: (i: number, j: number, probability: number) => void,
): Promise<{ comparisons: number }> {
  const comparisons = compileComparisons(rule, space);
  const s = scorer(rule, model, tf);
  // The weight of each pattern without term frequencies; exact levels of TF comparisons are added per pair.
  const tfComparisons = comparisons.map((_, k) => k).filter((k) => s.tf[k] !== null);
  const base = candidates.patterns.map((levels) => {
    let w = s.prior;
    for (let k = 0; k < levels.length; k++) if (levels[k] >= 0 && !(levels[k] === 0 && s.tf[k])) w += s.weights[k][levels[k]];
    return w;
  });
  let scored = 0;
  for (let n = 0; n < candidates.a.length; n++) {
    const i = candidates.a[n];
    const j = candidates.b[n];
    if (skip(i, j)) continue;
    scored++;
    const levels = candidates.patterns[candidates.pattern[n]];
    let weight = base[candidates.pattern[n]];
    for (const k of tfComparisons) if (levels[k] === 0) weight += comparisonWeight(s, k, 0, comparisons[k].column[i]!).weight;
    if (weight >= s.threshold) link(i, j, 1 / (1 + 2 ** -weight));
    if ((n & 0xffff) === 0xffff) await yieldToLoop();
  }
  return { comparisons: scored };
}

/**
 * Match and merge rules as configuration (config/customer-matching.json), in the manner of
 * Customer Insights: rules tried in order, each a set of conditions that must all hold; each
 * condition names an attribute, the normalisations applied to both sides and a precision —
 * exact, high, medium, low, or a similarity threshold of its own. A `probabilistic` rule weighs
 * graded comparisons instead, with weights estimated from the records (fellegiSunter.ts). Sources listed under
 * `deduplicate` may match inside themselves; overrides force or forbid particular pairs; the
 * merge section orders sources per attribute.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { PERSON_ATTRIBUTES, type SourceMapping } from './mapping';
import { NORMALIZATIONS, loadNormalizers, type Normalization } from './normalize';

/** Standard attributes a condition can compare: the person model plus `name`, the full name built from first + last (or FullName when they are missing). */
export const MATCH_ATTRIBUTES = [...Object.keys(PERSON_ATTRIBUTES), 'name'] as const;
export type MatchAttribute = (typeof MATCH_ATTRIBUTES)[number];

/**
 * A condition may also compare an extra column a mapping keeps (a national id, a customer
 * number): `extra:<column>`, the column as the mapping names it under `extra`. Records of
 * sources whose mappings keep no such column have no value for it.
 */
export const EXTRA_PREFIX = 'extra:';

/** The extra column an attribute names, or null for a standard attribute. */
export function extraColumnOf(attribute: string): string | null {
  return attribute.startsWith(EXTRA_PREFIX) ? attribute.slice(EXTRA_PREFIX.length) : null;
}

const matchAttribute = z.union([
  z.enum(MATCH_ATTRIBUTES as unknown as [string, ...string[]]),
  z.string().regex(/^extra:\S(.*\S)?$/, 'extra:<column kept by a mapping>'),
], { error: () => `a standard attribute (${MATCH_ATTRIBUTES.join(', ')}) or extra:<column kept by a mapping>` });

export const PRECISIONS = ['exact', 'high', 'medium', 'low'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Default similarity each precision level demands (Jaro-Winkler unless a condition says otherwise). */
export const DEFAULT_THRESHOLDS: Record<Exclude<Precision, 'exact'>, number> = { high: 0.92, medium: 0.85, low: 0.75 };

const conditionSchema = z.strictObject({
  attribute: matchAttribute,
  normalize: z.array(z.enum(NORMALIZATIONS)).default([]),
  precision: z.enum(PRECISIONS).optional(),
  /** A similarity between 0 and 1 instead of a named precision. */
  threshold: z.number().min(0).max(1).optional(),
  similarity: z.enum(['jaroWinkler', 'levenshtein']).optional(),
  /** `pass`: a value missing on either side does not stop the rule (the condition then only forbids a conflict). */
  ifMissing: z.enum(['fail', 'pass']).default('fail'),
}).refine((c) => (c.precision === undefined) !== (c.threshold === undefined), { message: 'give either precision or threshold' });

const blockSchema = z.strictObject({
  attribute: matchAttribute,
  normalize: z.array(z.enum(NORMALIZATIONS)).default([]),
  /** Only the first N characters (code points, as `keyPrefix` cuts them) form the key. */
  prefix: z.number().int().min(1).optional(),
});

/**
 * The first `n` characters of a value, counted in code points as PostgreSQL's `left(value, n)`
 * counts them in a UTF-8 database, not in UTF-16 units as `String.slice` does: a block key cut
 * here and one cut in SQL (the incremental plan's scan of the touched blocks) must be the same
 * key, also for a name that starts with a character outside the Basic Multilingual Plane.
 */
export function keyPrefix(value: string, n: number): string {
  if (value.length <= n) return value;
  let end = 0;
  let count = 0;
  // A string's iterator yields code points.
  for (const char of value) {
    if (count++ === n) break;
    end += char.length;
  }
  return value.slice(0, end);
}

/**
 * One graded level of a probabilistic comparison, tried in order (the first that holds is the
 * pair's level; none holding is the comparison's last level, "else"):
 * `exact`; `jaroWinkler` similarity at least `min`; `levenshtein` edit distance at most `max`;
 * for dates (`YYYY-MM-DD`), `dateSwap` (day and month transposed), `dateYears` (same month and
 * day, years at most `max` apart), `dateDays` (at most `max` days apart); `swapped`: the value is
 * the other record's `with` attribute (first and last names swapped).
 */
const levelSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('exact') }),
  z.strictObject({ kind: z.literal('jaroWinkler'), min: z.number().gt(0).max(1) }),
  z.strictObject({ kind: z.literal('levenshtein'), max: z.number().int().min(1) }),
  z.strictObject({ kind: z.literal('dateSwap') }),
  z.strictObject({ kind: z.literal('dateYears'), max: z.number().int().min(1) }),
  z.strictObject({ kind: z.literal('dateDays'), max: z.number().int().min(1) }),
  /** Swapped values: each record's value equals (Jaro-Winkler at least `min`; default exactly) the other's `with` attribute (first and last names). */
  z.strictObject({ kind: z.literal('swapped'), with: matchAttribute, min: z.number().gt(0).max(1).default(1) }),
], { error: () => 'a level is { "kind": "exact" | "jaroWinkler" (min) | "levenshtein" (max) | "dateSwap" | "dateYears" (max) | "dateDays" (max) | "swapped" (with, min) }' });

const comparisonSchema = z.strictObject({
  /** How the comparison is named in the saved weights and in explanations (default: the attribute). */
  name: z.string().regex(/^[a-zA-Z][a-zA-Z0-9_:]*$/).optional(),
  attribute: matchAttribute,
  normalize: z.array(z.enum(NORMALIZATIONS)).default([]),
  levels: z.array(levelSchema).min(1),
  /** An exact agreement on a rare value weighs more than one on a common value (names). */
  termFrequency: z.boolean().default(false),
});

const savedLevelSchema = z.strictObject({ label: z.string(), m: z.number().gt(0).max(1), u: z.number().gt(0).max(1) });
/** Weights estimated by an earlier pass (`model` in its checkpoint): given, they are used as they are instead of being estimated. */
export const savedModelSchema = z.object({
  lambda: z.number().gt(0).lt(1),
  comparisons: z.array(z.object({ name: z.string(), levels: z.array(savedLevelSchema).min(2) })).min(1),
});

const probabilisticSchema = z.strictObject({
  type: z.literal('probabilistic'),
  name: z.string().regex(/^[a-z][a-z0-9_]*$/),
  description: z.string().optional(),
  comparisons: z.array(comparisonSchema).min(2),
  /**
   * Blocking rules: each a list of keys that must all be equal. A pair is scored when it shares
   * any one rule's keys; each rule is also one EM training session (the comparisons of its own
   * attributes are not estimated there, since every pair in it agrees on them).
   */
  blocking: z.array(z.array(blockSchema).min(1)).min(1),
  /** Link when the match probability (default 0.5, the Bayes decision) or the match weight (log2 odds) reaches this. */
  threshold: z.union([
    z.strictObject({ matchProbability: z.number().gt(0).lt(1) }),
    z.strictObject({ matchWeight: z.number() }),
  ]).default({ matchProbability: 0.5 }),
  /** u by random sampling: how many pairs, and the seed of the generator. */
  sample: z.strictObject({ pairs: z.number().int().min(1000).default(200_000), seed: z.number().int().default(42) }).default({ pairs: 200_000, seed: 42 }),
  em: z.strictObject({
    maxIterations: z.number().int().min(1).default(50),
    tolerance: z.number().gt(0).default(1e-5),
  }).default({ maxIterations: 50, tolerance: 1e-5 }),
  maxBlockSize: z.number().int().min(2).optional(),
  model: savedModelSchema.optional(),
  enabled: z.boolean().default(true),
});

const ruleSchema = z.discriminatedUnion('type', [
  probabilisticSchema,
  z.strictObject({
    type: z.literal('link'),
    name: z.string().regex(/^[a-z][a-z0-9_]*$/),
    description: z.string().optional(),
    confidence: z.number().min(0).max(1).default(1),
  }),
  z.strictObject({
    type: z.literal('match'),
    name: z.string().regex(/^[a-z][a-z0-9_]*$/),
    description: z.string().optional(),
    confidence: z.number().min(0).max(1).default(1),
    conditions: z.array(conditionSchema).min(1),
    /** Keys that group candidate pairs; by default the rule's exact, required conditions. */
    block: z.array(blockSchema).min(1).optional(),
    /** Blocks larger than this are not compared (the key is too common to trust, or too costly). */
    maxBlockSize: z.number().int().min(2).optional(),
    enabled: z.boolean().default(true),
  }),
]);

const recordRef = z.string().regex(/^[a-z][a-z0-9_]*:.+$/, 'source:key');

/** An override's record reference, `source:key`, split at its first colon (a key may hold colons). */
export function splitRecordRef(ref: string): { source: string; key: string } {
  const colon = ref.indexOf(':');
  return { source: ref.slice(0, colon), key: ref.slice(colon + 1) };
}

export const rulesSchema = z.strictObject({
  $comment: z.string().optional(),
  thresholds: z.strictObject({ high: z.number(), medium: z.number(), low: z.number() }).default(DEFAULT_THRESHOLDS),
  similarity: z.enum(['jaroWinkler', 'levenshtein']).default('jaroWinkler'),
  deduplicate: z.array(z.string()).default([]),
  maxBlockSize: z.number().int().min(2).default(1000),
  rules: z.array(z.preprocess((r) => (r && typeof r === 'object' && !('type' in r) ? { ...r, type: 'match' } : r), ruleSchema)).min(1),
  overrides: z.strictObject({
    alwaysMatch: z.array(z.tuple([recordRef, recordRef])).default([]),
    neverMatch: z.array(z.tuple([recordRef, recordRef])).default([]),
  }).default({ alwaysMatch: [], neverMatch: [] }),
  merge: z.strictObject({
    /** Most complete or accurate source first; sources not named come after, in name order. */
    sourcePriority: z.array(z.string()).default(['contacts', 'loyalty']),
    /** `priority` (by source order) or `mostRecent` (the record created or updated last). */
    strategy: z.enum(['priority', 'mostRecent']).default('priority'),
    attributes: z.record(z.string(), z.strictObject({
      strategy: z.enum(['priority', 'mostRecent']).optional(),
      sourcePriority: z.array(z.string()).optional(),
    })).default({}),
  }).default({ sourcePriority: ['contacts', 'loyalty'], strategy: 'priority', attributes: {} }),
}).superRefine((cfg, ctx) => {
  const names = new Set<string>();
  cfg.rules.forEach((rule, i) => {
    if (names.has(rule.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `rule name "${rule.name}" is used twice` });
    names.add(rule.name);
    if (rule.type === 'probabilistic') checkProbabilistic(rule, ['rules', i], ctx);
    if (rule.type === 'match' && !rule.block && !rule.conditions.some((c) => c.precision === 'exact' && c.ifMissing === 'fail')) {
      ctx.addIssue({ code: 'custom', path: ['rules', i], message: `rule "${rule.name}" has no exact, required condition to block on: add one or a "block" key` });
    }
  });
});

type ProbabilisticInput = z.infer<typeof probabilisticSchema>;

/** What the schema alone cannot say about a probabilistic rule. */
function checkProbabilistic(rule: ProbabilisticInput, at: Array<string | number>, ctx: z.RefinementCtx): void {
  const names = new Set<string>();
  rule.comparisons.forEach((c, k) => {
    const name = c.name ?? c.attribute;
    if (names.has(name)) ctx.addIssue({ code: 'custom', path: [...at, 'comparisons', k, 'name'], message: `comparison "${name}" is named twice (give one a "name")` });
    names.add(name);
    if (c.termFrequency && c.levels[0].kind !== 'exact') ctx.addIssue({ code: 'custom', path: [...at, 'comparisons', k, 'termFrequency'], message: `comparison "${name}": termFrequency adjusts the exact level, so the first level must be { "kind": "exact" }` });
    c.levels.forEach((level, l) => {
      if (l > 0 && level.kind === 'exact') ctx.addIssue({ code: 'custom', path: [...at, 'comparisons', k, 'levels', l], message: `comparison "${name}": "exact" can only be the first level` });
    });
    // EM learns a comparison's m only from pairs that were not blocked on its attribute.
    if (rule.blocking.every((keys) => keys.some((b) => b.attribute === c.attribute))) {
      ctx.addIssue({ code: 'custom', path: [...at, 'comparisons', k], message: `comparison "${name}": every blocking rule uses ${c.attribute}, so its m probabilities cannot be estimated; add a blocking rule on other attributes` });
    }
  });
  if (rule.model) {
    const saved = rule.model.comparisons;
    const same = saved.length === rule.comparisons.length && saved.every((s, k) => s.name === (rule.comparisons[k].name ?? rule.comparisons[k].attribute) && s.levels.length === rule.comparisons[k].levels.length + 1);
    if (!same) ctx.addIssue({ code: 'custom', path: [...at, 'model'], message: 'the saved model does not fit the comparisons (same names, in order, each with its levels plus "else")' });
  }
}

export type RulesConfig = z.infer<typeof rulesSchema>;
export type ProbabilisticRule = Extract<RulesConfig['rules'][number], { type: 'probabilistic' }>;
export type Comparison = ProbabilisticRule['comparisons'][number];
export type ComparisonLevel = Comparison['levels'][number];
export type BlockKey = ProbabilisticRule['blocking'][number][number];
export type MatchRule = Extract<RulesConfig['rules'][number], { type: 'match' }>;
export type LinkRule = Extract<RulesConfig['rules'][number], { type: 'link' }>;
export type Condition = MatchRule['conditions'][number];

export class RulesError extends Error {
  override name = 'RulesError';
}

/** The normalised value a condition or block reads: one per attribute + normalisation set. */
export function keyId(attribute: string, steps: readonly Normalization[]): string {
  const ordered = NORMALIZATIONS.filter((n) => steps.includes(n));
  return ordered.length ? `${attribute}|${ordered.join(',')}` : attribute;
}

export interface CompiledRules {
  config: RulesConfig;
  /** Every normalised value the rules read, by key id. */
  keys: Array<{ id: string; attribute: string; normalize: Normalization[] }>;
  /** Changes when anything that decides the normalised values changes: the map phase then redoes every record. */
  keysSignature: string;
  /** Changes when anything in the rules changes. */
  hash: string;
}

export async function compileRules(json: unknown, where = 'match rules'): Promise<CompiledRules> {
  const parsed = rulesSchema.safeParse(json);
  if (!parsed.success) {
    throw new RulesError(`${where}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  await loadNormalizers();
  const config = parsed.data;
  const keys = new Map<string, { id: string; attribute: string; normalize: Normalization[] }>();
  const add = (attribute: string, normalize: Normalization[]) => {
    const id = keyId(attribute, normalize);
    if (!keys.has(id)) keys.set(id, { id, attribute, normalize: NORMALIZATIONS.filter((n) => normalize.includes(n)) });
  };
  for (const rule of config.rules) {
    if (rule.type === 'probabilistic') {
      for (const c of rule.comparisons) {
        add(c.attribute, c.normalize);
        for (const level of c.levels) if (level.kind === 'swapped') add(level.with, c.normalize);
      }
      for (const b of rule.blocking.flat()) add(b.attribute, b.normalize);
    }
    if (rule.type !== 'match') continue;
    for (const c of rule.conditions) add(c.attribute, c.normalize);
    for (const b of rule.block ?? []) add(b.attribute, b.normalize);
  }
  const list = [...keys.values()].sort((a, b) => a.id.localeCompare(b.id));
  const keysSignature = crypto.createHash('sha256').update(`v1:${JSON.stringify(list)}`).digest('hex').slice(0, 16);
  const hash = crypto.createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
  return { config, keys: list, keysSignature, hash };
}

/**
 * The extra columns the rules name that no person mapping keeps: almost always a typo, which
 * would otherwise make the rule silently match nothing.
 */
export function unknownExtraColumns(config: RulesConfig, mappings: Iterable<SourceMapping>): Array<{ rule: string; column: string }> {
  const kept = new Set<string>();
  for (const m of mappings) if (m.kind === 'person') for (const column of Object.keys(m.extra)) kept.add(column);
  const out: Array<{ rule: string; column: string }> = [];
  for (const rule of config.rules) {
    if (rule.type === 'link' || !rule.enabled) continue;
    const used = rule.type === 'match' ? [...rule.conditions, ...(rule.block ?? [])]
      : [...rule.comparisons, ...rule.blocking.flat(), ...rule.comparisons.flatMap((c) => c.levels.flatMap((l) => (l.kind === 'swapped' ? [{ attribute: l.with }] : [])))];
    for (const { attribute } of used) {
      const column = extraColumnOf(attribute);
      if (column !== null && !kept.has(column) && !out.some((o) => o.rule === rule.name && o.column === column)) out.push({ rule: rule.name, column });
    }
  }
  return out;
}

export function thresholdOf(config: RulesConfig, condition: Condition): number {
  if (condition.threshold !== undefined) return condition.threshold;
  return condition.precision === 'exact' ? 1 : config.thresholds[condition.precision!];
}

/**
 * Probabilistic (Fellegi–Sunter) match rules, in memory: EM finds the m probabilities that made a
 * set of comparison patterns; on a small synthetic customer base the estimated weights separate
 * duplicates from namesakes; an explanation adds up to the pair's weight; the same seed gives the
 * same weights and links; saved weights are reused as they are; and a rules file that cannot work
 * is refused saying why.
 */
import assert from 'node:assert/strict';
import { expectationMaximisation, jaroWinkler, levelOf, seededRandom, type EmPattern } from '../../../domain/customers/fellegiSunter';
import { Matcher, matchAll, recordKeys, stepNames, type MatchRecord } from '../../../domain/customers/matcher';
import { RulesError, compileRules, type CompiledRules } from '../../../domain/customers/rules';

const NAME = ['unicode', 'case', 'punctuation', 'whitespace'];
const FIRST = ['james', 'mary', 'john', 'patricia', 'robert', 'jennifer', 'michael', 'linda', 'william', 'elizabeth', 'david', 'barbara', 'richard', 'susan', 'joseph', 'jessica', 'thomas', 'sarah', 'charles', 'karen', 'olivia', 'liam', 'noah', 'emma', 'ava', 'isla'];
const LAST = ['smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez', 'hernandez', 'lopez', 'gonzalez', 'wilson', 'anderson', 'thomas', 'taylor', 'moore', 'jackson', 'martin', 'lee', 'perez', 'thompson', 'white', 'harris', 'sanchez', 'clark', 'ramirez', 'lewis', 'robinson', 'walker', 'young', 'allen', 'king', 'wright', 'scott', 'torres', 'nguyen', 'hill', 'flores'];

function probabilisticRules(over: Record<string, unknown> = {}, top: Record<string, unknown> = {}): unknown {
  return {
    deduplicate: ['crm'],
    rules: [{
      type: 'probabilistic',
      name: 'fs',
      comparisons: [
        { attribute: 'firstName', normalize: NAME, termFrequency: true, levels: [{ kind: 'exact' }, { kind: 'jaroWinkler', min: 0.9 }] },
        { attribute: 'lastName', normalize: NAME, termFrequency: true, levels: [{ kind: 'exact' }, { kind: 'jaroWinkler', min: 0.9 }] },
        { attribute: 'dateOfBirth', levels: [{ kind: 'exact' }, { kind: 'dateSwap' }, { kind: 'levenshtein', max: 1 }] },
        { attribute: 'postalCode', normalize: ['digits'], levels: [{ kind: 'exact' }, { kind: 'levenshtein', max: 1 }] },
      ],
      blocking: [[{ attribute: 'dateOfBirth' }], [{ attribute: 'postalCode', normalize: ['digits'] }], [{ attribute: 'lastName', normalize: NAME }]],
      sample: { pairs: 20_000, seed: 7 },
      ...over,
    }],
    ...top,
  };
}

type Values = { firstName: string | null; lastName: string | null; dateOfBirth: string | null; postalCode: string | null };

/** A typo: one letter replaced, or two swapped. */
function typo(text: string, random: () => number): string {
  const at = 1 + Math.floor(random() * (text.length - 2));
  if (random() < 0.5) return `${text.slice(0, at)}${'xqz'[Math.floor(random() * 3)]}${text.slice(at + 1)}`;
  return `${text.slice(0, at)}${text[at + 1]}${text[at]}${text.slice(at + 2)}`;
}

/**
 * 400 people, 150 of them entered a second time with one or two corruptions (a typo in a name,
 * a mistyped digit in the postcode, day and month swapped, a value missing); truth by person.
 */
function syntheticBase(): { people: Values[]; person: number[] } {
  const random = seededRandom(2026);
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)];
  const pad = (n: number) => String(n).padStart(2, '0');
  const originals: Values[] = [];
  for (let p = 0; p < 400; p++) {
    originals.push({
      firstName: pick(FIRST), lastName: pick(LAST),
      dateOfBirth: `${1940 + Math.floor(random() * 60)}-${pad(1 + Math.floor(random() * 12))}-${pad(1 + Math.floor(random() * 28))}`,
      postalCode: String(2000 + Math.floor(random() * 60)),
    });
  }
  const people = [...originals];
  const person = originals.map((_, p) => p);
  for (let p = 0; p < 150; p++) {
    const copy = { ...originals[p] };
    for (let n = 0; n < 1 + Math.floor(random() * 2); n++) {
      const what = Math.floor(random() * 5);
      if (what === 0 && copy.firstName) copy.firstName = typo(copy.firstName, random);
      if (what === 1 && copy.lastName) copy.lastName = typo(copy.lastName, random);
      if (what === 2 && copy.postalCode) copy.postalCode = `${copy.postalCode.slice(0, 3)}${(Number(copy.postalCode[3]) + 1) % 10}`;
      if (what === 3 && copy.dateOfBirth) {
        const [y, m, d] = copy.dateOfBirth.split('-');
        if (Number(d) <= 12 && d !== m) copy.dateOfBirth = `${y}-${d}-${m}`;
        else copy.dateOfBirth = null;
      }
      if (what === 4) copy.postalCode = null;
    }
    people.push(copy);
    person.push(p);
  }
  return { people, person };
}

function recordsOf(rules: CompiledRules, people: Values[]): MatchRecord[] {
  return people.map((values, i) => ({ id: i + 1, source: 'crm', sourceKey: `k${i + 1}`, keys: recordKeys(values, rules), links: {} }));
}

/** Pairwise precision and recall of the links' groups against the truth. */
function grade(links: Array<{ a: number; b: number }>, person: number[]): { precision: number; recall: number } {
  const parent = person.map((_, i) => i);
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x])));
  for (const l of links) parent[find(l.a - 1)] = find(l.b - 1);
  let predicted = 0;
  let truePairs = 0;
  let correct = 0;
  for (let i = 0; i < person.length; i++) {
    for (let j = i + 1; j < person.length; j++) {
      const same = find(i) === find(j);
      if (same) predicted++;
      if (person[i] === person[j]) truePairs++;
      if (same && person[i] === person[j]) correct++;
    }
  }
  return { precision: correct / predicted, recall: correct / truePairs };
}

async function runModel(json: unknown, people: Values[]) {
  const rules = await compileRules(json);
  const result = await matchAll(recordsOf(rules, people), rules);
  const step = result.stats.find((s) => s.model);
  assert.ok(step?.model, 'the probabilistic step returns its weights');
  return { rules, links: result.links, model: step.model };
}

describe('probabilistic match rules (Fellegi–Sunter)', function () {
  this.timeout(60_000);

  it('EM recovers the m probabilities and the share of matches that made the patterns', function () {
    // Two comparisons of three levels (exact, close, else); 20 % of the pairs are matches.
    const m = [[0.8, 0.15, 0.05], [0.7, 0.2, 0.1]];
    const u = [[0.01, 0.04, 0.95], [0.02, 0.08, 0.9]];
    const lambda = 0.2;
    const patterns: EmPattern[] = [];
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        const count = 100_000 * (lambda * m[0][a] * m[1][b] + (1 - lambda) * u[0][a] * u[1][b]);
        patterns.push({ levels: [a, b], count });
      }
    }
    // A comparison missing on some pairs weighs nothing and does not disturb the estimate.
    patterns.push({ levels: [0, -1], count: 500 * lambda * m[0][0] + 500 * (1 - lambda) * u[0][0] });
    const start = [[0.9, 0.05, 0.05], [0.9, 0.05, 0.05]];
    const result = expectationMaximisation(patterns, u, start, [true, true], { maxIterations: 200, tolerance: 1e-7 });
    assert.ok(result.converged, `converged within ${result.iterations} iterations`);
    assert.ok(Math.abs(result.lambda - lambda) < 0.01, `λ ${result.lambda}`);
    for (let k = 0; k < 2; k++) for (let l = 0; l < 3; l++) assert.ok(Math.abs(result.m[k][l] - m[k][l]) < 0.02, `m[${k}][${l}] ${result.m[k][l]} ≠ ${m[k][l]}`);
  });

  it('separates duplicates from namesakes on a synthetic base without labels or a hand-set threshold', async function () {
    const { people, person } = syntheticBase();
    const { links, model } = await runModel(probabilisticRules(), people);
    const { precision, recall } = grade(links, person);
    assert.ok(precision >= 0.98, `precision ${precision}`);
    assert.ok(recall >= 0.95, `recall ${recall}`);
    // The weights say what a person would: an exact birth date is strong evidence, a different one is evidence against.
    const dob = model.comparisons.find((c) => c.name === 'dateOfBirth')!;
    assert.ok(dob.levels[0].m / dob.levels[0].u > 100, 'an exact birth date weighs for a match');
    assert.ok(dob.levels[3].m < dob.levels[3].u, 'a different birth date weighs against');
    assert.ok(model.training!.sessions.every((s) => s.iterations < 50), 'every EM session converged');
    // λ, the chance two random records are one person, is near the truth: 150 duplicate pairs among 550 × 549 / 2.
    const truth = 150 / ((550 * 549) / 2);
    assert.ok(Math.abs(model.lambda - truth) / truth < 0.3, `λ ${model.lambda}, truly ${truth}`);
    assert.equal(JSON.parse(JSON.stringify(model)).comparisons.length, 4, 'the weights are plain JSON');
  });

  it('explains a pair: the prior plus each comparison weight is the match weight, and the link carries its probability', async function () {
    const { people } = syntheticBase();
    const rules = await compileRules(probabilisticRules());
    const records = recordsOf(rules, people);
    const matcher = new Matcher(records, rules);
    const links = [];
    for (let step = 0; step < stepNames(rules.config).length; step++) links.push(...(await matcher.runStep(step)).links);
    const link = links[0];
    const explanation = matcher.explain(link.a, link.b);
    const sum = explanation.prior + explanation.comparisons.reduce((s, c) => s + c.weight, 0);
    assert.ok(Math.abs(sum - explanation.matchWeight) < 1e-9);
    assert.ok(explanation.linked);
    assert.equal(Math.round(explanation.matchProbability * 1000) / 1000, link.confidence);
    assert.deepEqual(explanation.comparisons.map((c) => c.comparison), ['firstName', 'lastName', 'dateOfBirth', 'postalCode']);
    // A missing value is in no level and weighs nothing.
    const withMissing = people.findIndex((p) => p.postalCode === null);
    const other = matcher.explain(withMissing + 1, 1);
    const postal = other.comparisons.find((c) => c.comparison === 'postalCode')!;
    assert.equal(postal.level, null);
    assert.equal(postal.weight, 0);
    // Two strangers: a negative weight, not linked.
    const strangers = matcher.explain(1, 2);
    assert.ok(strangers.matchWeight < strangers.threshold && !strangers.linked);
  });

  it('is deterministic: the same seed gives the same weights and links; saved weights are applied as they are', async function () {
    const { people } = syntheticBase();
    const first = await runModel(probabilisticRules(), people);
    const second = await runModel(probabilisticRules(), people);
    assert.deepEqual(second.model, first.model);
    assert.deepEqual(second.links, first.links);
    const reseeded = await runModel(probabilisticRules({ sample: { pairs: 20_000, seed: 8 } }), people);
    assert.notDeepEqual(reseeded.model.comparisons, first.model.comparisons, 'another seed samples other pairs');
    const saved = await runModel(probabilisticRules({ model: first.model }), people);
    assert.deepEqual(saved.links, first.links);
    assert.equal(saved.model.training, undefined, 'nothing was estimated');
    assert.deepEqual(saved.model.comparisons, first.model.comparisons);
  });

  it('copes with too few records to learn from: finite weights, no links', async function () {
    for (const people of [[], [{ firstName: 'ann', lastName: 'lee', dateOfBirth: null, postalCode: null }], syntheticBase().people.slice(0, 3)]) {
      const { links, model } = await runModel(probabilisticRules(), people);
      assert.equal(links.length, 0);
      assert.ok(Number.isFinite(model.lambda) && model.lambda > 0);
      for (const c of model.comparisons) for (const l of c.levels) assert.ok(Number.isFinite(Math.log2(l.m / l.u)), `${c.name} ${l.label}`);
    }
  });

  it('grades levels: date tolerances, edit distance, swapped names, Jaro-Winkler', function () {
    const dates = [{ kind: 'exact' }, { kind: 'dateSwap' }, { kind: 'dateYears', max: 1 }, { kind: 'dateDays', max: 3 }, { kind: 'levenshtein', max: 1 }] as const;
    const level = (a: string, b: string) => levelOf(dates as never, a, b);
    assert.equal(level('1980-03-07', '1980-03-07'), 0);
    assert.equal(level('1980-03-07', '1980-07-03'), 1);
    assert.equal(level('1980-03-07', '1981-03-07'), 2);
    assert.equal(level('1980-03-07', '1980-03-09'), 3);
    assert.equal(level('1980-03-07', '1980-08-07'), 4);
    assert.equal(level('1980-03-07', '1990-12-25'), 5, 'else');
    const names = [{ kind: 'exact' }, { kind: 'swapped', with: 'lastName', min: 1 }] as const;
    assert.equal(levelOf(names as never, 'ruby', 'vincent', 'vincent', 'ruby'), 1, 'first and last names swapped');
    assert.equal(levelOf(names as never, 'ruby', 'vincent', 'smith', 'ruby'), 2, 'one way only is not a swap');
    assert.equal(jaroWinkler('martha', 'marhta').toFixed(4), '0.9611');
    assert.equal(jaroWinkler('dwayne', 'duane').toFixed(4), '0.8400');
  });

  describe('rules file validation', function () {
    async function refused(json: unknown, message: RegExp): Promise<void> {
      await assert.rejects(compileRules(json), (error: unknown) => error instanceof RulesError && message.test(error.message));
    }

    it('refuses a comparison every blocking rule uses (its m could not be estimated)', async function () {
      await refused(probabilisticRules({ blocking: [[{ attribute: 'dateOfBirth' }]] }), /rules\.0\.comparisons\.2: comparison "dateOfBirth": every blocking rule uses dateOfBirth/);
    });

    it('refuses term frequencies without an exact first level, "exact" after the first level, and a name used twice', async function () {
      const rule = probabilisticRules() as { rules: Array<{ comparisons: Array<Record<string, unknown>> }> };
      const comparisons = rule.rules[0].comparisons;
      await refused(probabilisticRules({ comparisons: [{ ...comparisons[0], levels: [{ kind: 'jaroWinkler', min: 0.9 }] }, ...comparisons.slice(1)] }), /termFrequency adjusts the exact level/);
      await refused(probabilisticRules({ comparisons: [{ ...comparisons[0], levels: [{ kind: 'jaroWinkler', min: 0.9 }, { kind: 'exact' }], termFrequency: false }, ...comparisons.slice(1)] }), /"exact" can only be the first level/);
      await refused(probabilisticRules({ comparisons: [...comparisons, comparisons[0]] }), /comparison "firstName" is named twice/);
    });

    it('refuses an unknown level, a bad threshold, no blocking and a saved model that does not fit', async function () {
      const rule = probabilisticRules() as { rules: Array<{ comparisons: Array<Record<string, unknown>> }> };
      const comparisons = rule.rules[0].comparisons;
      await refused(probabilisticRules({ comparisons: [{ ...comparisons[0], levels: [{ kind: 'soundex' }] }, ...comparisons.slice(1)] }), /a level is/);
      await refused(probabilisticRules({ threshold: { matchProbability: 1.5 } }), /threshold/);
      await refused(probabilisticRules({ blocking: [] }), /blocking/);
      await refused(probabilisticRules({ model: { lambda: 0.001, comparisons: [{ name: 'firstName', levels: [{ label: 'exact', m: 0.9, u: 0.01 }, { label: 'else', m: 0.1, u: 0.99 }] }] } }), /the saved model does not fit/);
    });
  });
});

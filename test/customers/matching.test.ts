/**
 * The match/merge engine on hand-made records: normalisations, each precision level, blocking,
 * deduplication inside a source, overrides, merge by source priority and stable CustomerIds.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadMappings, loadRulesFile } from '../../config/customers';
import { assignCustomers } from '../../domain/customers/clusters';
import { Matcher, blockKey, matchAll, recordKeys, type MatchRecord } from '../../domain/customers/matcher';
import { loadNormalizers, normalize } from '../../domain/customers/normalize';
import { mergeProfile, type MemberRecord } from '../../domain/customers/profile';
import { RulesError, compileRules, keyPrefix, type CompiledRules } from '../../domain/customers/rules';

const NAME = ['unicode', 'case', 'punctuation', 'whitespace', 'nameOrder'] as const;

type Person = Partial<Record<'firstName' | 'lastName' | 'fullName' | 'email' | 'phone' | 'dateOfBirth' | 'postalCode', string>>;

function records(rules: CompiledRules, people: Array<[string, string, Person, Record<string, string>?]>): MatchRecord[] {
  return people.map(([source, key, values, links], i) => ({ id: i + 1, source, sourceKey: key, keys: recordKeys(values, rules), links: links ?? {} }));
}

async function oneRule(condition: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<CompiledRules> {
  return compileRules({
    deduplicate: ['contacts'],
    rules: [{ name: 'probe', conditions: [{ attribute: 'dateOfBirth', precision: 'exact' }, condition] }],
    ...extra,
  });
}

/** Whether two records with the same birth date link under one condition on their names. */
async function links(condition: Record<string, unknown>, a: Person, b: Person): Promise<boolean> {
  const rules = await oneRule(condition);
  const result = await matchAll(records(rules, [['contacts', 'A', { dateOfBirth: '1980-01-01', ...a }], ['loyalty', 'B', { dateOfBirth: '1980-01-01', ...b }]]), rules);
  return result.links.length === 1;
}

describe('customer matching engine', function () {
  before(loadNormalizers);

  describe('normalisation', function () {
    it('folds accents, case, stray spaces and punctuation', function () {
      assert.equal(normalize('  Chloé   Müller ', ['unicode', 'case', 'whitespace']), 'chloe muller');
      assert.equal(normalize('ŁUKASZ Øre', ['unicode', 'case']), 'lukasz ore');
      assert.equal(normalize("O'Brien-Smith, Jr.", ['case', 'punctuation']), 'obrien smith jr');
    });

    it('reads "Moss Abbie", "Moss, Abbie" and "Abbie Moss" as the same name', function () {
      const a = normalize('Abbie Moss', [...NAME]);
      assert.equal(normalize('Moss Abbie', [...NAME]), a);
      assert.equal(normalize('Moss, Abbie', [...NAME]), a);
      assert.equal(normalize('  ABBIE  MOSS ', [...NAME]), a);
    });

    it('keeps the digits of a phone number, without extension or US country code', function () {
      for (const phone of ['983.566.0706x9509', '+1 (983) 566-0706 ext. 9509', '983-566-0706', '1-983-566-0706', '(983) 566 0706 #12']) {
        assert.equal(normalize(phone, ['phone']), '9835660706', phone);
      }
    });

    it('puts e-mail addresses in canonical form', function () {
      assert.equal(normalize(' JEFFREY.GIBSON@YAHOO.COM ', ['email']), 'jeffrey.gibson@yahoo.com');
      assert.equal(normalize('Abbie.Moss+shop@GoogleMail.com', ['email']), 'abbiemoss@gmail.com');
    });
  });

  describe('precision levels', function () {
    const name = (precision: string) => ({ attribute: 'name', normalize: [...NAME], precision });

    it('exact: equal after normalisation only (upper case, accents, name order)', async function () {
      assert.ok(await links(name('exact'), { firstName: 'CHLOÉ', lastName: 'TRAN' }, { fullName: 'Tran, Chloe' }));
      assert.ok(await links(name('exact'), { fullName: 'Moss Abbie' }, { firstName: 'Abbie', lastName: 'Moss' }));
      assert.equal(await links(name('exact'), { fullName: 'Steven Bzondi' }, { fullName: 'Steven Biondi' }), false);
    });

    it('high: a typo late in a word ("Jordan Hamilton" / "Jordan Hamliton"), not one near its start', async function () {
      assert.ok(await links(name('high'), { fullName: 'Jordan Hamilton' }, { fullName: 'Hamliton, Jordan' }));
      assert.equal(await links(name('high'), { fullName: 'Steven Bzondi' }, { fullName: 'Steven Biondi' }), false);
      assert.equal(await links(name('high'), { firstName: 'William', lastName: 'Gobble' }, { firstName: 'Wilaiam', lastName: 'Gobble' }), false);
    });

    it('medium: one wrong letter anywhere ("Steven Bzondi" / "Steven Biondi", "William" / "Wilaiam")', async function () {
      assert.ok(await links(name('medium'), { fullName: 'Steven Bzondi' }, { fullName: 'Biondi Steven' }));
      assert.ok(await links(name('medium'), { firstName: 'William', lastName: 'Gobble' }, { firstName: 'Wilaiam', lastName: 'Gobble' }));
      assert.equal(await links(name('medium'), { fullName: 'Jacqueline Green' }, { fullName: 'Jaclyne Green' }), false);
    });

    it('low: "Jacqueline" / "Jaclyne", but never "John Smith" / "Jane Smith", however alike the rest', async function () {
      assert.ok(await links(name('low'), { fullName: 'Jacqueline Green' }, { fullName: 'Jaclyne Green' }));
      assert.equal(await links(name('low'), { fullName: 'John Smith' }, { fullName: 'Jane Smith' }), false);
    });

    it('a threshold of its own, and Levenshtein instead of Jaro-Winkler', async function () {
      const lev = { attribute: 'name', normalize: [...NAME], threshold: 0.6, similarity: 'levenshtein' };
      assert.ok(await links(lev, { firstName: 'Jacqueline' }, { firstName: 'Jaclyne' }));
      assert.equal(await links({ ...lev, threshold: 0.61 }, { firstName: 'Jacqueline' }, { firstName: 'Jaclyne' }), false);
    });

    it('a missing value fails a condition unless it is marked ifMissing: pass', async function () {
      const phone = { attribute: 'phone', normalize: ['phone'], precision: 'exact' };
      assert.equal(await links(phone, { phone: '983.566.0706' }, {}), false);
      assert.ok(await links({ ...phone, ifMissing: 'pass' }, { phone: '983.566.0706' }, {}));
      assert.equal(await links({ ...phone, ifMissing: 'pass' }, { phone: '983.566.0706' }, { phone: '111.222.3333' }), false, 'a conflict still fails');
    });

    it('gives each link its rule and a confidence below the rule\'s for a fuzzy match', async function () {
      const rules = await compileRules({ rules: [{ name: 'email_name', confidence: 0.9, conditions: [
        { attribute: 'email', normalize: ['email'], precision: 'exact' }, { attribute: 'name', normalize: [...NAME], precision: 'medium' }] }] });
      const result = await matchAll(records(rules, [
        ['contacts', 'A', { email: 'w@example.com', firstName: 'William', lastName: 'Gobble' }],
        ['loyalty', 'B', { email: 'W@EXAMPLE.COM', firstName: 'Wilaiam', lastName: 'Gobble' }],
      ]), rules);
      assert.equal(result.links.length, 1);
      assert.equal(result.links[0].rule, 'email_name');
      assert.ok(result.links[0].confidence < 0.9 && result.links[0].confidence > 0.8, String(result.links[0].confidence));
    });
  });

  describe('blocking, deduplication and overrides', function () {
    it('compares only records that share a blocking key', async function () {
      const rules = await compileRules({ rules: [{ name: 'email', conditions: [{ attribute: 'email', normalize: ['email'], precision: 'exact' }] }] });
      const people: Array<[string, string, Person]> = [];
      for (let i = 0; i < 3000; i++) people.push([i % 2 ? 'contacts' : 'loyalty', `K${i}`, { email: `p${Math.floor(i / 2)}@example.com` }]);
      const result = await matchAll(records(rules, people), rules);
      assert.equal(result.links.length, 1500);
      assert.equal(result.stats[1].comparisons, 1500, 'one comparison per shared address, not 3000²/2');
    });

    it('matches duplicates inside a source only when the source is deduplicated', async function () {
      const people: Array<[string, string, Person]> = [
        ['contacts', 'C1', { email: 'madison.obrien@hotmail.com', fullName: 'Madison OBrien' }],
        ['contacts', 'C2', { email: 'MADISON.OBRIEN@HOTMAIL.COM', fullName: 'Madison OBrien' }],
      ];
      const rule = { name: 'email', conditions: [{ attribute: 'email', normalize: ['email'], precision: 'exact' }] };
      const off = await compileRules({ rules: [rule] });
      assert.equal((await matchAll(records(off, people), off)).links.length, 0);
      const on = await compileRules({ rules: [rule], deduplicate: ['contacts'] });
      assert.equal((await matchAll(records(on, people), on)).links.length, 1);
    });

    it('follows source links, honours always-match and never lets a never-match pair meet, even through others', async function () {
      const rules = await compileRules({
        deduplicate: ['contacts', 'loyalty'],
        rules: [{ type: 'link', name: 'source_link' }, { name: 'phone', conditions: [{ attribute: 'phone', normalize: ['phone'], precision: 'exact' }] }],
        overrides: { alwaysMatch: [['contacts:C9', 'loyalty:L9']], neverMatch: [['contacts:C1', 'contacts:C2']] },
      });
      const result = await matchAll(records(rules, [
        ['contacts', 'C1', { phone: '111' }],
        ['loyalty', 'L1', { phone: '111' }, { contacts: 'C1' }],
        ['contacts', 'C2', { phone: '111' }],
        ['contacts', 'C9', {}],
        ['loyalty', 'L9', {}],
      ]), rules);
      const pairs = result.links.map((l) => `${l.a}-${l.b}:${l.rule}`).sort();
      assert.deepEqual(pairs, ['1-2:source_link', '4-5:always_match']);
      assert.equal(result.stats[2].refusedByOverride, 2, 'C2 would have joined C1 directly and through L1');
    });
  });

  describe('block key prefixes', function () {
    it('cut the first N code points, as PostgreSQL\'s left() does, not N UTF-16 units', function () {
      assert.equal(keyPrefix('𝒜lice', 2), '𝒜l', 'the script A is one character of two UTF-16 units');
      assert.equal(keyPrefix('Alice', 2), 'Al');
      assert.equal(keyPrefix('𝒜', 2), '𝒜');
      assert.equal(blockKey([{ keyId: 'name', prefix: 2 }], { name: '𝒜lice' }), '𝒜l\u0001');
      assert.equal(blockKey([{ keyId: 'name', prefix: 2 }, { keyId: 'dateOfBirth' }], { name: '𝒜mma', dateOfBirth: '1980-01-01' }), '𝒜m\u00011980-01-01\u0001');
    });

    it('the matcher blocks on the same prefix: 𝒜lice and 𝒜mma share no block of two characters', async function () {
      const rules = await compileRules({
        deduplicate: ['contacts'],
        rules: [{ name: 'initials', block: [{ attribute: 'firstName', prefix: 2 }], conditions: [{ attribute: 'firstName', precision: 'low' }] }],
      });
      const result = await matchAll(records(rules, [
        ['contacts', 'A', { firstName: '𝒜lice' }],
        ['contacts', 'B', { firstName: '𝒜mma' }],
        ['contacts', 'C', { firstName: '𝒜lica' }],
      ]), rules);
      assert.equal(result.stats[1].largestBlock, 2, '𝒜l holds two records, 𝒜m one (a cut of two UTF-16 units would put all three in 𝒜)');
      assert.equal(result.stats[1].comparisons, 1, 'only 𝒜lice and 𝒜lica are compared');
      assert.deepEqual(result.links.map((l) => `${l.a}-${l.b}`), ['1-3']);
    });
  });

  describe('a probe focused on a few records', function () {
    async function probe(focus: number[] | null) {
      const rules = await compileRules({
        deduplicate: ['contacts'], maxBlockSize: 3,
        rules: [{ name: 'name_and_birth_date', conditions: [{ attribute: 'dateOfBirth', precision: 'exact' }, { attribute: 'name', normalize: [...NAME], precision: 'medium' }] }],
      });
      const people: Array<[string, string, Person]> = [
        ['contacts', 'alan', { fullName: 'Alan Hernandez', dateOfBirth: '1957-04-28' }],
        ['contacts', 'zed1', { fullName: 'Zed Zulu', dateOfBirth: '1957-04-28' }],
        ['contacts', 'zed2', { fullName: 'Zulu Zed', dateOfBirth: '1957-04-28' }],
        ['contacts', 'jeff1', { fullName: 'Jeffrey Gibson', dateOfBirth: '1968-04-14' }],
        ['contacts', 'jeff2', { fullName: 'Gibson Jeffrey', dateOfBirth: '1968-04-14' }],
        ...[1, 2, 3, 4].map((n): [string, string, Person] => ['contacts', `amy${n}`, { fullName: 'Amy Tran', dateOfBirth: '1970-01-01' }]),
        ['contacts', 'jane1', { fullName: 'Jane Doe', dateOfBirth: '1990-02-02' }],
        ['contacts', 'jane2', { fullName: 'Jane Doe', dateOfBirth: '1990-02-02' }],
      ];
      const matcher = new Matcher(records(rules, people), rules);
      if (focus) matcher.focusOn(focus);
      await matcher.runStep(0);
      const { links, stats } = await matcher.runStep(1);
      return { matcher, links: links.map((l) => `${l.a}-${l.b}`), stats };
    }

    it('compares only pairs with a focused record; blocks and oversized blocks as without focus', async function () {
      const all = await probe(null);
      assert.deepEqual(all.links, ['2-3', '4-5', '10-11'], 'without focus every pair of a block is compared');
      const focused = await probe([1, 4, 6]);
      // 1 is like neither Zed: 2-3 is not compared (a pair of unfocused records), nor is 10-11.
      assert.deepEqual(focused.links, ['4-5']);
      assert.equal(focused.stats.comparisons, 3, '1-2, 1-3 and 4-5');
      assert.equal(focused.stats.oversizedBlocks, 1, 'the four Amy Trans are too many to compare (maxBlockSize 3), focused or not');
      assert.deepEqual(focused.stats.oversizedKeys, all.stats.oversizedKeys);
      assert.equal(focused.stats.blocks, all.stats.blocks);
    });

    it('says which records are grouped with the focused ones', async function () {
      const { matcher } = await probe([1, 4, 6]);
      assert.deepEqual((await matcher.groupedWith([1, 4, 6])).sort((a, b) => a - b), [1, 4, 5, 6]);
      assert.deepEqual(await matcher.groupedWith([99]), [], 'a record the matcher does not hold has no group');
    });
  });

  describe('extra columns in rules', function () {
    const nationalIdRule = {
      deduplicate: ['contacts'],
      rules: [{
        name: 'national_id_and_name',
        conditions: [
          { attribute: 'extra:NationalId', normalize: ['digits'], precision: 'exact' },
          { attribute: 'name', normalize: [...NAME], precision: 'low' },
        ],
      }],
    };

    it('a rule may compare an extra column a mapping keeps (a national id), blocking on it like a standard attribute', async function () {
      const rules = await compileRules(nationalIdRule);
      assert.deepEqual(rules.keys.map((k) => k.id), ['extra:NationalId|digits', 'name|unicode,case,nameOrder,punctuation,whitespace']);
      const people: Array<[string, string, Person, Record<string, string | number | boolean>]> = [
        ['contacts', 'A', { firstName: 'Abbie', lastName: 'Moss', email: 'abbie@example.com' }, { NationalId: '123-45-6789' }],
        ['loyalty', 'B', { firstName: 'Abby', lastName: 'Moss', email: 'am@work.example' }, { NationalId: '123456789' }],
        ['loyalty', 'C', { firstName: 'Abbie', lastName: 'Moss' }, { NationalId: '987-65-4321' }],
        ['loyalty', 'D', { firstName: 'Abbie', lastName: 'Moss' }, {}],
        ['contacts', 'E', { firstName: 'Ken', lastName: 'Beraun' }, { NationalId: '123-45-6789' }],
      ];
      const recs = people.map(([source, key, values, extra], i) => ({ id: i + 1, source, sourceKey: key, keys: recordKeys(values, rules, extra), links: {} }));
      assert.equal(recs[0].keys['extra:NationalId|digits'], '123456789');
      assert.equal(recs[3].keys['extra:NationalId|digits'], null, 'a record without the column has no value for it');
      const result = await matchAll(recs, rules);
      assert.deepEqual(result.links.map((l) => [l.a, l.b, l.rule]), [[1, 2, 'national_id_and_name']], 'same id and a similar name: A and B only (not the namesakes C, D, nor E with the same id)');
      const step = result.stats.find((s) => s.rule === 'national_id_and_name')!;
      assert.deepEqual([step.blocks, step.largestBlock], [1, 3], 'one block: the records holding 123456789');
    });

    it('refuses a rules file naming an extra column no person mapping keeps, and a malformed one', async function () {
      const file = path.join(os.tmpdir(), `rules-extra-${process.pid}.json`);
      const write = (column: string) => fs.writeFileSync(file, JSON.stringify({ ...nationalIdRule, rules: [{ ...nationalIdRule.rules[0], conditions: [{ attribute: `extra:${column}`, precision: 'exact' }] }] }));
      try {
        write('Income');
        const rules = await loadRulesFile(file, loadMappings().values());
        assert.equal(rules.keys[0].id, 'extra:Income', 'the contacts mapping keeps Income');
        write('Incom');
        await assert.rejects(loadRulesFile(file, loadMappings().values()), (e: Error) => e instanceof RulesError && /rule "national_id_and_name" compares extra:Incom, a column no person mapping keeps/.test(e.message));
        await assert.rejects(compileRules({ rules: [{ name: 'bad', conditions: [{ attribute: 'nationalId', precision: 'exact' }] }] }), RulesError);
        await assert.rejects(compileRules({ rules: [{ name: 'bad', conditions: [{ attribute: 'extra:', precision: 'exact' }] }] }), RulesError);
      } finally {
        fs.rmSync(file, { force: true });
      }
    });
  });

  describe('merge and stable ids', function () {
    const member = (source: string, key: string, values: MemberRecord['values'], createdOn: string, points: number | null = null): MemberRecord =>
      ({ recordId: 0, source, sourceKey: key, values, rewardPoints: points, createdOn, updatedAt: '2026-01-01T00:00:00Z' });

    it('takes each attribute by source priority, eCommerce over loyalty, skipping empty values; "most recent" where configured', async function () {
      const rules = await compileRules({ rules: [{ type: 'link', name: 'l' }] });
      const members = [
        member('loyalty', 'L1', { firstName: 'Abbie', lastName: 'Moss', email: 'abbie@work.example', phone: '+1 983 566 0706', dateOfBirth: '1986-05-08' }, '2019-01-01', 293),
        member('contacts', 'C1', { firstName: 'Abbie', lastName: 'Moss', email: 'abbie@home.example', phone: null, dateOfBirth: '1986-05-08' }, '2017-03-14'),
        member('loyalty', 'L2', { firstName: 'Abbie', lastName: 'Moss', phone: '983.566.0706' }, '2020-06-01', 7),
      ];
      const profile = mergeProfile(members, rules.config.merge);
      assert.equal(profile.values.email, 'abbie@home.example');
      assert.equal(profile.values.phone, '983.566.0706', 'no eCommerce phone: the newest loyalty record gives it');
      assert.equal(profile.values.fullName, 'Abbie Moss');
      assert.equal(profile.rewardPoints, 300);
      assert.deepEqual(profile.sourceKeys, { contacts: ['C1'], loyalty: ['L1', 'L2'] });
      assert.deepEqual(profile.emails, ['abbie@home.example', 'abbie@work.example']);

      const recent = mergeProfile(members, { ...rules.config.merge, attributes: { email: { strategy: 'mostRecent' } } });
      assert.equal(recent.values.email, 'abbie@work.example');
    });

    it('keeps CustomerIds across re-runs; a join keeps the larger part\'s id and redirects the other; a split keeps it on the larger part', function () {
      const ids = [1, 2, 3, 4, 5];
      const link = (a: number, b: number) => ({ a, b, rule: 'r', confidence: 1 });
      let n = 0;
      const fresh = () => `new-${++n}`;
      const first = assignCustomers(ids, [link(1, 2), link(3, 4)], new Map(), fresh);
      const previous = new Map(first.assignments.map((a) => [a.recordId, a.customerId]));
      const idOf = (result: typeof first, record: number) => result.assignments.find((a) => a.recordId === record)!.customerId;

      const again = assignCustomers(ids, [link(1, 2), link(3, 4)], previous, fresh);
      assert.deepEqual(again.assignments, first.assignments, 'same records, same links: same ids');
      assert.equal(again.stats.created, 0);

      const joined = assignCustomers([...ids, 6], [link(1, 2), link(3, 4), link(2, 3), link(1, 6)], previous, fresh);
      assert.equal(idOf(joined, 4), idOf(first, 1), 'the joined group keeps an id it had');
      assert.deepEqual(joined.redirects, [{ oldId: idOf(first, 3), newId: idOf(first, 1) }]);
      assert.equal(idOf(joined, 5), idOf(first, 5), 'an untouched customer keeps its id');

      const split = assignCustomers(ids, [link(1, 2)], new Map([...previous, [3, idOf(first, 1)]]), fresh);
      assert.equal(idOf(split, 1), idOf(first, 1));
      assert.notEqual(idOf(split, 3), idOf(first, 1), 'the part that split off gets a new id');
      assert.equal(split.stats.split, 1);
    });
  });
});

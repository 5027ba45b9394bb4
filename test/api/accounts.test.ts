/**
 * Accounts and contacts through the real API (dev server, real worker, Postgres): CRUD, the B2B,
 * B2C and hybrid customer model, the hierarchy (never a cycle, also under concurrent changes), the
 * deal value rolled up over it, primary contacts, and qualification reusing what people created.
 */
import assert from 'node:assert/strict';
import { countRows } from '../helpers/db';
import { dealAt, qualifiedDeal } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { uniqueEmail } from '../helpers/fixtures';
import type { Reply } from '../helpers/http';
import type { Account, AccountDetail, Contact, ContactDetail, DealDetail, Page, Problem } from '../helpers/apiTypes';
import type { AccountRow, AuditRow } from '../helpers/rows';

const WRITTEN = ['accounts', 'contacts', 'audit_log'];

describe('accounts and contacts through the API (dev server, real worker, Postgres)', function () {
  let stack: TestStack;

  before(async function () {
    stack = await startStack({ server: 'dev' });
  });

  after(async function () {
    await stack?.teardown();
  });

  async function refusedWithoutWriting(call: () => Promise<Reply<unknown>>, status: number, code: string): Promise<Reply<Problem>> {
    const before = await countRows(stack.db, WRITTEN);
    const accounts = await stack.db('accounts').orderBy('id');
    const contacts = await stack.db('contacts').orderBy('id');
    const reply = await call();
    expectStatus(reply, status, code);
    assert.deepEqual(await countRows(stack.db, WRITTEN), before, 'a refused request writes nothing');
    assert.deepEqual(await stack.db('accounts').orderBy('id'), accounts);
    assert.deepEqual(await stack.db('contacts').orderBy('id'), contacts);
    return reply as Reply<Problem>;
  }

  let n = 0;
  const uniqueName = (base: string) => `${base} ${++n}-${Math.random().toString(36).slice(2, 7)}`;
  const newAccount = async (body: Record<string, unknown> = {}, as = stack.as.rep) => {
    const reply = await as.post<Account>('/accounts', { name: uniqueName('Northwind'), ...body });
    expectStatus(reply, 201);
    return reply.body;
  };
  const newContact = async (body: Record<string, unknown> = {}, as = stack.as.rep) => {
    const reply = await as.post<Contact>('/contacts', { firstName: 'Dana', lastName: 'Birk', email: uniqueEmail('dana'), ...body });
    expectStatus(reply, 201);
    return reply.body;
  };

  describe('accounts', function () {
    it('are created, read, listed, changed and deleted, each change audited with its author', async function () {
      const { rep } = stack.as;
      const name = uniqueName('Tailspin Toys');
      const created = await rep.post<Account>('/accounts', { name, accountType: 'partner', website: 'https://tailspin.example', phone: '555-0100', city: 'Seattle', state: 'Washington', country: 'USA' });
      expectStatus(created, 201);
      assert.deepEqual([created.body.accountType, created.body.ownerId, created.body.parentAccountId, created.body.city], ['partner', stack.users.rep.id, null, 'Seattle']);
      const listed = await rep.get<Page<Account>>(`/accounts?q=${encodeURIComponent(name.toUpperCase())}`);
      assert.deepEqual(listed.body.data.map((a) => a.id), [created.body.id], 'found by name, whatever the case');
      const changed = await rep.patch<AccountDetail>(`/accounts/${created.body.id}`, { phone: '555-0199', street: '1 Main St' });
      expectStatus(changed, 200);
      assert.deepEqual([changed.body.phone, changed.body.street, changed.body.city], ['555-0199', '1 Main St', 'Seattle']);
      expectStatus(await rep.del(`/accounts/${created.body.id}`), 204);
      expectStatus(await rep.get(`/accounts/${created.body.id}`), 404, 'account_not_found');
      const audit = await stack.db('audit_log').where({ entity_type: 'account', entity_id: created.body.id }).orderBy('id');
      assert.deepEqual(audit.map((a: AuditRow) => [a.action, a.actor_id, a.before !== null, a.after !== null]), [
        ['account.created', stack.users.rep.id, false, true], ['account.updated', stack.users.rep.id, true, true], ['account.deleted', stack.users.rep.id, true, false],
      ]);
    });

    it('refuses a second account with the same normalised name (account_exists, naming the first) and bad input (400 with the field)', async function () {
      const name = uniqueName('Fabrikam, Inc.');
      const first = await newAccount({ name });
      const again = await refusedWithoutWriting(() => stack.as.rep.post('/accounts', { name: `  ${name.toUpperCase().replace(',', '')} ` }), 409, 'account_exists');
      assert.equal(again.body.accountId, first.id);
      const badSite = await refusedWithoutWriting(() => stack.as.rep.post('/accounts', { name: uniqueName('X'), website: 'not a url' }), 400, 'validation_failed');
      assert.equal(badSite.body.field, 'website');
      const noParent = await refusedWithoutWriting(() => stack.as.rep.post('/accounts', { name: uniqueName('X'), parentAccountId: '00000000-0000-4000-8000-000000000000' }), 400, 'validation_failed');
      assert.equal(noParent.body.field, 'parentAccountId');
      await refusedWithoutWriting(() => stack.as.rep.post('/accounts', { name: uniqueName('X'), accountType: 'competitor' }), 400, 'validation_failed');
    });

    it('a parent chain never forms a cycle (409 account_hierarchy_cycle), not even when two changes race', async function () {
      const group = await newAccount();
      const east = await newAccount({ parentAccountId: group.id });
      const retail = await newAccount({ parentAccountId: east.id });
      const cycle = await refusedWithoutWriting(() => stack.as.rep.patch(`/accounts/${group.id}`, { parentAccountId: retail.id }), 409, 'account_hierarchy_cycle');
      assert.equal(cycle.body.field, 'parentAccountId');
      await refusedWithoutWriting(() => stack.as.rep.patch(`/accounts/${group.id}`, { parentAccountId: east.id }), 409, 'account_hierarchy_cycle');
      await refusedWithoutWriting(() => stack.as.rep.patch(`/accounts/${group.id}`, { parentAccountId: group.id }), 409, 'account_hierarchy_cycle');
      // Moving a branch elsewhere is fine; detaching it too.
      expectStatus(await stack.as.rep.patch(`/accounts/${retail.id}`, { parentAccountId: group.id }), 200);
      expectStatus(await stack.as.rep.patch(`/accounts/${retail.id}`, { parentAccountId: null }), 200);

      for (let round = 0; round < 5; round++) {
        const a = await newAccount();
        const b = await newAccount();
        const [ab, ba] = await Promise.all([
          stack.as.rep.patch(`/accounts/${a.id}`, { parentAccountId: b.id }),
          stack.as.rep.patch(`/accounts/${b.id}`, { parentAccountId: a.id }),
        ]);
        assert.deepEqual([ab.status, ba.status].sort(), [200, 409], 'exactly one of two racing changes wins');
        const rows = await stack.db('accounts').whereIn('id', [a.id, b.id]).select('id', 'parent_account_id');
        assert.equal(rows.filter((r: AccountRow) => r.parent_account_id).length, 1, 'no cycle was stored');
      }
    });

    it('shows its ancestors, children, contacts, open deals and the deal value rolled up over the hierarchy', async function () {
      const group = await newAccount({ name: uniqueName('Contoso Group') });
      const east = await newAccount({ name: uniqueName('Contoso East'), parentAccountId: group.id });
      const retail = await newAccount({ name: uniqueName('Contoso East Retail'), parentAccountId: east.id });
      // Qualification files each deal under the account with the lead's company name.
      const groupDeal = await qualifiedDeal(stack, { companyName: group.name, estimatedValueCents: 1_000_000 });
      const eastDeal = await qualifiedDeal(stack, { companyName: east.name, estimatedValueCents: 250_000 });
      const won = await dealAt(stack, 'close', 400_000, { companyName: retail.name });
      expectStatus(await stack.as.rep.post(`/deals/${won.dealId}/close`, { outcome: 'won', actualRevenueCents: 390_000 }), 200);
      const lost = await qualifiedDeal(stack, { companyName: retail.name, estimatedValueCents: 777_777 });
      expectStatus(await stack.as.rep.post(`/deals/${lost}/close`, { outcome: 'lost', reason: 'No budget' }), 200);
      // A person buying without naming the company (B2C style) who works there counts for it too: the hybrid model.
      const consumerDeal = await qualifiedDeal(stack, { companyName: null, estimatedValueCents: 50_000 });
      const consumer = (await stack.as.rep.get<DealDetail>(`/deals/${consumerDeal}`)).body.contactId;
      expectStatus(await stack.as.rep.patch(`/contacts/${consumer}`, { parentAccountId: east.id }), 200);

      const top = (await stack.as.rep.get<AccountDetail>(`/accounts/${group.id}`)).body;
      assert.deepEqual(top.ancestors, []);
      assert.deepEqual(top.children.map((c) => c.id), [east.id]);
      assert.equal(top.rollup.accountCount, 3);
      assert.deepEqual(top.rollup.own, { openDealCount: 1, openDealValueCents: 1_000_000, wonDealCount: 0, wonRevenueCents: 0 });
      assert.deepEqual(top.rollup.hierarchy, { openDealCount: 3, openDealValueCents: 1_300_000, wonDealCount: 1, wonRevenueCents: 390_000 });
      assert.deepEqual(top.openDeals.map((d) => [d.id, d.accountId]), [[groupDeal, group.id], [eastDeal, east.id], [consumerDeal, east.id]], 'most valuable first, each with its account');

      const middle = (await stack.as.rep.get<AccountDetail>(`/accounts/${east.id}`)).body;
      assert.deepEqual(middle.ancestors.map((a) => a.id), [group.id]);
      assert.ok(middle.contacts.some((c) => c.id === consumer), 'the person is among its contacts');
      assert.deepEqual(middle.rollup.hierarchy, { openDealCount: 2, openDealValueCents: 300_000, wonDealCount: 1, wonRevenueCents: 390_000 });
      const bottom = (await stack.as.rep.get<AccountDetail>(`/accounts/${retail.id}`)).body;
      assert.deepEqual(bottom.ancestors.map((a) => a.id), [east.id, group.id], 'nearest first');
      assert.equal(bottom.rollup.accountCount, 1);
    });

    it('has a primary contact of its own (or of no account); that contact cannot move elsewhere while primary', async function () {
      const account = await newAccount();
      const other = await newAccount();
      const member = await newContact({ parentAccountId: account.id });
      const stranger = await newContact({ parentAccountId: other.id });
      const refused = await refusedWithoutWriting(() => stack.as.rep.patch(`/accounts/${account.id}`, { primaryContactId: stranger.id }), 422, 'primary_contact_not_member');
      assert.equal(refused.body.field, 'primaryContactId');
      const set = await stack.as.rep.patch<AccountDetail>(`/accounts/${account.id}`, { primaryContactId: member.id });
      expectStatus(set, 200);
      assert.equal(set.body.primaryContact!.id, member.id);
      await refusedWithoutWriting(() => stack.as.rep.patch(`/contacts/${member.id}`, { parentAccountId: other.id }), 409, 'primary_contact_of_account');
      await refusedWithoutWriting(() => stack.as.rep.del(`/contacts/${member.id}`), 409, 'contact_in_use');
      const detail = (await stack.as.rep.get<ContactDetail>(`/contacts/${member.id}`)).body;
      assert.deepEqual([detail.parentAccount!.id, detail.primaryContactOf.map((a) => a.id)], [account.id, [account.id]]);
    });

    it('is deleted only when nothing refers to it (account_in_use, listing what does)', async function () {
      const parent = await newAccount();
      await newAccount({ parentAccountId: parent.id });
      await newContact({ parentAccountId: parent.id });
      const refused = await refusedWithoutWriting(() => stack.as.rep.del(`/accounts/${parent.id}`), 409, 'account_in_use');
      assert.deepEqual(refused.body.references, { childAccounts: 1, contacts: 1 });
    });

    it('only its owner, a manager or an admin changes it; only managers and admins give it to someone else', async function () {
      const account = await newAccount();
      await refusedWithoutWriting(() => stack.as.otherRep.patch(`/accounts/${account.id}`, { phone: '1' }), 403, 'not_owner');
      await refusedWithoutWriting(() => stack.as.rep.patch(`/accounts/${account.id}`, { ownerId: stack.users.otherRep.id }), 403, 'owner_reassign_forbidden');
      await refusedWithoutWriting(() => stack.as.rep.post('/accounts', { name: uniqueName('Y'), ownerId: stack.users.otherRep.id }), 403, 'owner_reassign_forbidden');
      await refusedWithoutWriting(() => stack.as.tech_consultant.post('/accounts', { name: uniqueName('Y') }), 403, 'forbidden');
      const moved = await stack.as.manager.patch<AccountDetail>(`/accounts/${account.id}`, { ownerId: stack.users.otherRep.id });
      expectStatus(moved, 200);
      assert.equal(moved.body.ownerId, stack.users.otherRep.id);
    });
  });

  describe('contacts', function () {
    it('are people on their own (B2C) or of an account (B2B); one email names one contact, whatever its case (contact_email_exists)', async function () {
      const account = await newAccount();
      const email = uniqueEmail('Kim.Abercrombie');
      const consumer = await newContact({ email, mobilePhone: '555-0101', parentAccountId: null });
      const employee = await newContact({ parentAccountId: account.id, businessPhone: '555-0102' });
      const duplicate = await refusedWithoutWriting(() => stack.as.rep.post('/contacts', { lastName: 'Abercrombie', email: email.toUpperCase() }), 409, 'contact_email_exists');
      assert.equal(duplicate.body.contactId, consumer.id);
      const standalone = (await stack.as.rep.get<Page<Contact>>(`/contacts?standalone=true&email=${encodeURIComponent(email)}`)).body.data;
      assert.deepEqual(standalone.map((c) => c.id), [consumer.id]);
      assert.deepEqual((await stack.as.rep.get<Page<Contact>>(`/contacts?accountId=${account.id}`)).body.data.map((c) => c.id), [employee.id]);
      await refusedWithoutWriting(() => stack.as.rep.post('/contacts', { firstName: 'No', email: uniqueEmail() }), 400, 'validation_failed');
      await refusedWithoutWriting(() => stack.as.rep.patch(`/contacts/${employee.id}`, { email: email.toUpperCase() }), 409, 'contact_email_exists');
      const changed = await stack.as.rep.patch<ContactDetail>(`/contacts/${employee.id}`, { lastName: 'Birk-Hansen', parentAccountId: null });
      expectStatus(changed, 200);
      assert.deepEqual([changed.body.lastName, changed.body.parentAccount], ['Birk-Hansen', null]);
      expectStatus(await stack.as.rep.del(`/contacts/${employee.id}`), 204);
    });

    it('qualification reuses the contact and the account people created (by email, by normalised name)', async function () {
      const account = await newAccount({ name: uniqueName('Wide World Importers') });
      const email = uniqueEmail('reuse');
      const contact = await newContact({ email, parentAccountId: account.id });
      const dealId = await qualifiedDeal(stack, { email: email.toUpperCase(), companyName: account.name.toLowerCase() });
      const deal = (await stack.as.rep.get<DealDetail>(`/deals/${dealId}`)).body;
      assert.deepEqual([deal.contactId, deal.accountId], [contact.id, account.id]);
      const detail = (await stack.as.rep.get<ContactDetail>(`/contacts/${contact.id}`)).body;
      assert.deepEqual(detail.deals.map((d) => d.id), [dealId]);
    });
  });
});

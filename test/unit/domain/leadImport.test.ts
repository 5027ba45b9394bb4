/**
 * How a lead file's header and rows are read: header names in any case and spelling, the required
 * columns, a field named twice, and the key a re-import recognises a lead by. Pure functions.
 */
import assert from 'node:assert/strict';
import { bindLeadHeader, emailKey, leadColumnOf, leadImportKey } from '../../../domain/leadImport';

describe('lead import columns and keys', function () {
  it('reads a header name whatever its case, spaces or punctuation, and its usual other names', function () {
    for (const name of ['firstName', 'first_name', 'First Name', 'FIRST-NAME', ' first name ']) assert.equal(leadColumnOf(name.trim()), 'firstName', name);
    assert.equal(leadColumnOf('Subject'), 'topic');
    assert.equal(leadColumnOf('Company'), 'companyName');
    assert.equal(leadColumnOf('Phone'), 'businessPhone');
    assert.equal(leadColumnOf('ZIP'), 'postalCode');
    assert.equal(leadColumnOf('External ID'), 'externalId');
    assert.equal(leadColumnOf('Owner'), 'ownerId');
    assert.equal(leadColumnOf('Favourite colour'), null);
  });

  it('binds each column to its field, lists the ignored ones, and refuses a header without topic, lastName and customerType', function () {
    const bound = bindLeadHeader(['Topic', 'Last Name', 'Customer Type', 'Notes']);
    assert.deepEqual(bound, { ok: true, columns: ['topic', 'lastName', 'customerType', null], ignored: ['Notes'] });
    const missing = bindLeadHeader(['Topic', 'Name', 'Email']);
    assert.equal(missing.ok, false);
    assert.match(!missing.ok ? missing.message : '', /lacks lastName, customerType/);
  });

  it('refuses a header that names one field twice', function () {
    const twice = bindLeadHeader(['topic', 'lastName', 'customerType', 'Phone', 'Business Phone']);
    assert.equal(twice.ok, false);
    assert.match(!twice.ok ? twice.message : '', /"Phone" and "Business Phone" both mean businessPhone/);
  });

  it('keys a lead by its external id, else its email (trimmed, lower case), else its content', function () {
    assert.deepEqual(leadImportKey({ externalId: ' CRM-7 ', email: 'a@b.example' }, () => 'h'), { key: 'external:CRM-7', by: 'externalId' });
    assert.deepEqual(leadImportKey({ externalId: '', email: 'Abbie@Example.COM' }, () => 'h'), { key: 'email:abbie@example.com', by: 'email' });
    assert.deepEqual(leadImportKey({ email: null }, () => 'h'), { key: 'content:h', by: 'content' });
    assert.equal(emailKey('  Abbie.Moss+fair@Example.com '), 'abbie.moss+fair@example.com', 'no canonical form: a +tag is kept');
  });
});

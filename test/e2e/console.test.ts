/**
 * The rep's console in a real browser (headless Chromium driven by playwright-core) against the
 * real API, worker, Temporal dev server and Postgres: a rep signs in, creates a lead, enrolls it,
 * qualifies it, builds a deal above $20,000.00, sees the gate refuse Close on the board; the
 * technical consultant records the Tech Check; the rep closes the deal won and sees the order.
 * Screenshots of the main pages are taken on the way; UPDATE_SCREENSHOTS=1 writes them to
 * docs/console/ (otherwise to a scratch folder, so a test run leaves the tree clean). A failing run
 * leaves what the browser showed in .data/test/console-failure.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';
import { PROJECT_ROOT, loadConfig } from '../../config';
import { ensureConsoleBuilt } from '../../scripts/lib/console';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../scripts/lib/chromium';
import { waitForUnification } from '../../api/unificationClient';
import { SAMPLE_DIR, importDir } from '../customers/helpers';
import { qualifiedDeal } from '../helpers/deals';
import { expectStatus, startStack, type TestStack } from '../helpers/stack';
import { createLead } from '../helpers/fixtures';
import { testEnv } from '../helpers/env';
import { testLog } from '../helpers/temporal';
import type { UnificationTicket } from '../helpers/apiTypes';

const FAILURE_SHOT = path.join(loadConfig().dataDir, 'test', 'console-failure.png');
const DESKTOP = { width: 1280, height: 860 };
const PHONE = { width: 390, height: 844 };

describe('the rep\'s console in a browser', function () {
  this.timeout(300_000);
  let stack: TestStack;
  let browser: Browser;
  let page: Page;
  let shots: string;
  const pageErrors: string[] = [];

  before(async function () {
    await ensureConsoleBuilt(testLog);
    [stack, browser] = await Promise.all([
      startStack({ server: 'dev' }),
      chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS }),
    ]);
    page = await browser.newPage({ viewport: DESKTOP, reducedMotion: 'reduce' });
    page.setDefaultTimeout(20_000);
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    shots = process.env.UPDATE_SCREENSHOTS ? path.join(PROJECT_ROOT, 'docs', 'console') : path.join(testEnv.dataDir, 'console-screenshots');
    fs.mkdirSync(shots, { recursive: true });
  });

  afterEach(async function () {
    // What the browser showed when a step failed, for the one reading the failure.
    if (this.currentTest?.state === 'failed' && page) {
      await page.screenshot({ path: FAILURE_SHOT, fullPage: true }).then(() => console.error(`    what the browser showed: ${FAILURE_SHOT}`), () => undefined);
    }
  });

  after(async function () {
    await browser?.close();
    await stack?.teardown();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  const heading = (name: string | RegExp) => page.getByRole('heading', { level: 1, name });

  async function signIn(token: string): Promise<void> {
    await page.goto(`${stack.url}/app/`);
    await page.evaluate('sessionStorage.clear()');
    await page.reload();
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }

  async function signOut(): Promise<void> {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    assert.equal(await page.evaluate<number>('sessionStorage.length'), 0, 'signing out forgets the token');
  }

  it('takes a lead to a won deal and its order, the gate refusing Close in place until the Tech Check', async function () {
    // Sign in: a wrong token is refused in place; the rep's lands on My work.
    await page.goto(`${stack.url}/app/`);
    await shot('sign-in');
    await page.getByLabel('API token').fill('sps_not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: /token/i }).waitFor();
    await signIn(stack.users.rep.token);
    await heading('My work').waitFor();
    assert.equal(await page.getByRole('link', { name: 'Audit log' }).count(), 0, 'a rep is not offered the audit log');

    // Create a lead.
    await page.getByRole('link', { name: 'Leads' }).click();
    await heading('Leads').waitFor();
    await page.getByRole('button', { name: 'New lead' }).click();
    await page.getByLabel('Topic').fill('Cameras for 8 warehouses');
    await page.getByLabel('First name').fill('Abbie');
    await page.getByLabel('Last name').fill('Moss');
    await page.getByLabel('E-mail').fill(`abbie.${Date.now()}@fabrikam.example`);
    await page.getByLabel('Company').fill('Fabrikam');
    await page.getByLabel('Estimated value (USD)').fill('30,000.00');
    await page.getByRole('button', { name: 'Create lead' }).click();
    await heading('Cameras for 8 warehouses').waitFor();

    // Enroll it: the sequence runs, its first step done.
    await page.getByRole('button', { name: 'Enroll in nurture' }).click();
    await page.getByText('Not enrolled.').waitFor({ state: 'detached' });
    await page.locator('.nurture .status-running').first().waitFor();
    await shot('lead');

    // Qualify: the deal, contact and account are made; open the deal.
    await page.getByRole('button', { name: 'Qualify', exact: true }).click();
    await page.getByRole('status').getByRole('link', { name: 'open the deal' }).click();
    const dealUrl = page.url();
    const dealId = dealUrl.split('/').pop()!;
    await page.getByRole('heading', { level: 2, name: 'Product lines' }).waitFor();
    const dealName = (await heading(/.+/).textContent())!;

    // A line above $20,000.00, a quote, activated; moved up to Tech Check.
    await page.getByLabel('Product', { exact: true }).selectOption({ index: 1 });
    await page.getByLabel('Quantity').fill('1');
    await page.getByLabel('Unit price (USD)').fill('25,000.00');
    await page.getByRole('button', { name: 'Add line' }).click();
    await page.locator('tfoot').getByText('$25,000.00').waitFor();
    await page.getByRole('button', { name: 'New quote' }).click();
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByRole('button', { name: 'Revise' }).waitFor();
    for (const stage of ['Develop', 'Propose', 'Tech Check']) {
      await page.getByRole('button', { name: `Move to ${stage}`, exact: true }).click();
      await page.locator('.stages li.current', { hasText: stage }).waitFor();
    }

    // The board: the deal in Tech Check; Close is refused on its card, with the rule's message, and nothing moves.
    await page.getByRole('link', { name: 'Pipeline' }).click();
    const column = page.getByRole('region', { name: /Tech Check/ });
    const card = column.locator(`[data-deal="${dealId}"]`);
    await card.waitFor();
    await card.getByLabel(`Move ${dealName} to`).selectOption('close');
    await card.getByRole('button', { name: 'Move' }).click();
    const refusal = card.getByRole('alert');
    await refusal.waitFor();
    assert.match((await refusal.textContent())!, /tech_check_required/);
    assert.match((await refusal.textContent())!, /Tech Check/i);
    await shot('pipeline-gate-refused');
    await page.reload();
    await column.locator(`[data-deal="${dealId}"]`).waitFor();
    assert.equal((await stack.db('deals').where({ id: dealId }).first('stage')).stage, 'tech_check', 'the refused move changed nothing');

    // The technical consultant records a passed Tech Check from the queue.
    await signOut();
    await signIn(stack.users.tech_consultant.token);
    await heading('Tech Checks').waitFor();
    const item = page.getByRole('listitem').filter({ has: page.getByRole('link', { name: dealName }) });
    await item.getByRole('button', { name: 'Record a check' }).click();
    await item.getByText(/Checks quote/).waitFor();
    await item.getByLabel('Passed').check();
    await item.getByLabel('Notes').fill('Site survey done; cabling fits the plan.');
    await shot('tech-check-form');
    await item.getByRole('button', { name: 'Record the Tech Check' }).click();
    await item.getByRole('button', { name: 'Record the Tech Check' }).waitFor({ state: 'detached' });

    // The rep moves the deal to Close, wins the quote, and sees the order.
    await signOut();
    await signIn(stack.users.rep.token);
    await heading('My work').waitFor();
    await page.goto(dealUrl);
    await page.getByText('Required, passed').waitFor();
    await page.getByRole('button', { name: 'Move to Close', exact: true }).click();
    await page.locator('.stages li.current', { hasText: 'Close' }).waitFor();
    await page.getByRole('button', { name: 'Win (create the order)' }).click();
    await page.getByRole('status').filter({ hasText: 'Order created' }).getByRole('link').click();
    await heading(/^Order /).waitFor();
    await page.getByText('$25,000.00').first().waitFor();
    await shot('order');
    const order = await stack.db('orders').where({ deal_id: dealId }).first('status');
    assert.ok(order, 'the order exists');
    assert.equal((await stack.db('deals').where({ id: dealId }).first('status')).status, 'won');
    await page.goto(dealUrl);
    await page.getByRole('heading', { level: 2, name: 'Tech Checks' }).waitFor();
    await page.getByText('Site survey done').waitFor();
    await shot('deal');

    // My work and the board at 1280 px and on a phone.
    await page.getByRole('link', { name: 'My work' }).click();
    await heading('My work').waitFor();
    await page.locator('.work-list, .empty').first().waitFor();
    await shot('my-work');
    await page.setViewportSize(PHONE);
    await page.goto(dealUrl);
    await page.getByText('Site survey done').waitFor();
    await shot('deal-phone');
    for (const where of ['deal', 'pipeline', 'my work']) {
      if (where === 'pipeline') await page.getByRole('link', { name: 'Pipeline' }).click();
      if (where === 'my work') await page.getByRole('link', { name: 'My work' }).click();
      const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      assert.ok(overflow <= 0, `the ${where} page is no wider than a phone (${overflow}px too wide)`);
    }
    await page.setViewportSize(DESKTOP);

    assert.deepEqual(pageErrors.filter((e) => !/status of 4\d\d/.test(e)), [], 'no script errors in the page');
  });

  it('offers a manager the audit log of a record', async function () {
    const [deal] = await stack.db('deals').select('id').limit(1);
    await signIn(stack.users.manager.token);
    await heading('My work').waitFor();
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByLabel('Record type').selectOption('deal');
    await page.getByLabel('Record id').fill(deal.id);
    await page.getByRole('button', { name: 'Show the trail' }).click();
    await page.getByRole('table').waitFor();
    assert.ok((await page.getByRole('row').count()) > 1, 'the deal has audit entries');
    await shot('audit');
  });

  it('lets a rep work the day: complete and reschedule activities, pause, resume and stop a sequence, find and disqualify a lead', async function () {
    const { rep } = stack.as;
    const topic = `Door sensors for ${Date.now()} sites`;
    const enrolled = await createLead(stack.db, stack.users.rep.id, { topic, companyName: 'Northwind' });
    expectStatus(await rep.post(`/leads/${enrolled.id}/nurture`), 202);
    const task = await rep.post('/activities', {
      type: 'task', regarding: { type: 'lead', id: enrolled.id }, subject: 'Send the site survey form', dueAt: new Date(Date.now() + 60_000).toISOString(),
    });
    expectStatus(task, 201);
    const other = await createLead(stack.db, stack.users.rep.id, { topic: `Alarm upgrade ${Date.now()}`, companyName: 'Tailspin' });

    await signIn(stack.users.rep.token);
    await heading('My work').waitFor();
    const activities = page.getByRole('region', { name: 'Activities' });
    const intro = activities.getByRole('listitem').filter({ hasText: 'Intro call' }).filter({ hasText: 'Northwind' });
    const survey = activities.getByRole('listitem').filter({ hasText: 'Send the site survey form' });
    await intro.waitFor();
    await survey.waitFor();

    // Complete one; move the other to tomorrow: both leave the day's list, and the records say so.
    await intro.getByRole('button', { name: /^Complete/ }).click();
    await intro.waitFor({ state: 'detached' });
    await survey.getByRole('button', { name: /^Reschedule/ }).click();
    const tomorrow = new Date(Date.now() + 86_400_000);
    const local = new Date(tomorrow.getTime() - tomorrow.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
    await survey.getByLabel('New due date').fill(local);
    await survey.getByRole('button', { name: 'Save' }).click();
    await survey.waitFor({ state: 'detached' });
    const rows = await stack.db('activities').where({ regarding_id: enrolled.id }).select('subject', 'status', 'due_at');
    assert.equal(rows.find((r) => /Intro call/.test(r.subject))?.status, 'completed');
    assert.ok(new Date(rows.find((r) => r.subject === 'Send the site survey form')!.due_at).getTime() > Date.now() + 80_000_000, 'rescheduled to tomorrow');
    await page.getByRole('button', { name: 'All open' }).click();
    await survey.waitFor();

    // The sequence: paused, resumed, stopped, from My work.
    const sequence = page.getByRole('region', { name: 'My nurture sequences' }).getByRole('listitem').filter({ hasText: topic });
    await sequence.getByRole('button', { name: 'Pause' }).click();
    await sequence.getByRole('button', { name: 'Resume' }).waitFor();
    await sequence.getByText('(paused)').waitFor();
    await shot('my-work-sequences');
    await sequence.getByRole('button', { name: 'Resume' }).click();
    await sequence.getByRole('button', { name: 'Pause' }).waitFor();
    await sequence.getByLabel('Stop because').selectOption('unsubscribed');
    await sequence.getByRole('button', { name: 'Stop' }).click();
    await sequence.waitFor({ state: 'detached' });

    // Leads: found by search, opened, disqualified with a reason.
    await page.getByRole('link', { name: 'Leads' }).click();
    await heading('Leads').waitFor();
    await page.getByLabel('Search').fill('Tailspin');
    await page.getByRole('link', { name: other.topic }).waitFor();
    assert.equal(await page.getByRole('link', { name: topic }).count(), 0, 'the search leaves out the other leads');
    await shot('leads');
    await page.getByRole('link', { name: other.topic }).click();
    await heading(other.topic).waitFor();
    await page.getByLabel('Reason').selectOption('no_longer_interested');
    await page.getByRole('button', { name: 'Disqualify' }).click();
    await page.getByText('(No longer interested)').waitFor();
    const closed = await stack.db('leads').where({ id: other.id }).first('status', 'status_reason');
    assert.deepEqual([closed.status, closed.status_reason], ['disqualified', 'no_longer_interested']);
    assert.deepEqual(pageErrors.filter((e) => !/status of 4\d\d/.test(e)), [], 'no script errors in the page');
  });

  it('finds a customer in the unified view and opens the profile with its sources and purchases', async function () {
    await importDir(stack.db, SAMPLE_DIR);
    const ticket = await stack.as.manager.post<UnificationTicket>('/unification/runs');
    expectStatus(ticket, 202);
    assert.equal((await waitForUnification(stack.env.client, ticket.body, { timeoutMs: 90_000 })).status, 'completed');

    await signIn(stack.users.rep.token);
    await heading('My work').waitFor();
    await page.getByRole('link', { name: 'Customers' }).click();
    await heading('Customers').waitFor();
    await page.getByLabel('Find a customer').fill('amanda.wright@outlook.com');
    await page.getByRole('button', { name: 'Search' }).click();
    const found = page.getByRole('link', { name: 'Amanda Wright' }).first();
    await found.waitFor();
    await shot('customers');
    await found.click();
    await heading('Amanda Wright').waitFor();
    await page.getByRole('heading', { level: 2, name: 'Sources' }).waitFor();
    await page.getByText('CNTID_1103').waitFor();
    await shot('customer');
  });

  it('follows a 503 still_processing to its outcome and then shows the change, sending the same Idempotency-Key again', async function () {
    const dealId = await qualifiedDeal(stack);
    await signIn(stack.users.rep.token);
    await heading('My work').waitFor();
    await page.goto(`${stack.url}/app/#/deals/${dealId}`);
    await page.getByRole('heading', { level: 2, name: 'Product lines' }).waitFor();
    // The API's first answer is lost to a slow workflow: 503 still_processing, and an operation that
    // is pending once, then done. The console must poll it and send the change again, with its key.
    const keys: string[] = [];
    let polls = 0;
    await page.route('**/deals/*/advance', async (route) => {
      keys.push(route.request().headers()['idempotency-key']);
      if (keys.length > 1) return route.continue();
      await route.fulfill({
        status: 503, contentType: 'application/problem+json', headers: { Location: '/operations/slow-1', 'Retry-After': '1' },
        body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'still_processing', detail: 'the change is still being processed' }),
      });
    });
    await page.route('**/operations/slow-1', (route) => {
      polls += 1;
      return route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ id: 'slow-1', status: polls > 1 ? 'succeeded' : 'pending', resource: `/deals/${dealId}`, workflowId: `deal-${dealId}` }) });
    });
    try {
      await page.getByRole('button', { name: 'Move to Develop', exact: true }).click();
      await page.locator('.stages li.current', { hasText: 'Develop' }).waitFor();
    } finally {
      await page.unrouteAll();
    }
    assert.equal(polls, 2, 'the operation was asked about until it was done');
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1], 'the change was sent again with the same Idempotency-Key');
    assert.equal(await page.getByRole('alert').count(), 0, 'no error shown');
    assert.equal((await stack.db('deals').where({ id: dealId }).first('stage')).stage, 'develop');
  });

  it('meets WCAG 2 A and AA (axe-core) on every main page, at 1280 px and on a phone, and does not shift its layout as data loads', async function () {
    interface Violation { id: string; help: string; nodes: Array<{ target: string[] }> }
    const audit = async (where: string): Promise<string[]> => {
      // Wait until the page's data is in (no skeleton left), then check what a person would see.
      await page.locator('.skeleton').first().waitFor({ state: 'detached' }).catch(() => undefined);
      // Evaluated by the browser's debugging protocol: the console's CSP (script-src 'self') rightly refuses inline scripts.
      if (!(await page.evaluate('typeof window.axe !== "undefined"'))) await page.evaluate(axe.source);
      const violations = await page.evaluate<Violation[]>(`axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }).then((r) => r.violations.map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`);
      return violations.map((v) => `${where}: ${v.id} (${v.help}) at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
    };
    const [deal] = await stack.db('deals').where({ status: 'won' }).select('id').limit(1);
    const [lead] = await stack.db('leads').select('id').limit(1);
    const [customer] = await stack.db('customers').select('id').limit(1);
    const found: string[] = [];
    const shifts: string[] = [];
    // Cumulative layout shift as the browser measures it (Core Web Vitals: 0.1 or less is good).
    await page.addInitScript(`window.__shift = 0; new PerformanceObserver((list) => { for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shift += e.value; }).observe({ type: 'layout-shift', buffered: true });`);
    for (const viewport of [DESKTOP, PHONE]) {
      await page.setViewportSize(viewport);
      const size = `${viewport.width}px`;
      await page.goto(`${stack.url}/app/`);
      await page.evaluate('sessionStorage.clear()');
      await page.reload();
      await page.getByLabel('API token').waitFor();
      found.push(...await audit(`sign-in ${size}`));
      await signIn(stack.users.manager.token);
      await heading('My work').waitFor();
      for (const [name, hash, ready] of [
        ['my work', 'work', 'My work'], ['leads', 'leads', 'Leads'], ['lead', `leads/${lead.id}`, /.+/], ['pipeline', 'pipeline', 'Pipeline'],
        ['deal', `deals/${deal.id}`, /.+/], ['tech checks', 'tech-checks', 'Tech Checks'], ['customers', 'customers', 'Customers'],
        ['customer', `customers/${customer.id}`, /.+/], ['audit log', 'audit', /Audit/],
      ] as const) {
        await page.evaluate('window.__shift = 0');
        await page.goto(`${stack.url}/app/#/${hash}`);
        await heading(ready).waitFor();
        found.push(...await audit(`${name} ${size}`));
        const shift = await page.evaluate<number>('window.__shift');
        if (shift > 0.1) shifts.push(`${name} ${size}: ${shift.toFixed(3)}`);
      }
    }
    await page.setViewportSize(DESKTOP);
    assert.deepEqual(found, [], 'no WCAG 2 A/AA violation');
    assert.deepEqual(shifts, [], 'no page shifts its layout by more than 0.1 while its data loads');
  });
});

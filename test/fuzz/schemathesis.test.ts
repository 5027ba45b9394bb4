/**
 * The API under a schema-driven fuzzer: schemathesis (provisioned into .tools/python by
 * `npm test`) reads /openapi.json and sends generated requests, valid and invalid, to every
 * operation, once with each role's token. The API runs as its own process, started as
 * `npm run api` starts it (api/main.ts), with a real worker, the Temporal dev server and a
 * database seeded through the API with records of every kind: path and body ids mostly hit real
 * leads, deals, lines, quotes, orders, invoices, accounts, contacts, activities and customers, and
 * free text and money fields sometimes get values that broke the API before (NUL, 2^53 − 1).
 *
 * A role's run fails, printing schemathesis's report and the API's own log of its 5xx, on:
 * - not_a_server_error: a 5xx, whatever the input;
 * - response_schema_conformance: a response body its documented schema does not allow;
 * - status_code_conformance: a status the operation does not document (clients are generated
 *   from the document, so an undocumented 404 or 422 is one they cannot handle);
 * - content_type_conformance: a media type other than the documented one (application/json for
 *   results, application/problem+json for refusals);
 * - negative_data_rejection: a 2xx to a request the document says is invalid (a documented
 *   limit that is not enforced);
 * - ignored_auth: anything but 401 without a valid token;
 * or if the API process dies.
 *
 * Environment variables (the defaults keep the four runs within about three minutes):
 *   FUZZ_MAX_TIME      seconds per role (default 35); schemathesis fuzzes until it is spent
 *   FUZZ_MAX_EXAMPLES  generated cases per operation and round (default 8)
 *   FUZZ_PHASES        default examples,coverage,fuzzing; add `stateful` to chain calls by links
 *   FUZZ_ROLES         whose tokens, comma-separated (default rep,tech_consultant,manager,admin)
 *   FUZZ_SEED          replay a run (each report ends with its seed)
 *   FUZZ_REPORT_DIR    also write NDJSON and HAR reports (every request and response) there
 *   FUZZ_ARGS          more schemathesis options, e.g. `--include-path-regex ^/deals`
 * A longer run, e.g. ten minutes per role with the stateful phase:
 *   FUZZ_MAX_TIME=600 FUZZ_MAX_EXAMPLES=100 FUZZ_PHASES=examples,coverage,fuzzing,stateful \
 *     npx mocha test/fuzz/schemathesis.test.ts
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../config';
import { ROLES, type Role } from '../../db/stores/users';
import { toolPaths } from '../../scripts/lib/tools';
import { startStack, type TestStack } from '../helpers/stack';
import { testEnv } from '../helpers/env';
import { alive, apiErrors, logTail, runSchemathesis, schemathesisConfig, seedRecords, startApiProcess, type ApiProcess, type OpenApiDocument } from '../helpers/fuzz';

const budget = {
  maxTimeS: Number(process.env.FUZZ_MAX_TIME ?? 35),
  maxExamples: Number(process.env.FUZZ_MAX_EXAMPLES ?? 8),
  phases: process.env.FUZZ_PHASES ?? 'examples,coverage,fuzzing',
  roles: (process.env.FUZZ_ROLES?.split(',').map((r) => r.trim()) ?? [...ROLES]) as Role[],
  seed: process.env.FUZZ_SEED,
  reportDir: process.env.FUZZ_REPORT_DIR,
  extra: process.env.FUZZ_ARGS?.split(/\s+/).filter(Boolean) ?? [],
};
const CHECKS = [
  'not_a_server_error', 'response_schema_conformance', 'status_code_conformance', 'content_type_conformance',
  'negative_data_rejection', 'ignored_auth',
];

describe('the API under a schema fuzzer (schemathesis, every role)', function () {
  this.timeout(0);
  let stack: TestStack;
  let api: ApiProcess;
  let workDir: string;

  before(async function () {
    this.timeout(240_000);
    const schemathesis = toolPaths(loadConfig().toolsDir).schemathesis;
    assert.ok(fs.existsSync(schemathesis), `schemathesis is not installed at ${schemathesis}: run \`npm run provision\``);
    workDir = path.join(testEnv.dataDir, 'fuzz');
    fs.mkdirSync(workDir, { recursive: true });
    stack = await startStack({ server: 'dev' });
    const ids = await seedRecords(stack);
    api = await startApiProcess(stack, path.join(workDir, 'api.log'));
    const document = (await (await fetch(`${api.url}/openapi.json`)).json()) as OpenApiDocument;
    fs.writeFileSync(path.join(workDir, 'schemathesis.toml'), schemathesisConfig(document, ids));
  });

  after(async function () {
    await api?.stop();
    await stack?.teardown();
  });

  for (const role of budget.roles) {
    it(`answers every generated request with the ${role} token without a 5xx, and only as documented`, async function () {
      if (!alive(api.child)) api = await startApiProcess(stack, api.logFile);
      const logStart = fs.statSync(api.logFile).size;
      const args = [
        '--config-file', path.join(workDir, 'schemathesis.toml'),
        'run', `${api.url}/openapi.json`,
        '--checks', CHECKS.join(','),
        '--header', `Authorization: Bearer ${stack.users[role].token}`,
        '--workers', '1',
        '--phases', budget.phases,
        '--max-examples', String(budget.maxExamples),
        '--max-time', String(budget.maxTimeS),
        '--request-timeout', '30',
        '--generation-database', 'none',
        '--suppress-health-check', 'all',
        '--no-color',
        // The tokens are this run's own, on a database dropped afterwards: show every header, so
        // each reproduction can be pasted as it is.
        '--output-sanitize', 'false',
        ...(budget.seed ? ['--seed', budget.seed] : []),
        ...(budget.reportDir ? ['--report', 'ndjson,har', '--report-dir', path.resolve(budget.reportDir, role)] : []),
        ...budget.extra,
      ];
      const run = await runSchemathesis(args, (budget.maxTimeS + 60) * 1000, workDir);
      const died = !alive(api.child);
      const errors = apiErrors(api.logFile, logStart);
      const report = [
        `schemathesis as ${role} exited with ${run.exitCode}${run.timedOut ? ' (killed: over its time bound)' : ''}`,
        died ? `THE API PROCESS DIED (exit ${api.child.exitCode}, signal ${api.child.signalCode}); the end of its log:\n${logTail(api.logFile)}` : '',
        run.output,
        errors.length ? `The API logged these 5xx:\n${errors.join('\n')}` : '',
      ].filter(Boolean).join('\n');
      if (run.exitCode !== 0 || died || run.timedOut) assert.fail(report);
    });
  }
});

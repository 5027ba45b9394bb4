/**
 * Builds the rep's console (console/) into console/dist, which the API serves at /app:
 * 1. the API's OpenAPI document → console/src/api/schema.d.ts (openapi-typescript), so the
 *    console's client is typed by what the API serves;
 * 2. the console is type-checked against it: a route or field the console uses that the API no
 *    longer has fails the build (the console cannot drift from the API);
 * 3. Vite bundles it.
 * The build is skipped when nothing it depends on changed: a hash of the console's sources, the
 * document and the installed toolchain is kept beside the output.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config';
import type { Logger } from '../../config/logger';
import { openApiDocument } from './openapiDocument';

export const CONSOLE_DIR = path.join(PROJECT_ROOT, 'console');
export const CONSOLE_DIST = path.join(CONSOLE_DIR, 'dist');
const SCHEMA_FILE = path.join(CONSOLE_DIR, 'src', 'api', 'schema.d.ts');
const STAMP = '.build-hash';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'dist' || entry.name.startsWith('dist.') || entry.name === 'node_modules' ? [] : sourceFiles(full);
    return full === SCHEMA_FILE ? [] : [full];
  }).sort();
}

function buildHash(document: unknown): string {
  const hash = crypto.createHash('sha256');
  for (const file of sourceFiles(CONSOLE_DIR)) hash.update(path.relative(CONSOLE_DIR, file)).update('\0').update(fs.readFileSync(file)).update('\0');
  hash.update(JSON.stringify(document));
  // The toolchain's versions: an upgrade rebuilds.
  for (const pkg of ['vite', 'preact', 'openapi-fetch', 'openapi-typescript', 'typescript']) {
    hash.update(JSON.parse(fs.readFileSync(require.resolve(`${pkg}/package.json`, { paths: [PROJECT_ROOT] }), 'utf8')).version);
  }
  return hash.digest('hex');
}

export class ConsoleBuildError extends Error {
  override name = 'ConsoleBuildError';
}

/** Builds the console unless its last build is current; returns whether it built. */
export async function ensureConsoleBuilt(log: Logger, options: { force?: boolean } = {}): Promise<boolean> {
  const document = await openApiDocument();
  const hash = buildHash(document);
  const stamp = path.join(CONSOLE_DIST, STAMP);
  if (!options.force && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === hash && fs.existsSync(path.join(CONSOLE_DIST, 'index.html'))) {
    log.debug('console build is current');
    return false;
  }
  log.info('building the console (console/ → console/dist)');
  const started = Date.now();

  const { default: openapiTS, astToString } = await import('openapi-typescript');
  const types = astToString(await openapiTS(document as never));
  fs.mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
  fs.writeFileSync(SCHEMA_FILE, `/** Generated from the API's OpenAPI document by scripts/lib/console.ts: do not edit. */\n${types}`);

  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc', { paths: [PROJECT_ROOT] }), '--noEmit', '-p', path.join(CONSOLE_DIR, 'tsconfig.json')], {
      cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8',
    });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new ConsoleBuildError(`the console does not type-check against the API's OpenAPI document:\n${stdout ?? ''}${stderr ?? ''}`);
  }

  // Built beside the served copy, then swapped in, so a running API never serves half a build.
  const staging = `${CONSOLE_DIST}.${process.pid}`;
  const vite = await import('vite');
  await vite.build({
    root: CONSOLE_DIR,
    base: '/app/',
    configFile: false,
    logLevel: 'warn',
    esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
    build: { outDir: staging, emptyOutDir: true, target: 'es2022', sourcemap: true, assetsDir: 'assets' },
  });
  fs.writeFileSync(path.join(staging, STAMP), hash);
  const old = `${CONSOLE_DIST}.old.${process.pid}`;
  if (fs.existsSync(CONSOLE_DIST)) fs.renameSync(CONSOLE_DIST, old);
  fs.renameSync(staging, CONSOLE_DIST);
  fs.rmSync(old, { recursive: true, force: true });
  log.info({ ms: Date.now() - started }, 'console built');
  return true;
}

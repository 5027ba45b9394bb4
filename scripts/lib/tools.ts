/**
 * Where the project-local tools live (all under the ignored `.tools/`), and how they get there:
 * - the Temporal CLI (dev server + Web UI), built from source with `go install`;
 * - the Java time-skipping test server with its full classpath, resolved by Maven, behind a shell
 *   wrapper that `exec`s java so that the SDK's kill reaches the JVM itself.
 * - schemathesis (the OpenAPI fuzzer the API's fuzz test runs), from PyPI into a Python virtual
 *   environment, with the dependencies pip resolves for it.
 * Each install is idempotent: a stamp file records what was installed and a second run does nothing.
 * Where Go or Maven is missing but the internet is reachable, the Temporal SDK's own download is the
 * fallback; otherwise we stop with the exact thing to install.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config';
import type { Logger } from '../../config/logger';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEST_SERVER_VERSION = '1.38.0';
export const SCHEMATHESIS_VERSION = '4.32.5';
/** schemathesis 4 needs Python 3.11 or newer. */
const PYTHON_MINIMUM: readonly [number, number] = [3, 11];
const TEST_SERVER_POM = path.join(PROJECT_ROOT, 'scripts', 'temporal-test-server', 'pom.xml');

export interface ToolPaths {
  temporalCli: string;
  testServer: string;
  /** The virtual environment schemathesis lives in, and its command. */
  pythonEnv: string;
  schemathesis: string;
}

export function toolPaths(toolsDir: string): ToolPaths {
  const pythonEnv = path.join(toolsDir, 'python');
  return {
    temporalCli: path.join(toolsDir, 'bin', 'temporal'),
    testServer: path.join(toolsDir, 'bin', 'temporal-test-server'),
    pythonEnv,
    schemathesis: path.join(pythonEnv, 'bin', 'schemathesis'),
  };
}

export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

function has(command: string, args: string[] = ['-version']): boolean {
  return spawnSync(command, args, { stdio: 'ignore' }).status === 0;
}

function stampMatches(stamp: string, expected: string, binary: string): boolean {
  return fs.existsSync(binary) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === expected;
}

export function internetReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const request = https.request('https://temporal.download/', { method: 'HEAD', timeout: 5000 }, () => resolve(true));
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
    request.end();
  });
}

/** Finds the executable the SDK downloaded into `dir` (its file names vary by version). */
function findDownloaded(dir: string, prefix: string): string | null {
  if (!fs.existsSync(dir)) return null;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isFile() && entry.name.startsWith(prefix) && (fs.statSync(full).mode & 0o111) !== 0) return full;
  }
  return null;
}

async function sdkDownload(kind: 'dev-server' | 'time-skipping', downloadDir: string, log: Logger): Promise<string> {
  log.warn({ kind }, 'falling back to the Temporal SDK download');
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const executable = { type: 'cached-download' as const, downloadDir };
  const env =
    kind === 'dev-server'
      ? await TestWorkflowEnvironment.createLocal({ server: { executable } })
      : await TestWorkflowEnvironment.createTimeSkipping({ server: { executable } });
  await env.teardown();
  const found = findDownloaded(downloadDir, kind === 'dev-server' ? 'temporal' : 'temporal-test-server');
  if (!found) throw new ProvisionError(`the SDK download of the ${kind} left no executable in ${downloadDir}`);
  return found;
}

function link(target: string, at: string): void {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  fs.rmSync(at, { force: true });
  fs.symlinkSync(target, at);
}

export async function ensureTemporalCli(toolsDir: string, log: Logger): Promise<string> {
  const { temporalCli } = toolPaths(toolsDir);
  const stamp = path.join(toolsDir, 'temporal-cli.stamp');
  if (stampMatches(stamp, TEMPORAL_CLI_VERSION, temporalCli)) {
    log.debug({ path: temporalCli }, 'Temporal CLI present');
    return temporalCli;
  }
  if (has('go', ['version'])) {
    log.info(`building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (once; a few minutes)`);
    fs.mkdirSync(path.dirname(temporalCli), { recursive: true });
    execFileSync('go', ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
      env: { ...process.env, GOBIN: path.dirname(temporalCli), GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } else if (await internetReachable()) {
    link(await sdkDownload('dev-server', path.join(toolsDir, 'sdk-download'), log), temporalCli);
  } else {
    throw new ProvisionError(
      'The Temporal CLI is missing and cannot be built: install Go 1.22 or newer (https://go.dev/doc/install, ' +
        'or `apt-get install golang`) so that `go install` can reach the Go module proxy, or give this machine ' +
        'internet access so that the Temporal SDK can download the CLI.',
    );
  }
  fs.writeFileSync(stamp, `${TEMPORAL_CLI_VERSION}\n`);
  log.info({ path: temporalCli }, 'Temporal CLI installed');
  return temporalCli;
}

/**
 * JVM flags for a fast start: the SDK waits only a few seconds for the server to listen, and the
 * server is short-lived, so the C1 compiler and the serial collector are the right trade.
 */
const JVM_FLAGS = '-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -Xss512k -XX:+PerfDisableSharedMem';

export async function ensureTestServer(toolsDir: string, log: Logger): Promise<string> {
  const { testServer } = toolPaths(toolsDir);
  const stamp = path.join(toolsDir, 'temporal-test-server.stamp');
  if (stampMatches(stamp, TEST_SERVER_VERSION, testServer)) {
    log.debug({ path: testServer }, 'time-skipping test server present');
    return testServer;
  }
  const libDir = path.join(toolsDir, 'temporal-test-server', 'lib');
  if (has('java') && has('mvn', ['-v'])) {
    log.info(`resolving io.temporal:temporal-test-server:${TEST_SERVER_VERSION} with Maven (once)`);
    fs.rmSync(libDir, { recursive: true, force: true });
    execFileSync(
      'mvn',
      ['-q', '-B', '-f', TEST_SERVER_POM, 'dependency:copy-dependencies', `-DoutputDirectory=${libDir}`, '-DincludeScope=runtime'],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    fs.mkdirSync(path.dirname(testServer), { recursive: true });
    // `exec` replaces the shell with the JVM: the SDK kills its direct child, which must be java.
    fs.writeFileSync(
      testServer,
      `#!/bin/sh\nexec java ${JVM_FLAGS} -cp '${libDir}/*' io.temporal.testserver.TestServer "$@"\n`,
      { mode: 0o755 },
    );
  } else if (await internetReachable()) {
    link(await sdkDownload('time-skipping', path.join(toolsDir, 'sdk-download'), log), testServer);
  } else {
    throw new ProvisionError(
      'The Temporal time-skipping test server is missing and cannot be resolved: install a Java 17+ JDK and ' +
        'Maven 3 (`apt-get install openjdk-17-jdk-headless maven`) so that Maven Central can be reached, or give ' +
        'this machine internet access so that the Temporal SDK can download the test server.',
    );
  }
  fs.writeFileSync(stamp, `${TEST_SERVER_VERSION}\n`);
  log.info({ path: testServer }, 'time-skipping test server installed');
  return testServer;
}

const PYTHON_HINT =
  `install Python ${PYTHON_MINIMUM.join('.')} or newer with its venv module (Debian/Ubuntu: \`apt-get install python3 python3-venv\`)`;

/**
 * schemathesis, pinned, in its own virtual environment under `.tools/python` (never the system's
 * site-packages). `python` is the interpreter that creates the environment.
 */
export async function ensureSchemathesis(toolsDir: string, log: Logger, python = 'python3'): Promise<string> {
  const { pythonEnv, schemathesis } = toolPaths(toolsDir);
  const stamp = path.join(toolsDir, 'schemathesis.stamp');
  const envPython = path.join(pythonEnv, 'bin', 'python');
  // The environment links to the interpreter that made it: if that one is gone, so is the install.
  if (stampMatches(stamp, SCHEMATHESIS_VERSION, schemathesis) && has(envPython, ['--version'])) {
    log.debug({ path: schemathesis }, 'schemathesis present');
    return schemathesis;
  }
  const [major, minor] = PYTHON_MINIMUM;
  const version = spawnSync(python, ['-c', `import sys; sys.exit(0 if sys.version_info >= (${major}, ${minor}) else 3)`], { stdio: 'ignore' });
  if (version.error || version.status === null) {
    throw new ProvisionError(`schemathesis (the API fuzzer) needs Python, and \`${python}\` was not found: ${PYTHON_HINT}.`);
  }
  if (version.status !== 0) {
    throw new ProvisionError(`schemathesis (the API fuzzer) needs Python ${major}.${minor} or newer, and \`${python}\` is older: ${PYTHON_HINT}.`);
  }
  log.info(`installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into ${pythonEnv} (once)`);
  fs.rmSync(pythonEnv, { recursive: true, force: true });
  fs.rmSync(stamp, { force: true });
  const venv = spawnSync(python, ['-m', 'venv', pythonEnv], { encoding: 'utf8' });
  if (venv.status !== 0) {
    fs.rmSync(pythonEnv, { recursive: true, force: true });
    throw new ProvisionError(
      `\`${python} -m venv\` could not create a virtual environment for schemathesis (the API fuzzer): ${PYTHON_HINT}.\n` +
        (venv.stderr || venv.stdout || String(venv.error ?? '')).trim(),
    );
  }
  const pip = spawnSync(envPython, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (pip.status !== 0) {
    throw new ProvisionError(
      `pip could not install schemathesis==${SCHEMATHESIS_VERSION} into ${pythonEnv}: this machine must reach PyPI (https://pypi.org) ` +
        'or the index that pip is configured with (PIP_INDEX_URL).',
    );
  }
  if (!has(schemathesis, ['--version'])) throw new ProvisionError(`schemathesis was installed into ${pythonEnv} but does not run`);
  fs.writeFileSync(stamp, `${SCHEMATHESIS_VERSION}\n`);
  log.info({ path: schemathesis }, 'schemathesis installed');
  return schemathesis;
}

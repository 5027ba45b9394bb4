/**
 * A part of the stack that dies at start-up says why: its output goes to the debug log only, so
 * the warning that it exited carries its last lines (a Temporal dev server refusing a taken port
 * otherwise fails the start with nothing to read).
 */
import assert from 'node:assert/strict';
import { startService } from '../../scripts/lib/services';
import type { Logger } from '../../config/logger';

describe('a service that exits', function () {
  it('is reported with the last lines it wrote', async function () {
    const warnings: Array<{ fields: Record<string, unknown>; message: string }> = [];
    const log = {
      debug: () => undefined,
      warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }),
    } as unknown as Logger;
    const script = 'for (let i = 1; i <= 30; i++) console.log("line " + i); console.error("bind: address already in use"); process.exit(3)';
    const service = await startService('failing', process.execPath, ['-e', script], log);
    await new Promise<void>((resolve) => service.process.once('close', () => setImmediate(resolve)));
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].message, 'failing exited');
    assert.equal(warnings[0].fields.code, 3);
    const lines = warnings[0].fields.lastOutput as string[];
    assert.equal(lines.length, 20, 'the last 20 lines, not all of them');
    assert.ok(lines.includes('bind: address already in use'), lines.join('\n'));
    assert.ok(!lines.includes('line 1'));
  });

  it('stopped on purpose, is not reported', async function () {
    const warnings: unknown[] = [];
    const log = { debug: () => undefined, warn: (...args: unknown[]) => warnings.push(args) } as unknown as Logger;
    const service = await startService('sleeper', process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], log);
    await service.stop();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(warnings, []);
  });
});

// The tests are TypeScript too: they compile under the library's strict settings (tsconfig.test.json),
// so a test cannot pass on a shape the library no longer has. Vitest strips types without checking.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('type check', () => {
  it('lib/ and test/ compile with tsconfig.test.json (strict, no emit)', async () => {
    const out = await new Promise<string>((resolve) => {
      execFile(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repo, 'tsconfig.test.json')], { cwd: repo, maxBuffer: 16 << 20 }, (_err, stdout, stderr) =>
        resolve(`${stdout}${stderr}`),
      );
    });
    expect(out.split('\n').filter((l) => /error TS\d+/.test(l))).toEqual([]);
  }, 300_000);
});

// --detach-keys parsing and the input filter that spots the sequence (lib/cli/attach.ts).
import { describe, expect, it } from 'vitest';

import { detachFilter, parseDetachKeys } from '../../lib/cli/attach.js';

function run(keys: string, chunks: string[]): { passed: string; detached: boolean } {
  let passed = '';
  let detached = false;
  const feed = detachFilter(parseDetachKeys(keys), (b) => (passed += b.toString('latin1')), () => (detached = true));
  for (const c of chunks) {
    if (detached) break;
    feed(Buffer.from(c, 'latin1'));
  }
  return { passed, detached };
}

describe('detach keys', () => {
  it("parses Docker's notation", () => {
    expect([...parseDetachKeys('ctrl-p,ctrl-q')]).toEqual([0x10, 0x11]);
    expect([...parseDetachKeys('ctrl-a,x,ctrl-@,ctrl-[')]).toEqual([0x01, 0x78, 0x00, 0x1b]);
    expect([...parseDetachKeys('ctrl-P')]).toEqual([0x10]);
    expect(() => parseDetachKeys('ctrl-1')).toThrow(/invalid detach keys/);
    expect(() => parseDetachKeys('abc')).toThrow(/invalid detach keys/);
    expect(() => parseDetachKeys('')).toThrow(/invalid detach keys/);
  });

  it('passes input through and detaches on the sequence, also split across reads', () => {
    expect(run('ctrl-p,ctrl-q', ['hello\r'])).toEqual({ passed: 'hello\r', detached: false });
    expect(run('ctrl-p,ctrl-q', ['ab\x10\x11cd'])).toEqual({ passed: 'ab', detached: true });
    expect(run('ctrl-p,ctrl-q', ['ab\x10', '\x11'])).toEqual({ passed: 'ab', detached: true });
  });

  it('gives back held bytes that turn out not to be the sequence', () => {
    expect(run('ctrl-p,ctrl-q', ['\x10x'])).toEqual({ passed: '\x10x', detached: false });
    expect(run('ctrl-p,ctrl-q', ['\x10', 'y'])).toEqual({ passed: '\x10y', detached: false });
    // A repeated first key: the second one may still start the sequence.
    expect(run('ctrl-p,ctrl-q', ['\x10\x10\x11'])).toEqual({ passed: '\x10', detached: true });
  });
});

// The wire is defined once per language (cpp/common/wire.h, lib/runtime/wire.ts): these tests check
// that the two agree, through the real pocker-init binary (`pocker-init wire-echo` decodes attach
// frames with the C++ code and encodes them again) and through a real spawn (a sync error message).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';

import { native, nativeInitPath, type NativeEvent } from '../../lib/native.js';
import { busyboxRootfs, cleanupAll, isRoot, runError, testCgroupParent } from '../helpers.js';
import { FRAME_HEADER, Frame, FrameDecoder, decodeExit, decodeResize, encodeExit, encodeFrame, encodeResize } from '../../lib/runtime/wire.js';

function echo(input: Buffer): { status: number | null; out: Buffer } {
  const r = spawnSync(nativeInitPath(), ['wire-echo'], { input, maxBuffer: 64 << 20 });
  return { status: r.status, out: r.stdout };
}

describe('attach frames: TypeScript and C++ agree', () => {
  it('every kind, empty and large payloads, come back byte for byte', () => {
    const frames = [
      encodeFrame(Frame.Stdin, Buffer.from('hello\n')),
      encodeFrame(Frame.Stdout, randomBytes(70_000)),
      encodeFrame(Frame.Stderr, Buffer.alloc(0)),
      encodeFrame(Frame.Exit, encodeExit({ exitCode: 137, signal: 9, oomKilled: true })),
      encodeFrame(Frame.Exit, encodeExit({ exitCode: 0, signal: 0, oomKilled: false })),
      encodeFrame(Frame.Resize, encodeResize(44, 122)),
      encodeFrame(Frame.Resize, encodeResize(70_000, 0)),
      encodeFrame(Frame.CloseStdin),
      encodeFrame(Frame.Stdout, randomBytes(1 << 20)),
    ];
    const input = Buffer.concat(frames);
    const { status, out } = echo(input);
    expect(status).toBe(0);
    expect(out.equals(input)).toBe(true);
    // And our decoder splits it back, however the bytes are chunked.
    const dec = new FrameDecoder();
    const got: Array<{ kind: number; payload: Buffer }> = [];
    for (let at = 0; at < out.length; at += 4093) got.push(...dec.feed(out.subarray(at, at + 4093)));
    expect(dec.buffered).toBe(0);
    expect(got.map((f) => f.kind)).toEqual([0, 1, 2, 3, 3, 4, 4, 5, 1]);
    expect(decodeExit(got[3]!.payload)).toEqual({ exitCode: 137, signal: 9, oomKilled: true });
    expect(decodeResize(got[5]!.payload)).toEqual({ rows: 44, cols: 122 });
    expect(decodeResize(got[6]!.payload)).toEqual({ rows: 65535, cols: 1 });
  });

  it('the C++ side refuses what it cannot decode: a bad exit payload, a short resize, a truncated frame', () => {
    expect(echo(encodeFrame(Frame.Exit, Buffer.from('x 0 0'))).status).toBe(1);
    expect(echo(encodeFrame(Frame.Resize, Buffer.from([0, 1]))).status).toBe(1);
    expect(echo(encodeFrame(Frame.Stdout, Buffer.from('abc')).subarray(0, FRAME_HEADER + 1)).status).toBe(1);
    expect(echo(Buffer.from([1, 0, 0])).status).toBe(1);
  });
});

describe('sync messages: pocker-init to the addon', () => {
  it('a malformed spec is reported (errno, step, syscall, reason) before pocker-init exits', async () => {
    const events: NativeEvent[] = [];
    const devnull = openSync('/dev/null', 'r+');
    await new Promise<void>((resolve) => {
      native().spawn({
        spec: Buffer.from('this is\nnot a spec'),
        stdio: [devnull, devnull, devnull],
        onEvent: (ev) => {
          events.push(ev);
          if (ev.type === 'reaped') resolve();
        },
      });
    });
    closeSync(devnull);
    const err = events.find((e) => e.type === 'error');
    expect(err).toMatchObject({ type: 'error', code: 'EINVAL', errno: -22, step: 'read-spec', syscall: 'parse' });
    expect(err && 'path' in err ? err.path : '').not.toBe('');
    expect(events.at(-1)).toMatchObject({ type: 'reaped', status: 125 });
  });
});

describe.skipIf(!isRoot)('sync messages through a real container setup', () => {
  afterAll(cleanupAll);

  it('an error path holding spaces and newlines arrives intact, with its step and syscall', async () => {
    // A working directory under a regular file cannot be made (ENOTDIR while resolving it).
    const cwd = '/bin/busybox/no such\ndir here';
    const err = await runError({ rootfs: busyboxRootfs(), cmd: ['/bin/true'], workdir: cwd, cgroupParent: testCgroupParent(), stdio: 'ignore' });
    expect(err).toMatchObject({ code: 'ENOTDIR', step: 'workdir', syscall: 'openat2', path: cwd });
  });
});

// The attach wire's TypeScript side: Docker's stdcopy frames between a monitor and its clients.
// cpp/common/wire.h is its C++ side; test/native/wire.test.ts checks both agree through the real
// binary (`pocker-init wire-echo`). Nothing else in lib/ encodes or decodes these bytes.

/** Frame kinds (u8), as cpp/common/wire.h's `Frame`. */
export const Frame = {
  Stdin: 0,
  Stdout: 1,
  Stderr: 2,
  Exit: 3,
  Resize: 4,
  CloseStdin: 5,
} as const;
export type FrameKind = (typeof Frame)[keyof typeof Frame];

export const FRAME_HEADER = 8;
/** A longer frame is a broken peer (the monitor drops it). */
export const MAX_FRAME = 1 << 20;

/** u8 kind | 3 zero bytes | u32 big-endian length | payload. */
export function encodeFrame(kind: FrameKind, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(FRAME_HEADER);
  head.writeUInt8(kind, 0);
  head.writeUInt32BE(payload.length, 4);
  return Buffer.concat([head, payload]);
}

/** How the container ended, as an Exit frame carries it ("<code> <signal> <oom>"). */
export interface ExitPayload {
  exitCode: number;
  signal: number;
  oomKilled: boolean;
}

export function encodeExit(e: ExitPayload): Buffer {
  return Buffer.from(`${e.exitCode} ${e.signal} ${e.oomKilled ? 1 : 0}`);
}

export function decodeExit(payload: Uint8Array): ExitPayload | null {
  const m = /^(-?\d+) (-?\d+) (-?\d+)$/.exec(Buffer.from(payload).toString('latin1'));
  if (!m) return null;
  return { exitCode: Number(m[1]), signal: Number(m[2]), oomKilled: m[3] !== '0' };
}

/** A terminal size (rows, cols: u16 big-endian each), clamped to 1..65535. */
export function encodeResize(rows: number, cols: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(Math.min(Math.max(Math.trunc(rows), 1), 65535), 0);
  b.writeUInt16BE(Math.min(Math.max(Math.trunc(cols), 1), 65535), 2);
  return b;
}

export function decodeResize(payload: Uint8Array): { rows: number; cols: number } | null {
  if (payload.length !== 4) return null;
  const b = Buffer.from(payload);
  return { rows: b.readUInt16BE(0), cols: b.readUInt16BE(2) };
}

/** Splits a byte stream into frames; feed() takes chunks as they come and returns whole frames. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): Array<{ kind: number; payload: Buffer }> {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const out: Array<{ kind: number; payload: Buffer }> = [];
    while (this.pending.length >= FRAME_HEADER) {
      const len = this.pending.readUInt32BE(4);
      if (this.pending.length < FRAME_HEADER + len) break;
      out.push({ kind: this.pending.readUInt8(0), payload: this.pending.subarray(FRAME_HEADER, FRAME_HEADER + len) });
      this.pending = this.pending.subarray(FRAME_HEADER + len);
    }
    return out;
  }

  /** Bytes of an incomplete frame still held. */
  get buffered(): number {
    return this.pending.length;
  }
}

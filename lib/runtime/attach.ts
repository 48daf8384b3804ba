// The client side of a detached container's stdio: its monitor serves it on `attach.sock` in the
// state dir, and hands `start -a` a client socket of its own at spawn (the framing, Docker's 8-byte
// stdcopy header both ways, is in ./wire.ts).
import { closeSync, openSync, constants as fsConstants } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable, type Readable } from 'node:stream';
import type { Socket } from 'node:net';

import { PockerError } from '../errors.js';
import { signalName } from '../signals.js';
import type { ExitStatus } from '../types.js';
import { Frame, FrameDecoder, decodeExit, encodeFrame, encodeResize } from './wire.js';

/** A live connection to a container's stdio. */
export interface Attachment {
  /** Writes to the container's stdin (null when it was not started with -i, or not asked for). */
  readonly stdin: Writable | null;
  /** The container's stdout (with a tty: the terminal's output). */
  readonly stdout: Readable;
  /** The container's stderr (null with a tty: it is part of stdout). */
  readonly stderr: Readable | null;
  /** How the container ended, or null when the attachment ended first (detach(), or the monitor went away). */
  readonly exited: Promise<ExitStatus | null>;
  /** With a tty: sets the terminal size. */
  resize(rows: number, cols: number): void;
  /** Ends the attachment; the container goes on. */
  detach(): void;
}

export class AttachConnection implements Attachment {
  readonly stdin: Writable | null;
  readonly stdout: PassThrough;
  readonly stderr: PassThrough | null;
  readonly exited: Promise<ExitStatus | null>;
  private readonly frames = new FrameDecoder();
  private resolveExit!: (s: ExitStatus | null) => void;

  constructor(
    private readonly socket: Socket,
    opts: { stdin: boolean; tty: boolean },
  ) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    this.stdout = new PassThrough();
    this.stderr = opts.tty ? null : new PassThrough();
    this.stdin = opts.stdin
      ? new Writable({
          write: (chunk: Buffer, _enc, cb) => {
            if (socket.destroyed) return cb();
            socket.write(encodeFrame(Frame.Stdin, chunk), () => cb());
          },
          // End of input: the container's stdin closes when it was created with -i (Docker's StdinOnce).
          final: (cb) => {
            if (socket.destroyed) return cb();
            socket.write(encodeFrame(Frame.CloseStdin), () => cb());
          },
        })
      : null;
    // A write to a gone monitor is not the caller's error: the attachment just ends.
    this.stdin?.on('error', () => {});
    socket.on('data', (data: Buffer) => this.onData(data));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.stdout.end();
      this.stderr?.end();
      this.resolveExit(null);
    });
  }

  private onData(data: Buffer): void {
    for (const { kind, payload } of this.frames.feed(data)) {
      if (kind === Frame.Stdout || (kind === Frame.Stderr && !this.stderr)) this.push(this.stdout, payload);
      else if (kind === Frame.Stderr && this.stderr) this.push(this.stderr, payload);
      else if (kind === Frame.Exit) {
        const e = decodeExit(payload);
        if (e) this.resolveExit({ exitCode: e.exitCode, signal: e.signal ? signalName(e.signal) : null, oomKilled: e.oomKilled });
      }
    }
  }

  /** Output a reader does not take pauses the socket (and so, past a bound, drops us at the monitor). */
  private push(stream: PassThrough, payload: Buffer): void {
    if (!stream.write(Buffer.from(payload))) {
      this.socket.pause();
      stream.once('drain', () => this.socket.resume());
    }
  }

  resize(rows: number, cols: number): void {
    if (this.socket.destroyed) return;
    this.socket.write(encodeFrame(Frame.Resize, encodeResize(rows, cols)));
  }

  detach(): void {
    this.socket.destroy();
  }
}

/** Wraps one end of a socketpair (start -a) as an attachment. */
export async function attachFd(fd: number, opts: { stdin: boolean; tty: boolean }): Promise<AttachConnection> {
  const { Socket } = await import('node:net');
  return new AttachConnection(new Socket({ fd, readable: true, writable: true }), opts);
}

/**
 * Connects to the attach socket of the container in `dir`. The path may be longer than a unix
 * socket address allows, so it is reached through /proc/self/fd of the directory.
 */
export async function attachDir(dir: string, opts: { stdin: boolean; tty: boolean }): Promise<AttachConnection> {
  const net = await import('node:net');
  let dirFd: number;
  try {
    dirFd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  } catch {
    throw new PockerError(`No such container: ${dir.slice(dir.lastIndexOf('/') + 1)}`, { code: 'ERR_POCKER_NOT_FOUND', step: 'attach' });
  }
  try {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = net.connect(join(`/proc/self/fd/${dirFd}`, 'attach.sock'));
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
    return new AttachConnection(socket, opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new PockerError(`cannot attach to container ${dir.slice(dir.lastIndexOf('/') + 1, dir.lastIndexOf('/') + 13)}: its monitor does not answer (${e.code ?? e.message})`, {
      code: 'ERR_POCKER_NOT_RUNNING',
      step: 'attach',
      ...(e.errno !== undefined ? { errno: e.errno } : {}),
      ...(e.syscall ? { syscall: e.syscall } : {}),
      path: join(dir, 'attach.sock'),
    });
  } finally {
    closeSync(dirFd);
  }
}

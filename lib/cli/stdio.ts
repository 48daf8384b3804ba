// The CLI's stdout and stderr without Node's stream objects until something needs them (issue 12).
// `process.stdout` is made on first use, and making it loads node:stream and, for a pipe or a
// terminal, node:net and node:tty: 8-14 ms of CPU here, more than `pocker ps` spends on its own
// work. A command that only prints text (ps's table, run's id) writes it with writeSync on fd 1/2,
// as Node's own streams do for files; the stream is made, as before, by the code that needs one
// (a pipe of the container's output, a terminal's size, `logs -f`), and from then on every write
// goes through it so that nothing is reordered. Hand-written: Node has no public way to ask whether
// process.stdout was made without making it.
import { writeSync } from 'node:fs';

type StdioName = 'stdout' | 'stderr';

/** Whether writes go through process.stdout/stderr: always, until useDirectStdio(). */
const made: Record<StdioName, boolean> = { stdout: true, stderr: true };
const onMade: Record<StdioName, Array<(stream: NodeJS.WriteStream) => void>> = { stdout: [], stderr: [] };

/**
 * For the CLI's own process, before anything has read process.stdout or process.stderr
 * (lib/cli/entry.ts's main): writeStdout/writeStderr write to the fds until the streams are made.
 * Node defines both as configurable getters (lib/internal/bootstrap/switches/is_main_thread.js,
 * Node 20 and 22); each is wrapped, and Node's own put back at its first read.
 */
export function useDirectStdio(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    const desc = Object.getOwnPropertyDescriptor(process, name);
    if (!made[name] || !desc?.get || !desc.configurable) continue;
    const get = desc.get;
    made[name] = false;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: desc.enumerable ?? true,
      get() {
        Object.defineProperty(process, name, desc);
        made[name] = true;
        const stream = get.call(process) as NodeJS.WriteStream;
        for (const install of onMade[name].splice(0)) install(stream);
        return stream;
      },
    });
  }
}

/** Calls `install` with process.stdout/stderr when it is made (at once when it is, or may be). */
export function whenStdioMade(name: StdioName, install: (stream: NodeJS.WriteStream) => void): void {
  if (made[name]) install(process[name]);
  else onMade[name].push(install);
}

function write(name: StdioName, fd: number, text: string): void {
  if (made[name]) {
    process[name].write(text);
    return;
  }
  const buf = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      // The reader went away: the end endQuietlyOnEpipe (./program.ts) gives the stream's EPIPE.
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') process.exit(0);
      // EAGAIN (a non-blocking pipe that is full) or anything else: the stream handles it as it
      // always did (it queues, or emits the error).
      process[name].write(buf.subarray(off));
      return;
    }
  }
}

/** Writes `text` to stdout: with writeSync on fd 1 while process.stdout is not made, else through it. */
export function writeStdout(text: string): void {
  write('stdout', 1, text);
}

/** Writes `text` to stderr: with writeSync on fd 2 while process.stderr is not made, else through it. */
export function writeStderr(text: string): void {
  write('stderr', 2, text);
}

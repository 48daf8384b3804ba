// `pocker start [-a] [-i] | restart | attach`: containers run by their monitor, and the terminal
// session over a detached container's stdio (its monitor serves it; lib/runtime/attach.ts).
import type { Command } from 'commander';
import { isatty } from 'node:tty';

import type { DetachedContainer } from '../runtime/run.js';
import { CliError, reportFailure } from './failure.js';
import { proxiedSignals, rootFlag as rootOf, type CliContext } from './run.js';
import { writeStdout, writeStderr } from './stdio.js';

const ROOT_HELP = 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)';
const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/**
 * Docker's --detach-keys: comma-separated keys, each a single character or `ctrl-X` (X one of
 * a-z @ [ \ ] ^ _). Returns the byte sequence.
 */
export function parseDetachKeys(spec: string): Buffer {
  const out: number[] = [];
  for (const key of spec.split(',')) {
    const k = key.trim();
    const ctrl = /^ctrl-(.)$/i.exec(k);
    if (ctrl) {
      const c = ctrl[1]!.toLowerCase();
      if (c >= 'a' && c <= 'z') out.push(c.charCodeAt(0) - 96);
      else if ('@[\\]^_'.includes(c)) out.push(c.charCodeAt(0) - 64);
      else throw new CliError(`invalid detach keys ${JSON.stringify(spec)}: unknown character ${JSON.stringify(k)}`);
    } else if (k.length === 1) {
      out.push(k.charCodeAt(0));
    } else {
      throw new CliError(`invalid detach keys ${JSON.stringify(spec)}: unknown character ${JSON.stringify(k)}`);
    }
  }
  return Buffer.from(out);
}

/**
 * Passes input through until it contains `keys` in a row; bytes that may start the sequence are
 * held back until it is clear they do not. `onDetach` is called instead of passing the sequence.
 */
export function detachFilter(keys: Buffer, pass: (b: Buffer) => void, onDetach: () => void): (chunk: Buffer) => void {
  let matched = 0;
  return (chunk) => {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === keys[matched]) {
        matched++;
        if (matched === keys.length) {
          if (out.length) pass(Buffer.from(out));
          onDetach();
          return;
        }
        continue;
      }
      // Not the sequence after all: what was held goes through.
      for (let i = 0; i < matched; i++) out.push(keys[i]!);
      matched = 0;
      if (byte === keys[0]) matched = 1;
      else out.push(byte);
    }
    if (out.length) pass(Buffer.from(out));
  };
}

/** Go's strconv.ParseBool, as Docker's boolean flags take their values. */
function parseGoBool(value: string, flag: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new CliError(`invalid argument ${JSON.stringify(value)} for "${flag}" flag: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
}


/**
 * The terminal side of an attachment: stdin (when `stdin`) through the detach-keys filter, output to
 * our stdout/stderr, raw mode and the window size with a tty, signals proxied without one. Resolves
 * with the container's exit code, or 0 when the user detached.
 */
export async function attachedSession(c: DetachedContainer, opts: { stdin: boolean; tty: boolean; sigProxy: boolean; detachKeys: Buffer }): Promise<number> {
  const cleanups: Array<() => void> = [];
  let resolveDetach!: () => void;
  const onDetach = new Promise<null>((resolve) => (resolveDetach = () => resolve(null)));
  try {
    const outputDone: Array<Promise<void>> = [];
    const pipeOut = (from: NodeJS.ReadableStream | null, to: NodeJS.WriteStream) => {
      if (!from) return;
      outputDone.push(new Promise<void>((resolve) => from.once('end', resolve)));
      from.pipe(to, { end: false });
    };
    pipeOut(c.stdout, process.stdout);
    pipeOut(c.stderr, process.stderr);

    if (opts.tty) {
      const term = process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : undefined;
      if (term) {
        const resize = () => term.columns && term.rows && c.resize(term.rows, term.columns);
        resize();
        term.on('resize', resize);
        cleanups.push(() => term.off('resize', resize));
      }
    } else if (opts.sigProxy) {
      for (const signal of proxiedSignals) {
        const handler = () => {
          try {
            c.kill(signal);
          } catch {
            /* it has ended */
          }
        };
        process.on(signal, handler);
        cleanups.push(() => process.off(signal, handler));
      }
    }

    const input = c.stdin;
    if (opts.stdin && input) {
      const stdin = process.stdin;
      if (opts.tty && stdin.isTTY) {
        stdin.setRawMode(true);
        const restore = () => {
          try {
            stdin.setRawMode(false);
          } catch {
            /* stdin is gone */
          }
        };
        process.once('exit', restore);
        cleanups.push(() => {
          restore();
          process.off('exit', restore);
        });
      }
      // Input the container does not take yet pauses ours (back-pressure through the monitor).
      const filter = detachFilter(
        opts.detachKeys,
        (b) => {
          if (!input.write(b)) {
            stdin.pause();
            input.once('drain', () => stdin.resume());
          }
        },
        resolveDetach,
      );
      const onData = (d: Buffer) => filter(d);
      // End of our input is the end of the container's (when it was created with -i: StdinOnce).
      const onEnd = () => input.end();
      stdin.on('data', onData);
      stdin.once('end', onEnd);
      cleanups.push(() => {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        stdin.pause();
      });
    }

    const status = await Promise.race([c.wait(), onDetach]);
    if (!status) {
      c.detach();
      return 0;
    }
    // What the container wrote last reaches our stdout before we exit (bounded: never hang here).
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(outputDone), new Promise<void>((r) => (timer = setTimeout(r, 2000)))]);
    clearTimeout(timer);
    if (status.oomKilled) writeStderr(`pocker: container ${c.name} was killed: out of memory (OOM)\n`);
    return status.exitCode;
  } finally {
    for (const f of cleanups.reverse()) f();
  }
}

interface StartFlags {
  attach?: boolean;
  interactive?: boolean;
  detachKeys?: string;
  root?: string;
}

export function addAttachCommands(program: Command, ctx: CliContext): void {
  program
    .command('start')
    .description('Start one or more stopped containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-a, --attach', "Attach STDOUT/STDERR and forward signals")
    .option('-i, --interactive', "Attach container's STDIN")
    .option('--detach-keys <keys>', 'Override the key sequence for detaching a container', DEFAULT_DETACH_KEYS)
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: StartFlags, cmd: Command) => {
      const root = rootOf(ctx, flags, cmd);
      const attach = !!flags.attach || !!flags.interactive;
      if (attach && refs.length > 1) {
        reportFailure(ctx, new CliError('you cannot start and attach multiple containers at once'));
        return;
      }
      const { start } = await import('../runtime/run.js');
      ctx.exitCode = 0;
      if (attach) {
        try {
          const keys = parseDetachKeys(flags.detachKeys ?? DEFAULT_DETACH_KEYS);
          const { inspectContainer } = await import('../state/api.js');
          const tty = (await inspectContainer(refs[0]!, root ? { root } : {})).Config.Tty;
          if (tty && flags.interactive && !isatty(0)) throw new CliError('the input device is not a TTY');
          const c = await start(refs[0]!, { attach: true, ...(root ? { root } : {}) });
          ctx.exitCode = await attachedSession(c, { stdin: !!flags.interactive, tty, sigProxy: true, detachKeys: keys });
        } catch (err) {
          reportFailure(ctx, err, 'start');
        }
        return;
      }
      for (const ref of refs) {
        try {
          await start(ref, root ? { root } : {});
          writeStdout(`${ref}\n`);
        } catch (err) {
          reportFailure(ctx, err, 'start');
        }
      }
    });

  program
    .command('restart')
    .description('Restart one or more containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-t, --time <seconds>', 'Seconds to wait before killing the container', (v) => {
      if (!/^-?\d+$/.test(v)) throw new CliError(`invalid --time ${JSON.stringify(v)}: a whole number of seconds`);
      return Number(v);
    })
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { time?: number; root?: string }, cmd: Command) => {
      const root = rootOf(ctx, flags, cmd);
      const { restartContainer } = await import('../runtime/lifecycle.js');
      ctx.exitCode = 0;
      for (const ref of refs) {
        try {
          await restartContainer(ref, { ...(root ? { root } : {}), ...(flags.time !== undefined ? { timeout: flags.time } : {}) });
          writeStdout(`${ref}\n`);
        } catch (err) {
          reportFailure(ctx, err, 'start');
        }
      }
    });

  program
    .command('attach')
    .description("Attach local standard input, output, and error streams to a running container")
    .usage('[OPTIONS] CONTAINER')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'Container id, id prefix or name')
    .option('--no-stdin', 'Do not attach STDIN')
    .option('--sig-proxy <bool>', 'Proxy all received signals to the process (non-TTY mode only)', 'true')
    .option('--detach-keys <keys>', 'Override the key sequence for detaching a container', DEFAULT_DETACH_KEYS)
    .option('--root <dir>', ROOT_HELP)
    .action(async (ref: string, flags: { stdin: boolean; sigProxy: string; detachKeys: string; root?: string }, cmd: Command) => {
      const root = rootOf(ctx, flags, cmd);
      try {
        // Go's bool flag: `--sig-proxy` (made `--sig-proxy=true` by normalizeArgv), `--sig-proxy=false`.
        const sigProxy = parseGoBool(flags.sigProxy, '--sig-proxy');
        const keys = parseDetachKeys(flags.detachKeys);
        const { inspectContainer } = await import('../state/api.js');
        const config = (await inspectContainer(ref, root ? { root } : {})).Config;
        const stdin = flags.stdin && config.OpenStdin;
        if (config.Tty && stdin && !isatty(0)) throw new CliError('the input device is not a TTY');
        const { attach } = await import('../runtime/run.js');
        const c = await attach(ref, root ? { root } : {});
        ctx.exitCode = await attachedSession(c, { stdin, tty: config.Tty, sigProxy, detachKeys: keys });
      } catch (err) {
        reportFailure(ctx, err, 'start');
      }
    });
}

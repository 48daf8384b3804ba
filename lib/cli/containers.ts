// `pocker ps | stop | kill | wait | rm | inspect`: the lifecycle commands over the on-disk state
// (containers/<id>/config.json and the monitor's state.json), with Docker's output. The work is in
// lib/state/api.ts; this file parses flags and prints (`ps`, the biggest, is in ./ps.ts).
import { InvalidArgumentError, type Command } from 'commander';

import { addPsCommand } from './ps.js';
import { CliError, reportFailure, TemplateError, UsageError } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { defaultStateRoot } from '../rootless/paths.js';
import { writeStdout } from './stdio.js';

const ROOT_HELP = 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)';

/** commander's parser of an Int flag (the CLI words its error as pflag's: ./usage.ts). */
function integerFlag(value: string): number {
  if (!/^\s*[+-]?\d+\s*$/.test(value) || !Number.isSafeInteger(Number(value))) throw new InvalidArgumentError('Not an integer.');
  return Number(value);
}

function rootOf(ctx: CliContext, flags: { root?: string }, cmd: Command): string {
  return rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
}

/** Runs `fn` for each ref; prints `pocker: <message>` for those that fail and sets exit code 1. */
async function each(ctx: CliContext, refs: string[], fn: (ref: string) => Promise<void>): Promise<void> {
  ctx.exitCode = 0;
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err) {
      reportFailure(ctx, err);
    }
  }
}

/** `ps` alone, as addContainerCommands registers it (the one-command bundle lib/cli/bundles/ps.ts). */
export function addPsOnly(program: Command, ctx: CliContext): void {
  addPsCommand(program, ctx, (flags, cmd) => rootOf(ctx, flags, cmd));
}

export function addContainerCommands(program: Command, ctx: CliContext): void {
  addPsOnly(program, ctx);

  program
    .command('stop')
    .description('Stop one or more running containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    // An Int flag, as Docker's: a bad value is pflag's "invalid argument ... strconv.ParseInt" (exit 125).
    .option('-t, --time <seconds>', "Seconds to wait before killing the container (default: its --stop-timeout, else 10)", integerFlag)
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { time?: number; root?: string }, cmd: Command) => {
      const grace = flags.time;
      const { stopContainer } = await import('../runtime/lifecycle.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        await stopContainer(ref, { ...(grace !== undefined ? { timeout: grace } : {}), root });
        writeStdout(`${ref}\n`);
      });
    });

  program
    .command('kill')
    .description('Kill one or more running containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-s, --signal <signal>', 'Signal to send to the container', 'KILL')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { signal: string; root?: string }, cmd: Command) => {
      const { signalNumber } = await import('../signals.js');
      let sig: number;
      try {
        sig = signalNumber(/^\d+$/.test(flags.signal) ? Number(flags.signal) : (flags.signal as NodeJS.Signals));
      } catch (err) {
        // Docker: the daemon's "Invalid signal: NOPE", exit 1.
        reportFailure(ctx, new CliError(`${(err as Error).message}`, { exitCode: 1 }));
        return;
      }
      const { killContainer } = await import('../runtime/lifecycle.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        await killContainer(ref, { signal: sig, root });
        writeStdout(`${ref}\n`);
      });
    });

  program
    .command('wait')
    .description('Block until one or more containers stop, then print their exit codes')
    .usage('CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { root?: string }, cmd: Command) => {
      const { waitContainer } = await import('../runtime/lifecycle.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        const end = await waitContainer(ref, { root });
        writeStdout(`${end.exitCode}\n`);
      });
    });

  program
    .command('rm')
    .description('Remove one or more containers')
    .usage('[OPTIONS] CONTAINER [CONTAINER...]')
    .helpOption('--help', 'Print usage')
    .argument('<containers...>', 'Container ids, id prefixes or names')
    .option('-f, --force', 'Force the removal of a running container (uses SIGKILL)')
    .option('-v, --volumes', 'Remove anonymous volumes associated with the container')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: { force?: boolean; volumes?: boolean; root?: string }, cmd: Command) => {
      const { removeContainer } = await import('../runtime/lifecycle.js');
      const root = rootOf(ctx, flags, cmd);
      await each(ctx, refs, async (ref) => {
        await removeContainer(ref, { force: !!flags.force, root, ...(flags.volumes ? { volumes: true } : {}) });
        writeStdout(`${ref}\n`);
      });
    });

  addInspectOnly(program, ctx);
}

/** `inspect` alone, as addContainerCommands registers it (the one-command bundle lib/cli/bundles/inspect.ts). */
export function addInspectOnly(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description('Return low-level information on pocker objects (containers, images)')
    .usage('[OPTIONS] NAME|ID [NAME|ID...]')
    .helpOption('--help', 'Print usage')
    .argument('<objects...>', 'Container or image ids, id prefixes or names')
    .option('-f, --format <string>', "Format output using a custom template: 'json', or a Go template")
    .option('--type <string>', 'Only inspect objects of the given type: container, image or volume')
    .option('--root <dir>', ROOT_HELP)
    .action(async (refs: string[], flags: InspectFlags, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        ctx.exitCode = await inspectObjects(ctx, refs, flags, cmd);
      } catch (err) {
        reportFailure(ctx, err);
      }
    });
}

interface InspectFlags {
  format?: string;
  type?: string;
  root?: string;
}

/** The types `inspect --type` takes (Docker's list has swarm objects pocker does not have). */
export const INSPECT_TYPES = ['container', 'image', 'volume'] as const;

/**
 * `pocker inspect`, as Docker's (cli/command/system/inspect.go, cli/command/inspect/inspector.go):
 * each reference is looked up as a container, then as an image, then as a volume (or only as --type says); the
 * objects are printed as one JSON array, or each through the --format template. A template that
 * does not parse is refused before anything is looked up (exit 64); references not found and
 * template execution errors are reported after the output (exit 1).
 */
async function inspectObjects(ctx: CliContext, refs: string[], flags: InspectFlags, cmd: Command): Promise<number> {
  const type = flags.type;
  if (type !== undefined && !(INSPECT_TYPES as readonly string[]).includes(type)) {
    const list = INSPECT_TYPES.map((t) => JSON.stringify(t)).join(', ');
    throw new CliError(type === '' ? `type is empty: must be one of ${list}` : `unknown type: ${JSON.stringify(type)}: must be one of ${list}`, { exitCode: 1 });
  }
  const { checkTemplate, goJson, renderTemplate } = await import('./format.js');
  const format = flags.format ?? '';
  const template = format !== '' && format !== 'json' ? format.replace(/\\t/g, '\t').replace(/\\n/g, '\n') : undefined;
  if (template !== undefined) {
    try {
      checkTemplate(template);
    } catch (err) {
      // Docker: "template parsing error: ...", exit 64 (inspect.Inspect's StatusError).
      if (err instanceof TemplateError) throw new TemplateError(err.message, { exitCode: 64 });
      throw err;
    }
  }
  const root = rootOf(ctx, flags, cmd);
  const imageRoot = (): Promise<string> =>
    flags.root !== undefined || cmd.parent?.opts<{ root?: string }>().root !== undefined || ctx.env.POCKER_ROOT
      ? Promise.resolve(root)
      : import('../image/store.js').then((m) => m.defaultStoreRoot(ctx.env));
  const notFound = (err: unknown) => (err as { code?: unknown }).code === 'ERR_POCKER_NOT_FOUND';
  const objects: unknown[] = [];
  const errors: unknown[] = [];
  for (const ref of refs) {
    try {
      if (type === 'volume') {
        const { inspectVolume } = await import('../volume/index.js');
        objects.push(await inspectVolume(ref, { root }));
        continue;
      }
      if (type !== 'image') {
        try {
          const { inspectContainer } = await import('../state/api.js');
          objects.push(await inspectContainer(ref, { root }));
          continue;
        } catch (err) {
          if (type === 'container' || !notFound(err)) throw err;
        }
      }
      try {
        const { inspectImage } = await import('../image/manage.js');
        objects.push(await inspectImage(ref, { root: await imageRoot() }));
      } catch (err) {
        if (type === 'image' || !notFound(err)) throw err;
      }
      try {
        const { inspectVolume } = await import('../volume/index.js');
        objects.push(await inspectVolume(ref, { root }));
      } catch (err) {
        if (!notFound(err)) throw err;
        // Docker (inspectAll): "error: no such object: <ref>" when no type found it.
        throw new UsageError(`error: no such object: ${ref}`, 1);
      }
    } catch (err) {
      errors.push(err);
    }
  }
  let text = '';
  if (template !== undefined) {
    for (const o of objects) {
      try {
        text += `${renderTemplate(template, o as Record<string, unknown>, { missingKey: 'map' })}\n`;
      } catch (err) {
        errors.push(err instanceof TemplateError ? new TemplateError(err.message, { execution: err.execution, exitCode: 1 }) : err);
      }
    }
    // Docker's TemplateInspector.Flush: an empty result is one empty line.
    if (text === '') text = '\n';
  } else if (format === 'json') {
    text = objects.map((o) => `${goJson(o)}\n`).join('');
  } else {
    text = `${goJson(objects, '    ')}\n`;
  }
  writeStdout(text);
  for (const err of errors) reportFailure(ctx, err);
  return errors.length > 0 ? 1 : 0;
}

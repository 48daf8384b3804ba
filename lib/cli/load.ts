// `pocker load`, `pocker save` and `pocker import`: moving images without a registry, with Docker's
// flags and output (`Loaded image: alpine:latest`, `Loaded image ID: sha256:…`, the id of an
// imported image). The work is in lib/image/archive.ts, loaded only when a command runs.
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';

import type { ArchiveEvent } from '../image/archive.js';
import { CliError, reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { writeStdout } from './stdio.js';

interface LoadFlags {
  input?: string;
  quiet?: boolean;
  root?: string;
}

interface SaveFlags {
  output?: string;
  format?: string;
  root?: string;
}

interface ImportFlags {
  change?: string[];
  message?: string;
  root?: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The state root: the command's --root, a parent's, then $POCKER_ROOT (as `pull`). */
const rootOf = (flags: { root?: string }, cmd: Command, ctx: CliContext): string | undefined => rootFlag(ctx, flags, cmd);


/** Opens FILE for reading with a Docker-like error (`open x: no such file or directory`). */
async function openInput(path: string): Promise<Readable> {
  const { open } = await import('node:fs/promises');
  try {
    const fh = await open(path, 'r');
    return fh.createReadStream();
  } catch (err) {
    const e = err as { code?: string; message?: string };
    const why = e.code === 'ENOENT' ? 'no such file or directory' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : (e.message ?? String(err));
    throw new CliError(`open ${path}: ${why}`, { exitCode: 1 });
  }
}

/** Docker's `Loading layer` line on a terminal (redrawn in place); nothing otherwise. */
async function loadProgress(stream: NodeJS.WriteStream, quiet: boolean): Promise<{ onEvent: (e: ArchiveEvent) => void; stop: () => void }> {
  if (quiet || !stream.isTTY) return { onEvent: () => {}, stop: () => {} };
  const [{ progressBar }, { humanSize: formatSize }] = await Promise.all([import('./progress.js'), import('./format.js')]);
  const humanSize = (n: number) => formatSize(n, 3);
  let open = false;
  let last = 0;
  return {
    onEvent: (e) => {
      if (e.type !== 'layer') return;
      if (e.status === 'Loading layer') {
        // At most ~20 redraws a second (a chunk is 64 KiB), and always the first and the last.
        const now = Date.now();
        if (open && e.current !== e.total && now - last < 50) return;
        last = now;
        const sizes = e.current !== undefined && e.total ? `  ${progressBar(e.current, e.total)}  ${humanSize(e.current)}/${humanSize(e.total)}` : '';
        stream.write(`\r\x1b[2K${e.id}: Loading layer${sizes}`);
        open = true;
      } else {
        stream.write(`\r\x1b[2K${e.id}: ${e.status}\n`);
        open = false;
      }
    },
    stop: () => {
      if (open) stream.write('\n');
      open = false;
    },
  };
}

function addLoad(command: Command, ctx: CliContext): void {
  command
    .description('Load an image from a tar archive or STDIN')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-i, --input <file>', 'Read from tar archive file, instead of STDIN')
    .option('-q, --quiet', 'Suppress the load output')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (flags: LoadFlags, cmd: Command) => {
      const root = rootOf(flags, cmd, ctx);
      const progress = await loadProgress(process.stdout, flags.quiet === true);
      try {
        if (flags.input === undefined && process.stdin.isTTY) throw new CliError('requested load from stdin, but stdin is empty', { exitCode: 1 });
        const input = flags.input === undefined || flags.input === '-' ? process.stdin : await openInput(flags.input);
        const [{ loadImages }, { parseReference }] = await Promise.all([import('../image/archive.js'), import('../image/reference.js')]);
        const replaced: string[] = [];
        const names = await loadImages(input, {
          ...(root ? { root } : {}),
          onEvent: (e) => {
            progress.onEvent(e);
            if (e.type === 'replaced') {
              replaced.push(`The image ${parseReference(e.name).familiar} already exists, renaming the old one with ID ${e.previousId} to empty string\n`);
            }
          },
        });
        progress.stop();
        let out = replaced.join('');
        for (const name of names) {
          out += /^sha(256|512):/.test(name) ? `Loaded image ID: ${name}\n` : `Loaded image: ${parseReference(name).familiar}\n`;
        }
        writeStdout(out);
        ctx.exitCode = 0;
      } catch (err) {
        progress.stop();
        reportFailure(ctx, err);
      }
    });

}

function addSave(command: Command, ctx: CliContext): void {
  command
    .description('Save one or more images to a tar archive (streamed to STDOUT by default)')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .helpOption('--help', 'Print usage')
    .argument('<images...>', 'Images (names or ids)')
    .option('-o, --output <file>', 'Write to a file, instead of STDOUT')
    .option('--format <format>', 'docker (an OCI layout plus manifest.json, as Docker 25+) or oci (the OCI layout only)', 'docker')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (images: string[], flags: SaveFlags, cmd: Command) => {
      const root = rootOf(flags, cmd, ctx);
      try {
        if (flags.format !== 'docker' && flags.format !== 'oci') throw new CliError(`invalid --format ${JSON.stringify(flags.format)}: docker or oci`, { exitCode: 1 });
        const format: 'docker' | 'oci' = flags.format;
        if (flags.output === undefined && process.stdout.isTTY) throw new CliError('cowardly refusing to save to a terminal. Use the -o flag or redirect', { exitCode: 1 });
        const { saveImages } = await import('../image/archive.js');
        const options = { ...(root ? { root } : {}), format };
        if (flags.output === undefined || flags.output === '-') {
          await saveImages(images, process.stdout as unknown as Writable, options);
        } else {
          const { writeToFile } = await import('./output.js');
          await writeToFile(flags.output, (out) => saveImages(images, out, options));
        }
        ctx.exitCode = 0;
      } catch (err) {
        reportFailure(ctx, err);
      }
    });

}

function addImport(command: Command, ctx: CliContext): void {
  command
    .description('Import the contents from a tarball to create a filesystem image')
    .usage('[OPTIONS] file|- [REPOSITORY[:TAG]]')
    .helpOption('--help', 'Print usage')
    .argument('<file>', 'A root filesystem tarball (plain, gzip or zstd), or - for STDIN')
    .argument('[reference]', 'REPOSITORY[:TAG] to name the image')
    .option('-c, --change <instruction>', 'Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)', collect)
    .option('-m, --message <message>', 'Set commit message for imported image')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (file: string, reference: string | undefined, flags: ImportFlags, cmd: Command) => {
      const root = rootOf(flags, cmd, ctx);
      try {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) throw new CliError(`importing from a URL (${file}) is not supported: download it first`, { exitCode: 1 });
        const { importRootfs, parseChanges } = await import('../image/archive.js');
        parseChanges(flags.change ?? []); // bad changes fail before any input is read
        const input = file === '-' ? process.stdin : await openInput(file);
        const id = await importRootfs(input, {
          ...(root ? { root } : {}),
          ...(reference !== undefined ? { reference } : {}),
          changes: flags.change ?? [],
          ...(flags.message !== undefined ? { message: flags.message } : {}),
          source: file,
        });
        writeStdout(`${id}\n`);
        ctx.exitCode = 0;
      } catch (err) {
        reportFailure(ctx, err);
      }
    });
}

/** `load`, `save`, `import`; also as `image load|save|import` when the `image` command exists. */
export function addArchiveCommands(program: Command, ctx: CliContext): Command {
  addLoad(program.command('load'), ctx);
  addSave(program.command('save'), ctx);
  addImport(program.command('import'), ctx);
  const image = program.commands.find((c) => c.name() === 'image');
  if (image) {
    addLoad(image.command('load'), ctx);
    addSave(image.command('save'), ctx);
    addImport(image.command('import'), ctx);
  }
  return program;
}

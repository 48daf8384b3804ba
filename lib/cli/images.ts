// Image management with Docker's output: `images` (`image ls`), `rmi` (`image rm`), `tag`
// (`image tag`), `image inspect`, `image prune`, `system df`, `login`, `logout`. The work is done by
// the library (lib/image/manage.ts: listImages, removeImage, tagImage, inspectImage, pruneImages,
// systemDf; lib/image/auth.ts: login, logout); this file parses flags, prompts, and prints.
//
// Docker's formatting (go-units sizes, HumanDuration, tabwriter tables, Go's JSON, `--format`
// templates) is in ./format.ts, shared with `ps`.
//
// This file must stay cheap to import (`pocker --version` loads the whole CLI bundle's entry): the
// library, the store, the registry client and the credentials code are loaded when a command runs.
import { Option, type Command } from 'commander';

import type { ImageInspect, ImageInfo } from '../image/manage.js';
import { repoDigest, shortImageId, shownReference, splitName } from '../image/names.js';
import type { ImageEntry } from '../image/store.js';
import { formatTable, goJson, goTimeString, humanSize, parseFormat, renderRows, renderTemplate, timeAgo } from './format.js';
import { isoTime } from '../state/timestamps.js';
import { CliError, guard, reportFailure } from './failure.js';
import type { CliContext } from './run.js';
import { writeStdout } from './stdio.js';

// ---------------------------------------------------------------------------------------------
// Shared plumbing


interface RootFlags {
  root?: string;
}

const rootOption = () =>
  new Option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)').hideHelp();

/** The state root: --root (the command's or the program's), else $POCKER_ROOT, else the store's default. */
async function rootOf(cmd: Command, ctx: CliContext): Promise<string> {
  const root = cmd.optsWithGlobals<RootFlags>().root ?? (ctx.env.POCKER_ROOT || undefined);
  if (root !== undefined) return root;
  const { defaultStoreRoot } = await import('../image/store.js');
  return defaultStoreRoot(ctx.env);
}

async function library(): Promise<typeof import('../image/manage.js')> {
  return import('../image/manage.js');
}

function out(text: string): void {
  writeStdout(text);
}

async function familiarFn(): Promise<(name: string) => string> {
  const { familiarName } = await import('../image/reference.js');
  return familiarName;
}

/** Reads one line from stdin (undefined at end of input). */
function readLine(): Promise<string | undefined> {
  const stdin = process.stdin;
  return new Promise((resolve) => {
    let buf = '';
    const finish = (v: string | undefined) => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.off('error', onEnd);
      stdin.pause();
      resolve(v);
    };
    const onData = (d: string | Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl !== -1) finish(buf.slice(0, nl).replace(/\r$/, ''));
    };
    const onEnd = () => finish(buf === '' ? undefined : buf);
    stdin.on('data', onData);
    stdin.once('end', onEnd);
    stdin.once('error', onEnd);
    stdin.resume();
  });
}

/** Everything on stdin. */
async function readAll(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads a line from a terminal without echoing it (passwords). */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  writeStdout(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    stdin.setRawMode(true);
    const finish = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      writeStdout('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (d: Buffer | string) => {
      for (const c of d.toString()) {
        if (c === '\r' || c === '\n' || c === '\u0004') return finish();
        if (c === '\u0003') return finish(new CliError('interrupted', { exitCode: 130 }));
        if (c === '\u007f' || c === '\b') value = [...value].slice(0, -1).join('');
        else value += c;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

export async function confirm(question: string): Promise<boolean> {
  out(`${question}\nAre you sure you want to continue? [y/N] `);
  const answer = (await readLine())?.trim().toLowerCase();
  if (answer === undefined) out('\n');
  return answer === 'y' || answer === 'yes';
}

// ---------------------------------------------------------------------------------------------
// images / image ls

interface ListFlags extends RootFlags {
  all?: boolean;
  quiet?: boolean;
  digests?: boolean;
  trunc?: boolean;
  format?: string;
}

const IMAGE_HEADERS: Record<string, string> = {
  Containers: 'CONTAINERS',
  CreatedAt: 'CREATED AT',
  CreatedSince: 'CREATED',
  Digest: 'DIGEST',
  ID: 'IMAGE ID',
  Repository: 'REPOSITORY',
  SharedSize: 'SHARED SIZE',
  Size: 'SIZE',
  Tag: 'TAG',
  UniqueSize: 'UNIQUE SIZE',
  VirtualSize: 'VIRTUAL SIZE',
};

/** A row with every field `images --format` may name (its header texts): what a template is checked against. */
const SAMPLE_IMAGE_ROW: Readonly<Record<string, string>> = IMAGE_HEADERS;

/** One row of `images` as Docker's image context has it (keys sorted, as Go marshals a map). */
export function imageRow(
  entry: Pick<ImageEntry, 'name' | 'id' | 'created' | 'manifestDigest' | 'indexDigest'>,
  size: number,
  options: { noTrunc?: boolean; now?: number; familiar?: (name: string) => string; containers?: number; sharedSize?: number } = {},
): Record<string, string> {
  const parts = splitName(entry.name, options.familiar);
  return {
    Containers: options.containers === undefined ? 'N/A' : String(options.containers),
    // A getter, as ps's: the time zone only for a --format (or json) that shows it.
    get CreatedAt() {
      return goTimeString(entry.created);
    },
    CreatedSince: timeAgo(entry.created, options.now),
    Digest: parts.digest ?? repoDigest(entry),
    ID: options.noTrunc ? entry.id : shortImageId(entry.id),
    Repository: parts.repository,
    SharedSize: options.sharedSize === undefined ? 'N/A' : humanSize(options.sharedSize),
    Size: humanSize(size, 3),
    Tag: parts.tag ?? '<none>',
    UniqueSize: options.sharedSize === undefined ? 'N/A' : humanSize(size - options.sharedSize),
    VirtualSize: humanSize(size),
  };
}

async function listImages(reference: string | undefined, flags: ListFlags, cmd: Command, ctx: CliContext): Promise<void> {
  const defaultTable = flags.digests
    ? '{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}'
    : '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}';
  const format = parseFormat(flags.format, defaultTable);
  // Checked before anything is listed: with no images a bad template would go unnoticed.
  if (!flags.quiet) renderTemplate(format.body, SAMPLE_IMAGE_ROW);
  const images: ImageInfo[] = await (await library()).listImages({ root: await rootOf(cmd, ctx), ...(reference !== undefined ? { reference } : {}) });
  if (flags.quiet) {
    const ids = [...new Set(images.map((e) => (flags.trunc === false ? e.id : shortImageId(e.id))))];
    out(ids.map((id) => `${id}\n`).join(''));
    return;
  }
  const familiar = await familiarFn();
  const now = Date.now();
  const rows = images.map((e) => imageRow(e, e.size, { noTrunc: flags.trunc === false, now, familiar }));
  out(renderRows(format, rows, IMAGE_HEADERS));
}

// ---------------------------------------------------------------------------------------------
// rmi / image rm

interface RmiFlags extends RootFlags {
  force?: boolean;
}

async function removeImages(refs: string[], flags: RmiFlags, cmd: Command, ctx: CliContext): Promise<number> {
  const { removeImage } = await library();
  const root = await rootOf(cmd, ctx);
  let code = 0;
  for (const ref of refs) {
    try {
      const { untagged, deleted } = await removeImage(ref, { root, force: flags.force === true });
      out([...untagged.map((n) => `Untagged: ${n}\n`), ...deleted.map((d) => `Deleted: ${d}\n`)].join(''));
    } catch (err) {
      reportFailure(ctx, err);
      code = 1;
    }
  }
  return code;
}

// ---------------------------------------------------------------------------------------------
// tag

async function tagImage(source: string, target: string, cmd: Command, ctx: CliContext): Promise<void> {
  await (await library()).tagImage(source, target, { root: await rootOf(cmd, ctx) });
}

// ---------------------------------------------------------------------------------------------
// history

interface HistoryFlags extends RootFlags {
  human?: boolean | string;
  trunc?: boolean;
  quiet?: boolean;
  format?: string;
}

const HISTORY_HEADERS: Record<string, string> = { ID: 'IMAGE', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', CreatedBy: 'CREATED BY', Size: 'SIZE', Comment: 'COMMENT' };

/** Docker's stringutils.Ellipsis: at most `max` characters, the last one `…` when cut. */
function ellipsis(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

async function imageHistory(ref: string, flags: HistoryFlags, cmd: Command, ctx: CliContext): Promise<void> {
  // pflag's `-H=false` reaches commander as the value "=false".
  const value = typeof flags.human === 'string' ? flags.human.replace(/^=/, '') : flags.human;
  const human = value === undefined || value === true || value === 'true';
  if (typeof value === 'string' && value !== 'true' && value !== 'false') {
    throw new CliError(`invalid argument ${JSON.stringify(value)} for "-H, --human" flag: strconv.ParseBool: parsing ${JSON.stringify(value)}: invalid syntax`);
  }
  const trunc = flags.trunc !== false;
  const items = await (await library()).imageHistory(ref, { root: await rootOf(cmd, ctx) });
  const now = Date.now();
  const rows = items.map((h) => {
    const createdBy = h.CreatedBy.replace(/\t/g, ' ');
    const created = new Date(h.Created * 1000);
    return {
      ID: trunc && h.Id !== '<missing>' ? shortImageId(h.Id) : h.Id,
      CreatedSince: human ? timeAgo(created, now) : isoTime(created).replace(/\.\d{3}Z$/, 'Z'),
      CreatedAt: goTimeString(created),
      CreatedBy: trunc ? ellipsis(createdBy, 45) : createdBy,
      Size: human ? humanSize(h.Size, 3) : String(h.Size),
      Comment: h.Comment,
    };
  });
  if (flags.quiet) {
    out(rows.map((r) => `${r.ID}\n`).join(''));
    return;
  }
  const format = parseFormat(flags.format, '{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}');
  out(format.json ? rows.map((r) => `${goJson(r)}\n`).join('') : renderRows(format, rows, HISTORY_HEADERS));
}

function addHistory(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Show the history of an image')
    .usage('[OPTIONS] IMAGE')
    .argument('<image>', 'Image name or id')
    .option('-H, --human [bool]', 'Print sizes and dates in human readable format (default true)')
    .option('--no-trunc', "Don't truncate output")
    .option('-q, --quiet', 'Only show image IDs')
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .addOption(rootOption())
    .action((image: string, flags: HistoryFlags, c: Command) => guard(ctx, () => imageHistory(image, flags, c, ctx)));
}

// ---------------------------------------------------------------------------------------------
// image inspect

interface InspectFlags extends RootFlags {
  format?: string;
}

async function inspectImages(refs: string[], flags: InspectFlags, cmd: Command, ctx: CliContext): Promise<number> {
  const { inspectImage } = await library();
  const root = await rootOf(cmd, ctx);
  const objects: ImageInspect[] = [];
  const errors: string[] = [];
  for (const ref of refs) {
    try {
      objects.push(await inspectImage(ref, { root }));
    } catch (err) {
      // Docker names an unknown image as given; other failures end the command.
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_POCKER_NOT_FOUND') errors.push(`Error: No such image: ${ref}`);
      else if (code === 'ERR_POCKER_AMBIGUOUS') errors.push(`Error: ${(err as Error).message}`);
      else throw err;
    }
  }
  if (flags.format !== undefined && flags.format !== '' && flags.format !== 'json') {
    const body = flags.format.replace(/\\t/g, '\t').replace(/\\n/g, '\n');
    out(objects.map((o) => `${renderTemplate(body, o as unknown as Record<string, unknown>)}\n`).join(''));
  } else {
    out(`${goJson(objects, '    ')}\n`);
  }
  for (const e of errors) ctx.writeErr(`${e}\n`);
  return errors.length ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// image prune

interface PruneFlags extends RootFlags {
  all?: boolean;
  force?: boolean;
  /** system prune --volumes: anonymous volumes no container uses too. */
  volumes?: boolean;
}

async function pruneImages(flags: PruneFlags, cmd: Command, ctx: CliContext): Promise<number> {
  if (!flags.force) {
    const warning = flags.all
      ? 'WARNING! This will remove all images without at least one container associated to them.'
      : 'WARNING! This will remove all dangling images.';
    if (!(await confirm(warning))) return 0;
  }
  const result = await (await library()).pruneImages({ root: await rootOf(cmd, ctx), all: flags.all === true });
  const lines = [...result.untagged.map((n) => `untagged: ${n}`), ...result.deleted.map((d) => `deleted: ${d}`)];
  if (lines.length) out(`Deleted Images:\n${lines.map((l) => `${l}\n`).join('')}\n`);
  out(`Total reclaimed space: ${humanSize(result.reclaimed)}\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// system prune

/**
 * Docker's `system prune`: stopped (and damaged) containers, with what no record explains (monitors
 * and cgroups of containers whose directory was deleted, stale name claims), then dangling images
 * (every image no container uses with -a). pocker has no networks, volumes or build cache to prune.
 */
async function systemPrune(flags: PruneFlags, cmd: Command, ctx: CliContext): Promise<number> {
  if (!flags.force) {
    const what = [
      'all stopped containers',
      'all networks not used by at least one container',
      ...(flags.volumes ? ['all anonymous volumes not used by at least one container'] : []),
      flags.all ? 'all images without at least one container associated to them' : 'all dangling images',
    ];
    if (!(await confirm(`WARNING! This will remove:\n${what.map((w) => `  - ${w}\n`).join('')}`))) return 0;
  }
  const root = await rootOf(cmd, ctx);
  const { pruneContainers } = await import('../runtime/lifecycle.js');
  const { defaultStateRoot } = await import('../rootless/paths.js');
  // The containers' root is the container commands' (the image store's default differs when rootless).
  const containerRoot = cmd.optsWithGlobals<RootFlags>().root ?? (ctx.env.POCKER_ROOT || defaultStateRoot(ctx.env));
  const containers = await pruneContainers({ root: containerRoot });
  if (containers.deleted.length) out(`Deleted Containers:\n${containers.deleted.map((id) => `${id}\n`).join('')}\n`);
  // Networks (and what dead containers left of theirs: leases, rules, ports), when the root has any.
  const { existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  if (existsSync(join(containerRoot, 'networks'))) {
    const { pruneNetworks } = await import('../network/api.js');
    const nets = await pruneNetworks({ root: containerRoot });
    if (nets.deleted.length) out(`Deleted Networks:\n${nets.deleted.map((n) => `${n}\n`).join('')}\n`);
  }
  // --volumes: the anonymous ones (Docker ≥ 23), in the containers' root.
  const volumes = flags.volumes ? await (await import('../volume/index.js')).pruneVolumes({ root: containerRoot }) : { deleted: [], reclaimedBytes: 0 };
  if (volumes.deleted.length) out(`Deleted Volumes:\n${volumes.deleted.map((n) => `${n}\n`).join('')}\n`);
  const images = await (await library()).pruneImages({ root, all: flags.all === true });
  const lines = [...images.untagged.map((n) => `untagged: ${n}`), ...images.deleted.map((d) => `deleted: ${d}`)];
  if (lines.length) out(`Deleted Images:\n${lines.map((l) => `${l}\n`).join('')}\n`);
  out(`Total reclaimed space: ${humanSize(containers.reclaimedBytes + volumes.reclaimedBytes + images.reclaimed)}\n`);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// system df

interface DfFlags extends RootFlags {
  verbose?: boolean;
  format?: string;
}

const DF_HEADERS: Record<string, string> = {
  Type: 'TYPE',
  TotalCount: 'TOTAL',
  Active: 'ACTIVE',
  Size: 'SIZE',
  Reclaimable: 'RECLAIMABLE',
};

/** Docker's RECLAIMABLE cell: `1.2MB (40%)` (no percentage when the total is 0). */
export function reclaimableCell(reclaimable: number, total: number): string {
  return total > 0 ? `${humanSize(reclaimable)} (${Math.trunc((reclaimable * 100) / total)}%)` : humanSize(reclaimable);
}

/** How `system df -v` names an image: `repo:tag`, or `repo@<12 hex digits>` for a name by digest. */
function dfImageName(stored: string, familiar: (name: string) => string): string {
  const p = splitName(stored, familiar);
  return p.digest ? `${p.repository}@${shortImageId(p.digest)}` : shownReference(p);
}

async function systemDf(flags: DfFlags, cmd: Command, ctx: CliContext): Promise<void> {
  const format = parseFormat(flags.format, '{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}');
  const df = await (await library()).systemDf({ root: await rootOf(cmd, ctx), verbose: flags.verbose === true });
  // Volumes live in the containers' root (the image store's default differs when rootless).
  const { defaultStateRoot } = await import('../rootless/paths.js');
  const volumes = await (await import('../volume/index.js')).volumeDiskUsage({ root: cmd.optsWithGlobals<RootFlags>().root ?? (ctx.env.POCKER_ROOT || defaultStateRoot(ctx.env)) });
  const volumeBytes = volumes.reduce((n, v) => n + v.UsageData.Size, 0);
  const unusedVolumeBytes = volumes.reduce((n, v) => n + (v.UsageData.RefCount ? 0 : v.UsageData.Size), 0);
  const rows = [
    { Type: 'Images', TotalCount: String(df.images.count), Active: String(df.images.active), Size: humanSize(df.images.size), Reclaimable: reclaimableCell(df.images.reclaimable, df.images.size) },
    {
      Type: 'Containers',
      TotalCount: String(df.containers.count),
      Active: String(df.containers.active),
      Size: humanSize(df.containers.size),
      Reclaimable: reclaimableCell(df.containers.reclaimable, df.containers.size),
    },
    {
      Type: 'Local Volumes',
      TotalCount: String(volumes.length),
      Active: String(volumes.filter((v) => v.UsageData.RefCount > 0).length),
      Size: humanSize(volumeBytes),
      Reclaimable: reclaimableCell(unusedVolumeBytes, volumeBytes),
    },
    { Type: 'Build Cache', TotalCount: '0', Active: '0', Size: '0B', Reclaimable: '0B' },
  ];
  if (!df.details) {
    out(renderRows(format, rows, DF_HEADERS));
    return;
  }
  // -v: per image (Docker's columns), per layer, per container.
  const familiar = await familiarFn();
  const now = Date.now();
  const imageRows = df.details.images.map((e) => imageRow(e, e.size, { now, familiar, containers: e.containers, sharedSize: e.sharedSize }));
  let text = 'Images space usage:\n\n';
  text += renderRows(
    { table: true, body: '{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}' },
    imageRows,
    IMAGE_HEADERS,
  );
  text += '\nLayers space usage:\n\n';
  const layerRows = df.details.layers.map((l) => ({
    ID: shortImageId(l.chainId),
    Size: humanSize(l.size),
    Images: l.images.length ? l.images.map((n) => dfImageName(n, familiar)).join(', ') : '<none>',
  }));
  text += renderRows({ table: true, body: '{{.ID}}\t{{.Size}}\t{{.Images}}' }, layerRows, { ID: 'LAYER ID', Size: 'SIZE', Images: 'IMAGES' });
  text += '\nContainers space usage:\n\n';
  const containerRows = df.details.containers.map((c) => ({
    ID: c.id.slice(0, 12),
    Image: c.image ? dfImageName(c.image, familiar) : '<none>',
    Size: humanSize(c.size),
    Status: c.running ? 'Running' : 'Exited',
  }));
  text += renderRows({ table: true, body: '{{.ID}}\t{{.Image}}\t{{.Size}}\t{{.Status}}' }, containerRows, {
    ID: 'CONTAINER ID',
    Image: 'IMAGE',
    Size: 'SIZE',
    Status: 'STATUS',
  });
  text += '\nLocal Volumes space usage:\n\n';
  text += formatTable([['VOLUME NAME', 'LINKS', 'SIZE'], ...volumes.map((v) => [v.Name, String(v.UsageData.RefCount), humanSize(v.UsageData.Size)])]);
  text += '\nBuild cache usage: 0B\n';
  text += `\nCompressed blobs kept for save and push (not counted above): ${humanSize(df.blobs)}\n`;
  out(text);
}

// ---------------------------------------------------------------------------------------------
// login / logout

interface LoginFlags {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
}

/** How Docker names a registry in login/logout messages (Docker Hub: its v1 index URL). */
function registryDisplay(registry: string): string {
  return registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
}

async function login(server: string | undefined, flags: LoginFlags, ctx: CliContext): Promise<void> {
  // A bad server name is reported before any prompt.
  const { normalizeRegistry } = await import('../image/reference.js');
  const registry = normalizeRegistry(server ?? 'docker.io');
  let username = flags.username;
  let password = flags.password;
  if (password !== undefined && flags.passwordStdin) throw new CliError('--password and --password-stdin are mutually exclusive', { exitCode: 1 });
  if (flags.passwordStdin) {
    if (!username) throw new CliError('Must provide --username with --password-stdin', { exitCode: 1 });
    password = (await readAll()).replace(/\r?\n$/, '');
  } else if (password !== undefined) {
    ctx.writeErr('WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n');
  }
  const { isatty } = await import('node:tty');
  if (!username || password === undefined) {
    if (!isatty(0)) throw new CliError('Error: Cannot perform an interactive login from a non TTY device', { exitCode: 1 });
    if (!username) {
      out('Username: ');
      username = (await readLine())?.trim();
      if (!username) throw new CliError('Error: Non-null Username Required', { exitCode: 1 });
    }
    if (password === undefined) password = await readHidden('Password: ');
  }
  if (password === '') throw new CliError('Error: Password Required', { exitCode: 1 });
  const auth = await import('../image/auth.js');
  await auth.login({ server: registry, username, password });
  out('Login Succeeded\n');
}

async function logout(server: string | undefined): Promise<void> {
  const auth = await import('../image/auth.js');
  const { registry, removed } = await auth.logout(server ?? 'docker.io');
  out(removed ? `Removing login credentials for ${registryDisplay(registry)}\n` : `Not logged in to ${registryDisplay(registry)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Registration

function addList(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('List images')
    .usage('[OPTIONS] [REPOSITORY[:TAG]]')
    .argument('[reference]', 'Show only the images of this repository (and tag); globs allowed')
    .option('-a, --all', 'Show all images (default hides intermediate images)')
    .option('-q, --quiet', 'Only show image IDs')
    .option('--digests', 'Show digests')
    .option('--no-trunc', "Don't truncate output")
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .addOption(rootOption())
    .action((reference: string | undefined, flags: ListFlags, c: Command) => guard(ctx, () => listImages(reference, flags, c, ctx)));
}

function addRemove(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Remove one or more images')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .argument('<images...>', 'Image names or ids')
    .option('-f, --force', 'Force removal of the image')
    .addOption(rootOption())
    .action((images: string[], flags: RmiFlags, c: Command) => guard(ctx, () => removeImages(images, flags, c, ctx)));
}

function addTag(cmd: Command, ctx: CliContext): Command {
  return cmd
    .description('Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE')
    .usage('SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]')
    .argument('<source>', 'Image name or id')
    .argument('<target>', 'New name')
    .addOption(rootOption())
    .action((source: string, target: string, _flags: RootFlags, c: Command) => guard(ctx, () => tagImage(source, target, c, ctx)));
}

/** Adds images, rmi, tag, image (ls, rm, tag, inspect, prune), system df, login and logout. */
export function addImageCommands(program: Command, ctx: CliContext): void {
  addList(program.command('images'), ctx);
  addRemove(program.command('rmi'), ctx);
  addTag(program.command('tag'), ctx);
  addHistory(program.command('history'), ctx);

  const image = program.command('image').description('Manage images').usage('COMMAND').helpCommand(false);
  addList(image.command('ls').alias('list'), ctx);
  addRemove(image.command('rm').alias('rmi').alias('remove'), ctx);
  addTag(image.command('tag'), ctx);
  addHistory(image.command('history'), ctx);
  image
    .command('inspect')
    .description('Display detailed information on one or more images')
    .usage('[OPTIONS] IMAGE [IMAGE...]')
    .argument('<images...>', 'Image names or ids')
    .option('-f, --format <format>', 'Format output using a custom template')
    .addOption(rootOption())
    .action((images: string[], flags: InspectFlags, c: Command) => guard(ctx, () => inspectImages(images, flags, c, ctx)));
  image
    .command('prune')
    .description('Remove unused images')
    .usage('[OPTIONS]')
    .option('-a, --all', 'Remove all unused images, not just dangling ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .addOption(rootOption())
    .action((flags: PruneFlags, c: Command) => guard(ctx, () => pruneImages(flags, c, ctx)));

  const system = program.command('system').description('Manage pocker').usage('COMMAND').helpCommand(false);
  system
    .command('df')
    .description('Show pocker disk usage')
    .usage('[OPTIONS]')
    .option('-v, --verbose', 'Show detailed information on space usage')
    .option('--format <format>', "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or a Go template")
    .addOption(rootOption())
    .action((flags: DfFlags, c: Command) => guard(ctx, () => systemDf(flags, c, ctx)));
  system
    .command('prune')
    .description('Remove unused data')
    .usage('[OPTIONS]')
    .option('-a, --all', 'Remove all unused images not just dangling ones')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option('--volumes', 'Prune anonymous volumes')
    .addOption(rootOption())
    .action((flags: PruneFlags, c: Command) => guard(ctx, () => systemPrune(flags, c, ctx)));

  program
    .command('login')
    .description('Log in to a registry')
    .usage('[OPTIONS] [SERVER]')
    .argument('[server]', 'Registry (default docker.io)')
    .option('-u, --username <username>', 'Username')
    .option('-p, --password <password>', 'Password')
    .option('--password-stdin', 'Take the password from stdin')
    .action((server: string | undefined, flags: LoginFlags) => guard(ctx, () => login(server, flags, ctx)));
  program
    .command('logout')
    .description('Log out from a registry')
    .usage('[SERVER]')
    .argument('[server]', 'Registry (default docker.io)')
    .action((server: string | undefined) => guard(ctx, () => logout(server)));
}

// `pocker network create|ls|inspect|rm|prune|connect|disconnect` (lib/network/api.ts), as Docker
// prints them; the hidden `network __release ID` is what a container's monitor runs at its last end
// (pocker.network.cleanup) to give back its ports, leases and hosts entries.
import type { Command } from 'commander';

import { defaultStateRoot } from '../rootless/paths.js';
import { CliError, reportFailure } from './failure.js';
import { goJson, parseFormat, renderRows, renderTemplate } from './format.js';
import { rootFlag, type CliContext } from './run.js';
import { writeStdout } from './stdio.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const ROOT_OPT = ['--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)'] as const;

function rootOf(ctx: CliContext, flags: { root?: string }, cmd: Command): string {
  return rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
}

/** Usage errors of these commands exit 125 (pocker's own failure), as Docker's daemon errors do for create. */
function fail(ctx: CliContext, err: unknown): void {
  reportFailure(ctx, err, 'usage');
}

export function addNetworkCommands(program: Command, ctx: CliContext): void {
  const network = program.command('network').description('Manage networks').usage('COMMAND').helpCommand(false);

  network
    .command('create')
    .description('Create a network')
    .usage('[OPTIONS] NETWORK')
    .helpOption('--help', 'Print usage')
    .argument('<name>', 'Network name')
    .option('-d, --driver <driver>', 'Driver to manage the Network (bridge)', 'bridge')
    .option('--subnet <cidr>', 'Subnet in CIDR format that represents a network segment', collect)
    .option('--gateway <ip>', 'IPv4 or IPv6 Gateway for the master subnet', collect)
    .option('--internal', 'Restrict external access to the network')
    .option('--ipv6', 'Enable or disable IPv6 networking')
    .option('--label <k=v>', 'Set metadata on a network', collect)
    .option(...ROOT_OPT)
    .action(async (name: string, flags: { driver: string; subnet?: string[]; gateway?: string[]; internal?: boolean; ipv6?: boolean; label?: string[]; root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        const { createNetwork } = await import('../network/api.js');
        const labels: Record<string, string> = {};
        for (const l of flags.label ?? []) {
          const eq = l.indexOf('=');
          labels[eq < 0 ? l : l.slice(0, eq)] = eq < 0 ? '' : l.slice(eq + 1);
        }
        const n = createNetwork(name, {
          root: rootOf(ctx, flags, cmd),
          driver: flags.driver,
          ...(flags.subnet ? { subnets: flags.subnet } : {}),
          ...(flags.gateway ? { gateways: flags.gateway } : {}),
          internal: !!flags.internal,
          ipv6: !!flags.ipv6,
          labels,
        });
        writeStdout(`${n.Id}\n`);
      } catch (err) {
        fail(ctx, err);
      }
    });

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-q, --quiet', 'Only display network IDs')
    .option('--no-trunc', 'Do not truncate the output')
    .option('--format <format>', 'Format output using a custom template')
    .option('-f, --filter <filter>', 'Provide filter values (name=, id=, driver=)', collect)
    .option(...ROOT_OPT)
    .action(async (flags: { quiet?: boolean; trunc: boolean; format?: string; filter?: string[]; root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        const { listNetworks } = await import('../network/api.js');
        let nets = listNetworks({ root: rootOf(ctx, flags, cmd) });
        for (const f of flags.filter ?? []) {
          const [k, v = ''] = f.split('=', 2) as [string, string?];
          if (k === 'name') nets = nets.filter((n) => n.name.includes(v));
          else if (k === 'id') nets = nets.filter((n) => n.id.startsWith(v));
          else if (k === 'driver') nets = nets.filter((n) => n.driver === v);
          else throw new CliError(`invalid filter '${k}'`, { exitCode: 1 });
        }
        const id = (x: string) => (flags.trunc ? x.slice(0, 12) : x);
        if (flags.quiet) {
          writeStdout(nets.map((n) => `${id(n.id)}\n`).join(''));
          return;
        }
        const rows = nets.map((n) => ({ ID: id(n.id), Name: n.name, Driver: n.driver, Scope: n.scope, IPv6: String(n.ipv6), Internal: String(n.internal), CreatedAt: n.created, Labels: Object.entries(n.labels).map(([k, v]) => `${k}=${v}`).join(',') }));
        const format = parseFormat(flags.format, '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}');
        if (format.json) writeStdout(rows.map((r) => `${goJson(r)}\n`).join(''));
        else writeStdout(renderRows(format, rows, { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', CreatedAt: 'CREATED AT', Labels: 'LABELS' }));
      } catch (err) {
        reportFailure(ctx, err);
      }
    });

  network
    .command('inspect')
    .description('Display detailed information on one or more networks')
    .usage('[OPTIONS] NETWORK [NETWORK...]')
    .helpOption('--help', 'Print usage')
    .argument('<networks...>', 'Network names or ids')
    .option('-f, --format <format>', 'Format output using a custom template')
    .option(...ROOT_OPT)
    .action(async (refs: string[], flags: { format?: string; root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      const { inspectNetwork } = await import('../network/api.js');
      const root = rootOf(ctx, flags, cmd);
      const docs: unknown[] = [];
      for (const ref of refs) {
        try {
          docs.push(inspectNetwork(ref, { root }));
        } catch (err) {
          reportFailure(ctx, err);
        }
      }
      if (flags.format) writeStdout(docs.map((d) => `${renderTemplate(flags.format!, d as Record<string, unknown>)}\n`).join(''));
      else writeStdout(`${JSON.stringify(docs, null, 4)}\n`);
    });

  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .usage('NETWORK [NETWORK...]')
    .helpOption('--help', 'Print usage')
    .argument('<networks...>', 'Network names or ids')
    .option('-f, --force', 'Do not error if the network does not exist')
    .option(...ROOT_OPT)
    .action(async (refs: string[], flags: { force?: boolean; root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      const { removeNetwork } = await import('../network/api.js');
      const root = rootOf(ctx, flags, cmd);
      let code = 0;
      for (const ref of refs) {
        try {
          await removeNetwork(ref, { root });
          writeStdout(`${ref}\n`);
        } catch (err) {
          if (flags.force && (err as { code?: string }).code === 'ERR_POCKER_NOT_FOUND') continue;
          reportFailure(ctx, err);
          code = ctx.exitCode || 1;
        }
      }
      ctx.exitCode = code;
    });

  network
    .command('prune')
    .description('Remove all unused networks')
    .usage('[OPTIONS]')
    .helpOption('--help', 'Print usage')
    .option('-f, --force', 'Do not prompt for confirmation')
    .option(...ROOT_OPT)
    .action(async (flags: { root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        const { pruneNetworks } = await import('../network/api.js');
        const r = await pruneNetworks({ root: rootOf(ctx, flags, cmd) });
        if (r.deleted.length) writeStdout(`Deleted Networks:\n${r.deleted.map((n) => `${n}\n`).join('')}`);
      } catch (err) {
        reportFailure(ctx, err);
      }
    });

  network
    .command('connect')
    .description('Connect a container to a network')
    .usage('[OPTIONS] NETWORK CONTAINER')
    .helpOption('--help', 'Print usage')
    .argument('<network>')
    .argument('<container>')
    .option('--ip <ip>', 'IPv4 address')
    .option('--ip6 <ip>', 'IPv6 address')
    .option('--alias <alias>', 'Add network-scoped alias for the container', collect)
    .option(...ROOT_OPT)
    .action(async (net: string, container: string, flags: { ip?: string; ip6?: string; alias?: string[]; root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        const { connectNetwork } = await import('../network/api.js');
        await connectNetwork(net, container, {
          root: rootOf(ctx, flags, cmd),
          ...(flags.ip !== undefined ? { ip: flags.ip } : {}),
          ...(flags.ip6 !== undefined ? { ip6: flags.ip6 } : {}),
          ...(flags.alias ? { aliases: flags.alias } : {}),
        });
      } catch (err) {
        fail(ctx, err);
      }
    });

  network
    .command('disconnect')
    .description('Disconnect a container from a network')
    .usage('[OPTIONS] NETWORK CONTAINER')
    .helpOption('--help', 'Print usage')
    .argument('<network>')
    .argument('<container>')
    .option('-f, --force', 'Force the container to disconnect from a network')
    .option(...ROOT_OPT)
    .action(async (net: string, container: string, flags: { root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        const { disconnectNetwork } = await import('../network/api.js');
        await disconnectNetwork(net, container, { root: rootOf(ctx, flags, cmd) });
      } catch (err) {
        fail(ctx, err);
      }
    });

  // The monitor's cleanup argv (pocker.network.cleanup): hidden from help.
  network
    .command('__release', { hidden: true })
    .argument('<id>')
    .option(...ROOT_OPT)
    .action(async (id: string, flags: { root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        if (!/^[0-9a-f]{64}$/.test(id)) throw new CliError(`invalid container id ${JSON.stringify(id)}`, { exitCode: 125 });
        const { releaseNetworkResources } = await import('../network/api.js');
        await releaseNetworkResources(id, { root: rootOf(ctx, flags, cmd) });
      } catch (err) {
        fail(ctx, err);
      }
    });
}

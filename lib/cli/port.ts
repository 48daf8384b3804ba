// `pocker port CONTAINER [PRIVATE_PORT[/PROTO]]`: a container's published ports, as Docker prints
// them (`80/tcp -> 0.0.0.0:8080`; with a private port, its `0.0.0.0:8080` lines). Read from
// containers/<id>/network.json's `Ports` (Docker's NetworkSettings.Ports shape), which the network
// flow writes when the container starts.
import type { Command } from 'commander';

import { defaultStateRoot } from '../rootless/paths.js';
import { CliError, reportFailure } from './failure.js';
import { rootFlag, type CliContext } from './run.js';
import { writeStdout } from './stdio.js';

export function addPortCommand(program: Command, ctx: CliContext): void {
  program
    .command('port')
    .description('List port mappings or a specific mapping for the container')
    .usage('CONTAINER [PRIVATE_PORT[/PROTO]]')
    .helpOption('--help', 'Print usage')
    .argument('<container>', 'Container id, id prefix or name')
    .argument('[privatePort]', 'PRIVATE_PORT[/PROTO] (tcp unless given)')
    .option('--root <dir>', 'Root directory of pocker state (default $POCKER_ROOT, else /var/lib/pocker as root, ~/.local/share/pocker rootless)')
    .action(async (ref: string, privatePort: string | undefined, flags: { root?: string }, cmd: Command) => {
      ctx.exitCode = 0;
      try {
        if (privatePort !== undefined && !/^\d{1,5}(\/(tcp|udp|sctp))?$/i.test(privatePort)) {
          throw new CliError(`Error: invalid port ${JSON.stringify(privatePort)}: PRIVATE_PORT[/PROTO] (tcp, udp)`, { exitCode: 1 });
        }
        const root = rootFlag(ctx, flags, cmd) ?? defaultStateRoot(ctx.env);
        const { lookupContainer } = await import('../container/index.js');
        const { portLines, readContainerPorts } = await import('../network/ports.js');
        const c = lookupContainer(root, ref);
        const lines = portLines(readContainerPorts(root, c.id), privatePort);
        if (lines === null) {
          const key = privatePort!.includes('/') ? privatePort!.toLowerCase() : `${privatePort}/tcp`;
          throw new CliError(`Error: No public port '${key}' published for ${ref}`, { exitCode: 1 });
        }
        if (lines.length > 0) writeStdout(`${lines.join('\n')}\n`);
      } catch (err) {
        reportFailure(ctx, err);
      }
    });
}

// The userns worker: what a rootless caller cannot do to files owned by its subordinate ids, done
// by a Node process that is root of a user namespace mapped like its containers (started by
// userns.ts as a rootless container of the `host` image). One operation an invocation:
//   extract <dir>    a layer tar on stdin into <dir>, owners as in the tar (userxattr whiteouts)
//   remove <dir>…    each directory emptied (it is a bind mount here: the caller removes it)
// The result is one JSON line on stdout; a failure one JSON line on stderr and exit status 1.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { PockerError } from '../errors.js';
import { extractLayer } from '../image/extract.js';

async function main(argv: string[]): Promise<unknown> {
  const [op, ...args] = argv;
  if (op === 'extract' && args.length === 1) {
    return extractLayer(process.stdin, args[0]!, { chown: true, devices: false, overlayXattrNamespace: 'user' });
  }
  if (op === 'remove' && args.length > 0) {
    for (const dir of args) for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true, force: true });
    return { removed: args.length };
  }
  throw new PockerError('usage: worker extract DIR | remove DIR...', { code: 'ERR_POCKER_INVALID', step: 'validate' });
}

main(process.argv.slice(2)).then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  },
  (err: unknown) => {
    const e = err as { message?: string; code?: string; errno?: number; syscall?: string; path?: string; step?: string };
    process.stderr.write(`${JSON.stringify({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path, step: e.step })}\n`);
    process.exitCode = 1;
  },
);

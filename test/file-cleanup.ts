// A setup file of the system and network projects (vitest.config.ts): after each test file, whatever
// temp dirs its describes made after their own cleanup ran (a later describe's cli() makes a new
// shared root, say) go, and a container it left in its cgroup parent fails that file by name rather
// than the final leftovers check without one. So does anything of this process's that cleanup could
// not remove: a temp dir of its (named with its pid) or its cgroup parent.
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll } from 'vitest';
import { cgroupParentDirs, cleanupAll, processTempPrefix } from './helpers.js';

afterAll(async () => {
  const leftovers = await cleanupAll();
  if (leftovers.length) throw new Error(`this file left container cgroups behind (now removed): ${leftovers.join(', ')}`);
  const dirs = readdirSync(tmpdir()).filter((e) => e.startsWith(processTempPrefix()));
  const cgroups = cgroupParentDirs().filter((d) => existsSync(d));
  if (dirs.length || cgroups.length) throw new Error(`cleanup left this process's (${process.pid}) ${[...dirs, ...cgroups].join(', ')}`);
});

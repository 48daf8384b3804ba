// A setup file of the system and network projects (vitest.config.ts): after each test file, whatever
// temp dirs its describes made after their own cleanup ran (a later describe's cli() makes a new
// shared root, say) go, and a container it left in its cgroup parent fails that file by name rather
// than the final leftovers check without one.
import { afterAll } from 'vitest';
import { cleanupAll } from './helpers.js';

afterAll(async () => {
  const leftovers = await cleanupAll();
  if (leftovers.length) throw new Error(`this file left container cgroups behind (now removed): ${leftovers.join(', ')}`);
});

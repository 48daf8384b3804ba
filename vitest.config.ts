import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the addon, pocker-init and dist/ when missing; installs busybox-static (test/helpers.ts).
    globalSetup: ['test/global-setup.ts'],
    // Containers are real kernel objects: keep files serial so cgroup/mount accounting in the
    // leftovers check is exact, and give the slow emulated cgroup-v2 guest room.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});

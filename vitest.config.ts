import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Containers are real kernel objects: keep files serial so cgroup/mount accounting in the
    // leftovers check is exact, and give the slow emulated cgroup-v2 guest room.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        // test/unit: no root, no build, no packages: plain TypeScript against lib/ (`npm run test:unit`).
        extends: true,
        // POCKER_DEFAULT_NETWORK=none: outside the `network` project no container may get a bridge
        // (pocker's default, as Docker's) on this machine's real network.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], env: { POCKER_DEFAULT_NETWORK: 'none' } },
      },
      {
        // Everything else runs real containers: the global setup builds the addon, pocker-init and
        // dist/ (for the CLI) when missing and installs busybox-static (test/helpers.ts). Vitest runs
        // a project's global setup only when one of its files is selected.
        extends: true,
        test: {
          name: 'system',
          include: ['test/**/*.test.ts'],
          exclude: ['test/unit/**', 'test/network/**'],
          globalSetup: ['test/global-setup.ts'],
          setupFiles: ['test/file-cleanup.ts'],
          env: { POCKER_DEFAULT_NETWORK: 'none' },
        },
      },
      {
        // test/network: bridges, veths, nft rules and published ports. These files run only inside a
        // network namespace of their own (`npm run test:network` = `unshare --net -- vitest ...`; a
        // step of scripts/test.mjs on the host and in the cgroup-v2 guest): their global setup refuses
        // to run in the host's namespace, so nothing they do can reach this machine's real network.
        extends: true,
        test: {
          name: 'network',
          include: ['test/network/**/*.test.ts'],
          globalSetup: ['test/global-setup.ts', 'test/network/global-setup.ts'],
          setupFiles: ['test/file-cleanup.ts'],
        },
      },
    ],
  },
});

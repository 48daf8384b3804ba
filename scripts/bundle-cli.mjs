// Bundles the CLI (lib/cli/main.ts, the runtime it loads, and commander) into one CommonJS file,
// dist/cli.cjs. Start-up is most of a short `pocker run`: one file skips resolving and linking
// some twenty ES modules and commander's CJS-in-ESM wrapper (about 25 ms -> 6 ms here). The
// library (dist/index.js, built by tsc) stays plain ESM.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
await build({
  entryPoints: [join(root, 'lib/cli/main.ts')],
  outfile: join(root, 'dist/cli.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // The addon loader resolves prebuilds/ or build/ at run time.
  external: ['node-gyp-build'],
  define: { 'import.meta.url': '__pockerModuleUrl' },
  banner: { js: "const __pockerModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  minifySyntax: true,
  minifyWhitespace: true,
  sourcemap: false,
  logLevel: 'warning',
});

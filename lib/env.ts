// `-e KEY` (and an env-file line `KEY`): Docker takes the value from the caller's environment and
// drops the entry when KEY is unset there. One definition, for the library's options and the CLI.

/** `KEY=VALUE` as is; `KEY` alone -> `KEY=<env[KEY]>`, or undefined when unset in `env`. */
export function resolveEnvEntry(entry: string, env: NodeJS.ProcessEnv): string | undefined {
  if (entry.includes('=')) return entry;
  const value = env[entry];
  return value === undefined ? undefined : `${entry}=${value}`;
}

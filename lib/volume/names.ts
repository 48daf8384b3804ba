// Volume names and paths: pure (no I/O), for the run options' validation and the store alike.
import { randomHex } from '../random.js';
import { join } from 'node:path';

import { invalid } from '../errors.js';

/** Docker's label of an anonymous volume (moby ≥ 23: `volume prune` without -a removes only these). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/** Docker's names.RestrictedNameChars, the pattern of a local volume's name. */
export const VOLUME_NAME_CHARS = '[a-zA-Z0-9][a-zA-Z0-9_.-]';
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** <root>/volumes/<name>/_data: what a container mounts. */
export function volumeDataDir(root: string, name: string): string {
  return join(root, 'volumes', name, '_data');
}

/**
 * Checks a volume name as moby's local driver does (volume/local/local.go validateName), with its
 * words. Throws ERR_POCKER_INVALID (step `validate`).
 */
export function validateVolumeName(name: unknown, verb = 'create'): string {
  if (typeof name !== 'string' || name === '') throw invalid(`invalid volume name ${JSON.stringify(name)}: must be a non-empty string`);
  if (name.length === 1) throw invalid(`${verb} ${name}: volume name is too short, names should be at least two alphanumeric characters`);
  if (!VOLUME_NAME.test(name)) {
    throw invalid(
      `${verb} ${name}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only ${JSON.stringify(VOLUME_NAME_CHARS)} are allowed. If you intended to pass a host directory, use absolute path`,
    );
  }
  return name;
}

/** A new anonymous volume's name: 64 random hex digits, as Docker's. */
export function randomVolumeName(): string {
  return randomHex(32);
}


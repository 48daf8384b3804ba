// Image references: Docker's normalisation (distribution/reference) as a table, and the errors.
import { describe, expect, it } from 'vitest';

import { PockerError } from '../../lib/errors.js';
import { isDigest, parseDigest } from '../../lib/image/digest.js';
import {
  familiarName,
  manifestReference,
  normalizeRegistry,
  parseReference,
  registryHost,
  withDigest,
  withTag,
} from '../../lib/image/reference.js';

const D = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'0123456789abcdef'.repeat(4)}`;

interface Row {
  input: string;
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
  canonical: string;
  familiar: string;
}

const valid: Row[] = [
  { input: 'alpine', registry: 'docker.io', repository: 'library/alpine', tag: 'latest', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
  { input: 'alpine:3.20', registry: 'docker.io', repository: 'library/alpine', tag: '3.20', canonical: 'docker.io/library/alpine:3.20', familiar: 'alpine:3.20' },
  { input: 'library/alpine', registry: 'docker.io', repository: 'library/alpine', tag: 'latest', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
  { input: 'docker.io/library/alpine', registry: 'docker.io', repository: 'library/alpine', tag: 'latest', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
  { input: 'docker.io/alpine:edge', registry: 'docker.io', repository: 'library/alpine', tag: 'edge', canonical: 'docker.io/library/alpine:edge', familiar: 'alpine:edge' },
  { input: 'index.docker.io/library/alpine', registry: 'docker.io', repository: 'library/alpine', tag: 'latest', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
  { input: 'index.docker.io/alpine', registry: 'docker.io', repository: 'library/alpine', tag: 'latest', canonical: 'docker.io/library/alpine:latest', familiar: 'alpine:latest' },
  { input: 'user/app', registry: 'docker.io', repository: 'user/app', tag: 'latest', canonical: 'docker.io/user/app:latest', familiar: 'user/app:latest' },
  { input: 'user/app:1.0', registry: 'docker.io', repository: 'user/app', tag: '1.0', canonical: 'docker.io/user/app:1.0', familiar: 'user/app:1.0' },
  { input: 'library/a/b', registry: 'docker.io', repository: 'library/a/b', tag: 'latest', canonical: 'docker.io/library/a/b:latest', familiar: 'library/a/b:latest' },
  { input: 'ghcr.io/o/r:tag', registry: 'ghcr.io', repository: 'o/r', tag: 'tag', canonical: 'ghcr.io/o/r:tag', familiar: 'ghcr.io/o/r:tag' },
  { input: 'ghcr.io/r', registry: 'ghcr.io', repository: 'r', tag: 'latest', canonical: 'ghcr.io/r:latest', familiar: 'ghcr.io/r:latest' },
  { input: 'quay.io/a/b/c/d:v1_2-3.x', registry: 'quay.io', repository: 'a/b/c/d', tag: 'v1_2-3.x', canonical: 'quay.io/a/b/c/d:v1_2-3.x', familiar: 'quay.io/a/b/c/d:v1_2-3.x' },
  { input: `localhost:5000/x@${D}`, registry: 'localhost:5000', repository: 'x', digest: D, canonical: `localhost:5000/x@${D}`, familiar: `localhost:5000/x@${D}` },
  { input: 'localhost/x', registry: 'localhost', repository: 'x', tag: 'latest', canonical: 'localhost/x:latest', familiar: 'localhost/x:latest' },
  { input: 'localhost:5000/a/b:t', registry: 'localhost:5000', repository: 'a/b', tag: 't', canonical: 'localhost:5000/a/b:t', familiar: 'localhost:5000/a/b:t' },
  { input: '127.0.0.1:5000/x:1', registry: '127.0.0.1:5000', repository: 'x', tag: '1', canonical: '127.0.0.1:5000/x:1', familiar: '127.0.0.1:5000/x:1' },
  { input: '[::1]:5000/x', registry: '[::1]:5000', repository: 'x', tag: 'latest', canonical: '[::1]:5000/x:latest', familiar: '[::1]:5000/x:latest' },
  { input: 'myhost:5000/x', registry: 'myhost:5000', repository: 'x', tag: 'latest', canonical: 'myhost:5000/x:latest', familiar: 'myhost:5000/x:latest' },
  // An uppercase first component cannot be a namespace, so it is a registry (Docker's rule).
  { input: 'Foo/bar', registry: 'Foo', repository: 'bar', tag: 'latest', canonical: 'Foo/bar:latest', familiar: 'Foo/bar:latest' },
  { input: `alpine@${D}`, registry: 'docker.io', repository: 'library/alpine', digest: D, canonical: `docker.io/library/alpine@${D}`, familiar: `alpine@${D}` },
  // name:tag@digest: the digest is pulled, the tag kept for display.
  { input: `alpine:3.20@${D2}`, registry: 'docker.io', repository: 'library/alpine', tag: '3.20', digest: D2, canonical: `docker.io/library/alpine@${D2}`, familiar: `alpine:3.20@${D2}` },
  { input: `ghcr.io/o/r:v1@${D}`, registry: 'ghcr.io', repository: 'o/r', tag: 'v1', digest: D, canonical: `ghcr.io/o/r@${D}`, familiar: `ghcr.io/o/r:v1@${D}` },
  { input: 'a__b/c-d--e.f_g:Tag_1', registry: 'docker.io', repository: 'a__b/c-d--e.f_g', tag: 'Tag_1', canonical: 'docker.io/a__b/c-d--e.f_g:Tag_1', familiar: 'a__b/c-d--e.f_g:Tag_1' },
  { input: `alpine:${'t'.repeat(128)}`, registry: 'docker.io', repository: 'library/alpine', tag: 't'.repeat(128), canonical: `docker.io/library/alpine:${'t'.repeat(128)}`, familiar: `alpine:${'t'.repeat(128)}` },
  { input: `x@sha512:${'b'.repeat(128)}`, registry: 'docker.io', repository: 'library/x', digest: `sha512:${'b'.repeat(128)}`, canonical: `docker.io/library/x@sha512:${'b'.repeat(128)}`, familiar: `x@sha512:${'b'.repeat(128)}` },
];

describe('parseReference: valid references', () => {
  it.each(valid)('$input', (row) => {
    const ref = parseReference(row.input);
    expect(ref.registry).toBe(row.registry);
    expect(ref.repository).toBe(row.repository);
    expect(ref.tag).toBe(row.tag);
    expect(ref.digest).toBe(row.digest);
    expect(ref.name).toBe(`${row.registry}/${row.repository}`);
    expect(ref.canonical).toBe(row.canonical);
    expect(ref.familiar).toBe(row.familiar);
    // Normalisation is idempotent: the canonical and familiar forms parse to the same reference.
    expect(parseReference(ref.familiar)).toEqual(ref);
    if (!(row.tag && row.digest)) expect(parseReference(ref.canonical)).toEqual(ref);
  });
});

const invalidRows: Array<{ input: string; message: RegExp }> = [
  { input: '', message: /invalid reference format/ },
  { input: 'Alpine', message: /^invalid reference format: repository name must be lowercase$/ },
  { input: 'library/Alpine', message: /^invalid reference format: repository name must be lowercase$/ },
  { input: 'user/App:1', message: /repository name must be lowercase/ },
  { input: 'ghcr.io/Owner/repo', message: /repository name must be lowercase/ },
  { input: 'alpine:', message: /^invalid reference format$/ },
  { input: ':tag', message: /^invalid reference format$/ },
  { input: 'alpine:tag:other', message: /^invalid reference format$/ },
  { input: 'alpine:-tag', message: /^invalid reference format$/ },
  { input: `alpine:${'t'.repeat(129)}`, message: /^invalid reference format$/ },
  { input: '-alpine', message: /^invalid reference format$/ },
  { input: 'alpine-', message: /^invalid reference format$/ },
  { input: 'a//b', message: /^invalid reference format$/ },
  { input: 'a/b/', message: /^invalid reference format$/ },
  { input: '/alpine', message: /^invalid reference format$/ },
  { input: 'alp ine', message: /^invalid reference format$/ },
  { input: 'a...b', message: /^invalid reference format$/ },
  { input: 'https://ghcr.io/o/r', message: /invalid reference format/ },
  { input: 'ghcr.io:port/x', message: /^invalid reference format$/ },
  { input: 'alpine@sha256:abc', message: /invalid reference format: invalid digest/ },
  { input: `alpine@sha256:${'A'.repeat(64)}`, message: /invalid reference format: invalid checksum digest format/ },
  { input: `alpine@sha256:${'a'.repeat(63)}`, message: /invalid reference format: invalid checksum digest length/ },
  { input: `alpine@md5:${'a'.repeat(32)}`, message: /invalid reference format: unsupported digest algorithm/ },
  { input: `alpine@${D}:tag`, message: /invalid reference format/ },
  { input: 'a'.repeat(64), message: /cannot specify 64-byte hexadecimal strings/ },
  { input: `docker.io/${'a'.repeat(250)}`, message: /must not be more than 255 characters/ },
];

describe('parseReference: invalid references', () => {
  it.each(invalidRows)('$input', ({ input, message }) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PockerError);
    const e = err as PockerError;
    expect(e.code).toBe('ERR_POCKER_INVALID');
    expect(e.step).toBe('validate');
    expect(e.message).toMatch(message);
  });
});

describe('reference helpers', () => {
  it('registryHost maps Docker Hub to registry-1.docker.io and leaves others alone', () => {
    expect(registryHost('docker.io')).toBe('registry-1.docker.io');
    expect(registryHost('index.docker.io')).toBe('registry-1.docker.io');
    expect(registryHost(parseReference('alpine').registry)).toBe('registry-1.docker.io');
    expect(registryHost('ghcr.io')).toBe('ghcr.io');
    expect(registryHost('127.0.0.1:5000')).toBe('127.0.0.1:5000');
  });

  it('manifestReference prefers the digest', () => {
    expect(manifestReference(parseReference('alpine'))).toBe('latest');
    expect(manifestReference(parseReference('alpine:3.20'))).toBe('3.20');
    expect(manifestReference(parseReference(`alpine:3.20@${D}`))).toBe(D);
  });

  it('familiarName strips docker.io and library/ only where Docker does', () => {
    expect(familiarName('docker.io/library/alpine')).toBe('alpine');
    expect(familiarName('docker.io/user/app')).toBe('user/app');
    expect(familiarName('docker.io/library/a/b')).toBe('library/a/b');
    expect(familiarName('ghcr.io/library/alpine')).toBe('ghcr.io/library/alpine');
  });

  it('withDigest and withTag', () => {
    const ref = parseReference('alpine:3.20');
    expect(withDigest(ref, D).canonical).toBe(`docker.io/library/alpine@${D}`);
    expect(withDigest(ref, D).familiar).toBe(`alpine:3.20@${D}`);
    expect(withTag(parseReference(`alpine@${D}`), 'mine').canonical).toBe('docker.io/library/alpine:mine');
    expect(() => withTag(ref, 'bad tag')).toThrow(/invalid tag/);
    expect(() => withDigest(ref, 'sha256:zz')).toThrow(PockerError);
  });

  it('normalizeRegistry accepts the forms users type', () => {
    expect(normalizeRegistry('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeRegistry('registry-1.docker.io')).toBe('docker.io');
    expect(normalizeRegistry('docker.io')).toBe('docker.io');
    expect(normalizeRegistry('http://localhost:5000')).toBe('localhost:5000');
    expect(normalizeRegistry('ghcr.io/')).toBe('ghcr.io');
    expect(normalizeRegistry('[::1]:5000')).toBe('[::1]:5000');
    expect(() => normalizeRegistry('not a host')).toThrow(/invalid registry name/);
  });

  it('parseDigest / isDigest', () => {
    expect(parseDigest(D)).toEqual({ algorithm: 'sha256', hex: 'a'.repeat(64) });
    expect(isDigest(D)).toBe(true);
    expect(isDigest('sha256:abc')).toBe(false);
    expect(isDigest(`SHA256:${'a'.repeat(64)}`)).toBe(false);
    expect(isDigest('a'.repeat(64))).toBe(false);
  });
});

// Unit tests of published ports (no root, no kernel objects): -p parsing as Docker's ParsePortSpec,
// -P from ExposedPorts, Docker's PORTS column / `port` lines / NetworkSettings.Ports, the run
// flags and the options' validation, the nft rule tags.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli/main.js';
import type { CliContext } from '../../lib/cli/run.js';
import { psRow } from '../../lib/cli/ps.js';
import { PockerError } from '../../lib/errors.js';
import { rootTag, ruleComment } from '../../lib/network/nft.js';
import {
  exposedPorts,
  formatPortMap,
  formatPorts,
  parsePortSpec,
  parsePublish,
  portLines,
  readContainerPorts,
  toDockerPorts,
  withPublishAll,
  type PortMapping,
} from '../../lib/network/ports.js';
import { resolvePublishOptions, resolveRunOptions } from '../../lib/runtime/options.js';
import type { RunOptions } from '../../lib/types.js';

const spec = (hostIp: string, hs: number, he: number, cs: number, ce: number, protocol: 'tcp' | 'udp' = 'tcp') => ({
  hostIp, hostPortStart: hs, hostPortEnd: he, containerPortStart: cs, containerPortEnd: ce, protocol,
});

function rejects(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(PockerError);
  expect(caught).toMatchObject({ code: 'ERR_POCKER_INVALID', step: 'validate' });
  expect((caught as Error).message).toMatch(message);
}

describe('-p parsing (Docker ParsePortSpec)', () => {
  it('reads every form', () => {
    expect(parsePortSpec('80')).toEqual(spec('', 0, 0, 80, 80));
    expect(parsePortSpec('8080:80')).toEqual(spec('', 8080, 8080, 80, 80));
    expect(parsePortSpec('127.0.0.1:8080:80')).toEqual(spec('127.0.0.1', 8080, 8080, 80, 80));
    expect(parsePortSpec('127.0.0.1::80')).toEqual(spec('127.0.0.1', 0, 0, 80, 80));
    expect(parsePortSpec('0.0.0.0:8080:80/udp')).toEqual(spec('', 8080, 8080, 80, 80, 'udp'));
    expect(parsePortSpec('53/UDP')).toEqual(spec('', 0, 0, 53, 53, 'udp'));
    expect(parsePortSpec('[::1]:8080:80')).toEqual(spec('::1', 8080, 8080, 80, 80));
    expect(parsePortSpec('[fd00::1]::80/tcp')).toEqual(spec('fd00::1', 0, 0, 80, 80));
    expect(parsePortSpec('8000-8002:9000-9002')).toEqual(spec('', 8000, 8002, 9000, 9002));
    expect(parsePortSpec('9000-9002')).toEqual(spec('', 0, 0, 9000, 9002));
    // A host range for one container port: any free port of the range.
    expect(parsePortSpec('8000-8010:80')).toEqual(spec('', 8000, 8010, 80, 80));
    expect(parsePublish(['80', '53/udp'])).toHaveLength(2);
  });

  it('refuses bad values with Docker words', () => {
    rejects(() => parsePortSpec(''), /no port specified/);
    rejects(() => parsePortSpec('8080:'), /no port specified/);
    rejects(() => parsePortSpec('abc'), /invalid containerPort: abc/);
    rejects(() => parsePortSpec('0'), /invalid containerPort: 0/);
    rejects(() => parsePortSpec('70000'), /invalid containerPort: 70000/);
    rejects(() => parsePortSpec('x:80'), /invalid hostPort: x/);
    rejects(() => parsePortSpec('90-80'), /invalid containerPort: 90-80/);
    rejects(() => parsePortSpec('1.2.3:80:80'), /invalid IP address: 1.2.3/);
    rejects(() => parsePortSpec('8000-8001:9000-9002'), /invalid ranges specified for container and host Ports: 9000-9002 and 8000-8001/);
    rejects(() => parsePortSpec('80/sctp'), /invalid proto: sctp/);
    rejects(() => parsePortSpec('80/xyz'), /invalid proto: xyz/);
  });

  it('-P: the image ExposedPorts, minus what -p already publishes', () => {
    const exposed = exposedPorts({ ExposedPorts: { '80/tcp': {}, '53/udp': {}, '443': {}, '132/sctp': {}, 'junk': {} } });
    expect(exposed).toEqual([spec('', 0, 0, 53, 53, 'udp'), spec('', 0, 0, 80, 80), spec('', 0, 0, 443, 443)]);
    expect(exposedPorts(null)).toEqual([]);
    expect(exposedPorts({})).toEqual([]);
    const merged = withPublishAll([parsePortSpec('8080:80')], exposed);
    expect(merged).toEqual([spec('', 8080, 8080, 80, 80), spec('', 0, 0, 53, 53, 'udp'), spec('', 0, 0, 443, 443)]);
  });
});

describe('printing ports as Docker does', () => {
  const m = (hostPort: number, containerPort: number, protocol: 'tcp' | 'udp' = 'tcp', hostIp = ''): PortMapping => ({
    hostIp, hostPort, containerIp: '172.17.0.2', containerPort, protocol,
  });

  it('NetworkSettings.Ports', () => {
    expect(toDockerPorts([m(8080, 80), m(8081, 80, 'tcp', '127.0.0.1')], exposedPorts({ ExposedPorts: { '80/tcp': {}, '443/tcp': {} } }))).toEqual({
      '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }, { HostIp: '127.0.0.1', HostPort: '8081' }],
      '443/tcp': null,
    });
  });

  it('the PORTS column (DisplayablePorts)', () => {
    expect(formatPorts([])).toBe('');
    expect(formatPorts([m(8080, 80)])).toBe('0.0.0.0:8080->80/tcp');
    expect(formatPorts([m(53, 53, 'udp', '127.0.0.1')])).toBe('127.0.0.1:53->53/udp');
    expect(formatPorts([m(8080, 80, 'tcp', '::1')])).toBe('[::1]:8080->80/tcp');
    // Same public and private ports group into ranges; the others are listed after them.
    expect(formatPorts([m(9001, 9001), m(9000, 9000), m(9002, 9002)])).toBe('0.0.0.0:9000-9002->9000-9002/tcp');
    expect(formatPorts([m(8000, 80), m(9000, 9000), m(9001, 9001)])).toBe('0.0.0.0:9000-9001->9000-9001/tcp, 0.0.0.0:8000->80/tcp');
    // Exposed, not published.
    expect(formatPorts([m(8080, 80)], exposedPorts({ ExposedPorts: { '443/tcp': {}, '444/tcp': {} } }))).toBe('443-444/tcp, 0.0.0.0:8080->80/tcp');
  });

  it('pocker port lines', () => {
    const ports = toDockerPorts([m(8080, 80), m(5353, 53, 'udp'), m(8443, 443, 'tcp', '127.0.0.1')]);
    expect(portLines(ports)).toEqual(['53/udp -> 0.0.0.0:5353', '80/tcp -> 0.0.0.0:8080', '443/tcp -> 127.0.0.1:8443']);
    expect(portLines(ports, '80')).toEqual(['0.0.0.0:8080']);
    expect(portLines(ports, '53/udp')).toEqual(['0.0.0.0:5353']);
    expect(portLines(ports, '53')).toBeNull();
    expect(portLines({}, '80')).toBeNull();
    expect(portLines({})).toEqual([]);
  });

  it('reads containers/<id>/network.json and fills the ps row', () => {
    const root = mkdtempSync(join(tmpdir(), 'pocker-ports-'));
    try {
      const id = 'a'.repeat(64);
      mkdirSync(join(root, 'containers', id), { recursive: true });
      expect(readContainerPorts(root, id)).toEqual({});
      writeFileSync(join(root, 'containers', id, 'network.json'), JSON.stringify({ Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null, bogus: 1 } }));
      const ports = readContainerPorts(root, id);
      expect(ports).toEqual({ '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null });
      expect(formatPortMap(ports)).toBe('443/tcp, 0.0.0.0:8080->80/tcp');
      const row = psRow(
        { id, name: 'web', image: 'host', imageId: '', command: 'sh', args: ['sh'], created: '', state: 'running', status: 'Up', pid: 1, exitCode: null, oomKilled: false, restartCount: 0, foreground: false, startedAt: '', finishedAt: '', logPath: '' },
        { ports: (i) => formatPortMap(readContainerPorts(root, i)) },
      );
      expect(row.Ports).toBe('443/tcp, 0.0.0.0:8080->80/tcp');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('options and flags', () => {
  it('RunOptions.publish / publishAll are validated in their own block', () => {
    expect(resolvePublishOptions({})).toEqual({});
    expect(resolvePublishOptions({ publish: [], publishAll: false })).toEqual({});
    expect(resolvePublishOptions({ publish: ['8080:80'], publishAll: true })).toEqual({ publish: [spec('', 8080, 8080, 80, 80)], publishAll: true });
    rejects(() => resolvePublishOptions({ publish: 'x' as unknown as string[] }), /must be an array of strings/);
    rejects(() => resolvePublishOptions({ publishAll: 'yes' as unknown as boolean }), /invalid publishAll/);
    rejects(() => resolveRunOptions({ image: 'host', publish: ['80/xyz'] }, {}), /invalid proto/);
    expect(resolveRunOptions({ image: 'host', publish: ['80'] }, { POCKER_DEFAULT_NETWORK: 'bridge' }).publish).toEqual([spec('', 0, 0, 80, 80)]);
    expect(resolveRunOptions({ image: 'host' }, {}).publish).toBeUndefined();
  });

  it('run -p/--publish and -P/--publish-all', async () => {
    const options: RunOptions[] = [];
    const ctx: CliContext = { env: {}, execute: async (o) => (options.push(o), 0), writeErr: () => {}, exitCode: 0 };
    await runCli(['node', 'pocker', 'run', '-p', '8080:80', '--publish', '53/udp', '-P', 'host', 'true'], ctx);
    expect(options[0]).toMatchObject({ publish: ['8080:80', '53/udp'], publishAll: true, cmd: ['true'] });
    await runCli(['node', 'pocker', 'run', '--publish-all', 'host'], ctx);
    expect(options[1]!.publishAll).toBe(true);
    expect(options[1]!.publish).toBeUndefined();
  });
});

describe('nft rule tags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pocker-tag-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it('pocker:<first 8 hex of sha256(realpath(root))>:<id>', () => {
    expect(rootTag(dir)).toMatch(/^[0-9a-f]{8}$/);
    expect(rootTag(`${dir}/.`)).toBe(rootTag(dir));
    expect(rootTag(dir)).not.toBe(rootTag(`${dir}-other`));
    expect(ruleComment(dir, 'abc')).toBe(`pocker:${rootTag(dir)}:abc`);
  });
});

// No nft program: pocker speaks nf_tables netlink itself (cpp/addon/nft.cpp), so bridge networking
// works on a machine without the `nft` program (a fresh Debian has none). The CLI runs here with a
// PATH that has every program of this machine's PATH but nft; the bridge, masquerade out of the
// network, published ports (-p) from this host and from another container (hairpin) and --internal
// all work, and `nft list` (the test's own check, with the real PATH) shows the rules with their
// comments. Packets go only to containers made here, a namespace made here and 127.0.0.1.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { delimiter, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { listRules, ruleComment } from '../../lib/network/nft.js';
import { readNetworks } from '../../lib/network/store.js';
import { cli, isRoot, pk, removeTempDirs, tempDir, tempRoot, until, type CliResult } from '../helpers.js';

const node = process.execPath;
/** nft, a test tool: by its path (this file's checks, not pocker's runs, use it). */
const NFT = ['/usr/sbin/nft', '/sbin/nft', '/usr/bin/nft'].find((p) => existsSync(p)) ?? 'nft';

/** A directory of links to every program of PATH but nft (first one of a name wins, as in PATH). */
function pathWithoutNft(): string {
  const dir = tempDir();
  const seen = new Set<string>();
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const name of names) {
      if (name === 'nft' || seen.has(name)) continue;
      seen.add(name);
      symlinkSync(join(d, name), join(dir, name));
    }
  }
  return dir;
}

const NO_NFT = pathWithoutNft();
const env = { PATH: NO_NFT };
const pkNoNft = (root: string, ...args: string[]): Promise<CliResult> => cli(['--root', root, ...args], { env });

/** `nft list table inet pocker` with the real PATH (nft is a test tool). */
function tableText(): string {
  try {
    return execFileSync(NFT, ['list', 'table', 'inet', 'pocker'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}

function fetchTcp(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let d = '';
    s.on('data', (x) => (d += String(x)));
    s.on('end', () => resolve(d.trim()));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error(`no answer from ${host}:${port}`)));
  });
}

async function retryTcp(host: string, port: number): Promise<string> {
  let got = '';
  await until(`${host}:${port} to answer`, async () => {
    got = await fetchTcp(host, port);
    return true;
  });
  return got;
}

/** Answers each TCP connection on port 80 with `NAME <the peer's address>`. */
const SERVER = (name: string): string => `require('net').createServer(s=>s.end('${name} '+s.remoteAddress.replace(/^::ffff:/,''))).listen(80,'0.0.0.0',()=>console.log('ready'))`;
/** Connects to HOST (argv[1]) PORT (argv[2]) until it answers or 15 s passed; prints the answer. */
const CLIENT =
  `const [h,p]=process.argv.slice(1);const end=Date.now()+15000;` +
  `const once=()=>new Promise((res,rej)=>{const s=require('net').connect(+p,h);let d='';s.on('data',x=>d+=x);s.on('end',()=>res(d.trim()));s.on('error',rej);s.setTimeout(2000,()=>s.destroy(new Error('timeout')))});` +
  `(async()=>{for(;;){try{console.log(await once());return}catch(e){if(Date.now()>end){console.error(e.message);process.exit(3)}await new Promise(r=>setTimeout(r,50))}}})()`;
/** One attempt: exit 3 when nothing answers within 2 s. */
const CLIENT_ONCE =
  `const s=require('net').connect(+process.argv[2],process.argv[1]);let d='';s.on('data',x=>d+=x);s.on('end',()=>console.log(d.trim()));` +
  `s.on('error',e=>{console.error(e.message);process.exit(3)});s.setTimeout(2000,()=>{console.error('timeout');process.exit(3)})`;

// "Outside": a namespace of its own behind a veth pair (10.98.0.1 here, 10.98.0.2 there), as a
// host's uplink would be; a server there tells the address it sees (masquerade: 10.98.0.1).
let outside: ChildProcess | undefined;
let outsideServer: ChildProcess | undefined;
const roots: string[] = [];

afterAll(async () => {
  for (const root of roots) {
    const ids = (await pk(root, 'ps', '-aq', '--no-trunc')).stdout.split('\n').filter(Boolean);
    if (ids.length) await pk(root, 'rm', '-f', ...ids);
    for (const n of readNetworks(root)) await pk(root, 'network', 'rm', n.name);
  }
  outsideServer?.kill('SIGKILL');
  outside?.kill('SIGKILL');
  try {
    execFileSync('ip', ['link', 'del', 'pkn-out']);
  } catch {
    /* gone with the namespace */
  }
  removeTempDirs();
});

async function makeOutside(): Promise<void> {
  outside = spawn('unshare', ['--net', '--', 'sleep', '1000000'], { stdio: 'ignore' });
  const pid = outside.pid!;
  const mine = readlinkSync('/proc/self/ns/net');
  await until('the outside namespace', () => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`) !== mine && readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
    } catch {
      return false;
    }
  });
  const ns = `--net=/proc/${pid}/ns/net`;
  execFileSync('ip', ['link', 'add', 'pkn-out', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', String(pid)]);
  execFileSync('ip', ['addr', 'add', '10.98.0.1/24', 'dev', 'pkn-out']);
  execFileSync('ip', ['link', 'set', 'pkn-out', 'up']);
  for (const args of [['link', 'set', 'lo', 'up'], ['addr', 'add', '10.98.0.2/24', 'dev', 'eth0'], ['link', 'set', 'eth0', 'up']])
    execFileSync('nsenter', [ns, '--', 'ip', ...args]);
  outsideServer = spawn('nsenter', [ns, '--', node, '-e', SERVER('outside')], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    outsideServer!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    outsideServer!.once('exit', (code) => reject(new Error(`outside server exited ${code}`)));
  });
}

describe.skipIf(!isRoot)('no nft program', () => {
  it('the PATH of these runs has no nft', () => {
    expect(existsSync(join(NO_NFT, 'nft'))).toBe(false);
    expect(() => execFileSync('sh', ['-c', 'command -v nft'], { env, stdio: 'ignore' })).toThrow();
  });

  it('bridge, masquerade, -p (127.0.0.1 and all addresses, hairpin) and --internal work; nft shows the rules with their comments', async () => {
    const root = tempRoot();
    roots.push(root);
    await makeOutside();
    expect((await pkNoNft(root, 'network', 'create', '--subnet', '10.46.0.0/24', 'nonft')).code).toBe(0);
    const srv = await pkNoNft(root, 'run', '-d', '--name', 'srv', '--network', 'nonft', '-p', '127.0.0.1:18090:80', '-p', '18091:80', 'host', node, '-e', SERVER('srv'));
    expect(srv).toMatchObject({ code: 0, stderr: '' });
    const id = srv.stdout.trim();
    // Published ports from this host: 127.0.0.1 and the bridge's address (one of the host's).
    expect(await retryTcp('127.0.0.1', 18090)).toBe('srv 10.46.0.1');
    expect(await retryTcp('10.46.0.1', 18091)).toBe('srv 10.46.0.1');
    // Hairpin: another container of the network through the host's address.
    const hair = await pkNoNft(root, 'run', '--rm', '--network', 'nonft', 'host', node, '-e', CLIENT, '10.46.0.1', '18091');
    expect(hair).toMatchObject({ code: 0, stderr: '', stdout: 'srv 10.46.0.1\n' });
    // Masquerade: out of the network, the outside sees the host's address, not the container's.
    const out = await pkNoNft(root, 'run', '--rm', '--network', 'nonft', 'host', node, '-e', CLIENT, '10.98.0.2', '80');
    expect(out).toMatchObject({ code: 0, stderr: '', stdout: 'outside 10.98.0.1\n' });
    // The rules, as a user's nft shows them.
    const net = readNetworks(root).find((n) => n.name === 'nonft')!;
    const text = tableText();
    expect(text).toContain(`ip saddr 10.46.0.0/24 oifname != "${net.bridge}" masquerade comment "${ruleComment(root, net.id)}"`);
    expect(text).toContain(`ip daddr 127.0.0.1 tcp dport 18090 dnat ip to 10.46.0.2:80 comment "${ruleComment(root, id)}"`);
    expect((await listRules(root)).filter((r) => r.id === id)).toHaveLength(4);

    // --internal: no way out.
    expect((await pkNoNft(root, 'network', 'create', '--internal', '--subnet', '10.47.0.0/24', 'inner')).code).toBe(0);
    const inner = await pkNoNft(root, 'run', '--rm', '--network', 'inner', 'host', node, '-e', CLIENT_ONCE, '10.98.0.2', '80');
    expect(inner.code).not.toBe(0);
    expect(inner.stdout).toBe('');

    // rm -f takes the container's rules; network rm the network's.
    expect((await pkNoNft(root, 'rm', '-f', 'srv')).code).toBe(0);
    expect((await listRules(root)).filter((r) => r.id === id)).toEqual([]);
    await expect(fetchTcp('127.0.0.1', 18090)).rejects.toThrow(/ECONNREFUSED/);
    expect((await pkNoNft(root, 'network', 'rm', 'nonft', 'inner')).code).toBe(0);
    expect(await listRules(root)).toEqual([]);
  });
});

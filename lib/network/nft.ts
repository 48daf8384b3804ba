// pocker's firewall: one nftables table, `inet pocker`, in the network namespace the caller is in.
// It holds the NAT of the bridge networks (masquerade out, hairpin, 127.0.0.1 ports) and the DNAT
// of the published ports, and nothing else of the host's is ever touched.
//
// Why the `nft` program and not a library: there is no maintained npm binding of libnftables or of
// nftables' netlink protocol; linking libnftables into the addon would drag libnftnl, libmnl,
// jansson and gmp into the prebuilt binaries (and their ABI into the glibc baseline); `nft` is what
// every distribution that has nftables ships, and its JSON interface (`nft -j`, libnftables-json(5))
// is a stable, documented interface: rules go in as one JSON document (nft's argument, or a file
// for a big one: see runDocument), the table comes out as JSON (`nft -j list table inet pocker`).
// execFile, never a shell.
//
// When `nft` is absent, an operation that needs a rule (the NAT of a non-internal network, a
// published port) fails with a clear error naming `apt-get install nftables` (ERR_POCKER_UNSUPPORTED,
// step `network`; the CLI exits 125) before anything is created. iptables-nft is NOT used as a
// fallback: it writes into the same kernel nftables through its own `ip filter`/`ip nat` tables
// with iptables semantics (xtables matches, a table per family, no atomic multi-table transaction,
// no rule comments we could match exactly across both families), so cleanup could not be exact and
// it would mix pocker's rules with the host's iptables rules, the very thing one table avoids; a
// host with iptables-nft has the nftables kernel side anyway, and `nft` is one package away.
//
// Every rule carries the comment `pocker:<rootTag>:<id>` (rootTag = first 8 hex of
// sha256(realpath(root)); id = a network's or a container's id), so removal is exact (list, match
// the comment, delete by handle — handles are never reused in a table, so a stale one fails instead
// of hitting another rule) and a root's reconcile touches only its own rules. Every operation is ONE
// nft transaction (one `nft -f` document is applied atomically): at most one list and one apply.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PockerError } from '../errors.js';
import type { PortMapping } from './ports.js';

export const TABLE = 'pocker';
export const FAMILY = 'inet';

/** The base chains: name, type, hook, priority. */
const BASE_CHAINS = [
  // Published ports from outside (and from containers: hairpin).
  { name: 'prerouting', type: 'nat', hook: 'prerouting', prio: -100 },
  // Published ports reached from the host itself (127.0.0.1, the host's own addresses).
  { name: 'output', type: 'nat', hook: 'output', prio: -100 },
  // Masquerade: out of a network, hairpin, 127.0.0.1 sources.
  { name: 'postrouting', type: 'nat', hook: 'postrouting', prio: 100 },
  // Accept a network's traffic; --internal networks: drop what leaves them.
  { name: 'forward', type: 'filter', hook: 'forward', prio: 0 },
] as const;

export type ChainName = (typeof BASE_CHAINS)[number]['name'];

/** A network, as the rules need it. */
export interface NetworkRuleSpec {
  id: string;
  /** The bridge device. */
  bridge: string;
  /** CIDRs (IPv4 and/or IPv6). */
  subnets: string[];
  internal: boolean;
}

/** A rule of pocker's table, as listRules() returns it. */
export interface NftRule {
  chain: string;
  handle: number;
  /** `pocker:<rootTag>:<id>` (or anything else a rule not made by pocker carries). */
  comment: string;
  /** The id of the comment when it is pocker's, else ''. */
  rootTag: string;
  id: string;
  /** The rule's expressions (libnftables-json). */
  expr: unknown[];
}

/** The first 8 hex digits of sha256(realpath(root)): the tag a root's rules carry. */
export function rootTag(root: string): string {
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    real = resolve(root);
  }
  return createHash('sha256').update(real).digest('hex').slice(0, 8);
}

/** The comment of the rules of `id` (a network's or a container's) under `root`. */
export function ruleComment(root: string, id: string): string {
  return `pocker:${rootTag(root)}:${id}`;
}

// ---------------------------------------------------------------------------------------------
// Running nft

/** Costs of the nft calls of this process (for bench/network.mjs and tests): count and total ms. */
export const nftStats = { calls: 0, ms: 0 };

function nftMissing(cause: unknown): PockerError {
  return new PockerError(
    'nftables is needed for bridge networking (NAT and published ports) but the `nft` program was not found: ' +
      'install it (Debian/Ubuntu: apt-get install nftables; Fedora: dnf install nftables; Alpine: apk add nftables)',
    { code: 'ERR_POCKER_UNSUPPORTED', step: 'network', syscall: 'execve', path: 'nft', errno: 2, cause },
  );
}

interface NftResult {
  stdout: string;
  stderr: string;
  status: number;
}

function runNft(args: string[]): Promise<NftResult> {
  const t0 = performance.now();
  return new Promise((resolveP, reject) => {
    const child = execFile('nft', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      nftStats.calls++;
      nftStats.ms += performance.now() - t0;
      // A string code is the spawn's own failure (ENOENT: no nft in PATH); a number is nft's exit status.
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(nftMissing(err));
        return;
      }
      const code = err ? (err as { code?: unknown }).code : 0;
      resolveP({ stdout, stderr, status: typeof code === 'number' ? code : err ? 1 : 0 });
    });
    child.on('error', () => {
      // Reported through the callback (ENOENT, EACCES).
    });
  });
}

function nftFailed(what: string, r: NftResult): PockerError {
  const why = r.stderr.trim().split('\n')[0] || `exit status ${r.status}`;
  return new PockerError(`nft: cannot ${what}: ${why}`, { code: 'ERR_POCKER', step: 'network', path: 'nft' });
}

type Command = Record<string, unknown>;

/**
 * Runs one JSON document as one transaction. Not `nft -j -f -`: nft opens /dev/stdin, which fails
 * (ENXIO) when stdin is a socket, and Node gives a child's stdin as a socketpair. The document is
 * nft's argument (`nft -j '<json>'`: one argv string may be 128 KiB), or beyond 64 KiB a 0600 temp
 * file (`nft -j -f FILE`), removed right after.
 */
async function runDocument(commands: Command[]): Promise<NftResult> {
  const doc = JSON.stringify({ nftables: commands });
  if (doc.length < 64 * 1024) return runNft(['-j', doc]);
  const dir = mkdtempSync(join(tmpdir(), 'pocker-nft-'));
  try {
    const file = join(dir, 'rules.json');
    writeFileSync(file, doc, { mode: 0o600 });
    return await runNft(['-j', '-f', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Applies `commands` as one transaction. */
async function apply(commands: Command[], what: string): Promise<void> {
  if (commands.length === 0) return;
  const r = await runDocument(commands);
  if (r.status !== 0) throw nftFailed(what, r);
}

/** Is the `nft` program there (and runnable)? */
export async function nftAvailable(): Promise<boolean> {
  try {
    await runNft(['--version']);
    return true;
  } catch {
    return false;
  }
}

/** The table's rules (all of them, every root's), or [] when there is no table. Throws when nft is absent. */
async function listTable(): Promise<NftRule[]> {
  const r = await runNft(['-j', 'list', 'table', FAMILY, TABLE]);
  if (r.status !== 0) {
    if (/No such file or directory/.test(r.stderr)) return [];
    throw nftFailed(`list table ${FAMILY} ${TABLE}`, r);
  }
  let doc: { nftables?: Array<Record<string, unknown>> };
  try {
    doc = JSON.parse(r.stdout) as typeof doc;
  } catch (err) {
    throw new PockerError(`nft printed what pocker cannot read: ${(err as Error).message}`, { code: 'ERR_POCKER', step: 'network', path: 'nft', cause: err });
  }
  const rules: NftRule[] = [];
  for (const item of doc.nftables ?? []) {
    const rule = item.rule as { chain?: string; handle?: number; comment?: string; expr?: unknown[] } | undefined;
    if (!rule || typeof rule.handle !== 'number') continue;
    const comment = rule.comment ?? '';
    const m = /^pocker:([0-9a-f]{8}):([0-9a-zA-Z_.-]+)$/.exec(comment);
    rules.push({
      chain: rule.chain ?? '',
      handle: rule.handle,
      comment,
      rootTag: m?.[1] ?? '',
      id: m?.[2] ?? '',
      expr: rule.expr ?? [],
    });
  }
  return rules;
}

/** The rules of `root` (its tag), for tests and `network inspect`. [] without a table or without nft. */
export async function listRules(root: string): Promise<NftRule[]> {
  let rules: NftRule[];
  try {
    rules = await listTable();
  } catch (err) {
    if (err instanceof PockerError && err.code === 'ERR_POCKER_UNSUPPORTED') return [];
    throw err;
  }
  const tag = rootTag(root);
  return rules.filter((r) => r.rootTag === tag);
}

// ---------------------------------------------------------------------------------------------
// Building rules (libnftables-json)

function tableAndChains(): Command[] {
  const out: Command[] = [{ add: { table: { family: FAMILY, name: TABLE } } }];
  for (const c of BASE_CHAINS) {
    out.push({ add: { chain: { family: FAMILY, table: TABLE, name: c.name, type: c.type, hook: c.hook, prio: c.prio, policy: 'accept' } } });
  }
  return out;
}

function rule(verb: 'add' | 'insert', chain: ChainName, comment: string, expr: unknown[]): Command {
  return { [verb]: { rule: { family: FAMILY, table: TABLE, chain, comment, expr } } };
}

function deleteRule(r: NftRule): Command {
  return { delete: { rule: { family: FAMILY, table: TABLE, chain: r.chain, handle: r.handle } } };
}

const match = (left: unknown, right: unknown, op = '=='): unknown => ({ match: { op, left, right } });
const meta = (key: string): unknown => ({ meta: { key } });
const payload = (protocol: string, field: string): unknown => ({ payload: { protocol, field } });

/** A CIDR as nft's prefix; the family's payload protocol (ip / ip6). */
function prefix(cidr: string): { proto: 'ip' | 'ip6'; value: unknown } {
  const [addr, len] = cidr.split('/') as [string, string | undefined];
  const proto = addr.includes(':') ? 'ip6' : 'ip';
  const bits = len === undefined ? (proto === 'ip' ? 32 : 128) : Number(len);
  return { proto, value: { prefix: { addr, len: bits } } };
}

/** The rules of one network (see the file's head). */
function networkRules(comment: string, net: NetworkRuleSpec): { append: Command[]; prepend: Command[] } {
  const append: Command[] = [];
  const prepend: Command[] = [];
  const br = net.bridge;
  if (net.internal) {
    // Nothing in or out but within the network (inserted first: no other network's accept can pass it).
    prepend.push(rule('insert', 'forward', comment, [match(meta('iifname'), br), match(meta('oifname'), br, '!='), { drop: null }]));
    prepend.push(rule('insert', 'forward', comment, [match(meta('oifname'), br), match(meta('iifname'), br, '!='), { drop: null }]));
    return { append, prepend };
  }
  append.push(rule('add', 'forward', comment, [match(meta('iifname'), br), { accept: null }]));
  append.push(rule('add', 'forward', comment, [match(meta('oifname'), br), { accept: null }]));
  for (const cidr of net.subnets) {
    const { proto, value } = prefix(cidr);
    // Out of the network to anywhere else: masquerade.
    append.push(rule('add', 'postrouting', comment, [match(payload(proto, 'saddr'), value), match(meta('oifname'), br, '!='), { masquerade: null }]));
    // Hairpin: a container reaches a published port (of its own network) through a host address.
    append.push(
      rule('add', 'postrouting', comment, [
        match({ ct: { key: 'status' } }, 'dnat', 'in'),
        match(payload(proto, 'saddr'), value),
        match(payload(proto, 'daddr'), value),
        match(meta('oifname'), br),
        { masquerade: null },
      ]),
    );
  }
  // The host's own 127.0.0.1:PORT connections, DNAT'ed into the bridge (needs route_localnet=1 on it).
  append.push(rule('add', 'postrouting', comment, [match(meta('oifname'), br), match(payload('ip', 'saddr'), { prefix: { addr: '127.0.0.0', len: 8 } }), { masquerade: null }]));
  return { append, prepend };
}

/** The DNAT rules of one published port (prerouting and output). */
function portRules(comment: string, m: PortMapping): Command[] {
  const six = m.containerIp.includes(':');
  const proto = six ? 'ip6' : 'ip';
  const dst: unknown[] = m.hostIp === '' || m.hostIp === '0.0.0.0' || m.hostIp === '::'
    ? [match({ fib: { result: 'type', flags: ['daddr'] } }, 'local'), match(meta('nfproto'), six ? 'ipv6' : 'ipv4')]
    : [match(payload(m.hostIp.includes(':') ? 'ip6' : 'ip', 'daddr'), m.hostIp)];
  const expr = [...dst, match(payload(m.protocol, 'dport'), m.hostPort), { dnat: { family: proto, addr: m.containerIp, port: m.containerPort } }];
  return [rule('add', 'prerouting', comment, expr), rule('add', 'output', comment, expr)];
}

// ---------------------------------------------------------------------------------------------
// The API (lib/network/store and run call these; the contract is in PLAN.md)

/**
 * Makes the table and base chains when missing and (re)writes the rules of network `net`: its old
 * rules (if any) are deleted and the new ones added in the same transaction, so calling it again is
 * harmless. An --internal network needs no NAT: without nft it is a no-op.
 */
export async function ensureNetworkRules(root: string, net: NetworkRuleSpec): Promise<void> {
  const comment = ruleComment(root, net.id);
  let existing: NftRule[];
  try {
    existing = (await listTable()).filter((r) => r.comment === comment);
  } catch (err) {
    if (net.internal && err instanceof PockerError && err.code === 'ERR_POCKER_UNSUPPORTED') return;
    throw err;
  }
  const { append, prepend } = networkRules(comment, net);
  await applyRetrying([...tableAndChains(), ...existing.map(deleteRule), ...prepend, ...append], `set up the rules of network ${net.id}`, async () => {
    const again = (await listTable()).filter((r) => r.comment === comment);
    return [...tableAndChains(), ...again.map(deleteRule), ...prepend, ...append];
  });
}

/** Removes every rule of `id` (a network or a container) under `root`: one transaction. */
async function removeRulesOf(root: string, ids: (r: NftRule) => boolean, what: string): Promise<number> {
  const tag = rootTag(root);
  const pick = async (): Promise<NftRule[]> => {
    try {
      return (await listTable()).filter((r) => r.rootTag === tag && ids(r));
    } catch (err) {
      // No nft: no rule of ours can exist.
      if (err instanceof PockerError && err.code === 'ERR_POCKER_UNSUPPORTED') return [];
      throw err;
    }
  };
  let doomed = await pick();
  for (let attempt = 0; ; attempt++) {
    if (doomed.length === 0) return 0;
    const r = await runDocument(doomed.map(deleteRule));
    if (r.status === 0) return doomed.length;
    // Someone else (another pocker's reconcile) deleted one of them in between: list again.
    if (attempt >= 3) throw nftFailed(what, r);
    doomed = await pick();
  }
}

async function applyRetrying(commands: Command[], what: string, again: () => Promise<Command[]>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const r = await runDocument(commands);
    if (r.status === 0) return;
    if (attempt >= 3) throw nftFailed(what, r);
    commands = await again();
  }
}

/** Removes the rules of network `networkId` under `root`. */
export async function removeNetworkRules(root: string, networkId: string): Promise<void> {
  await removeRulesOf(root, (r) => r.id === networkId, `remove the rules of network ${networkId}`);
}

/**
 * Adds the DNAT rules of a container's published ports (one transaction; makes the table and
 * chains when missing). `bridge` is the network's bridge (kept for the rules' future use; the
 * network's own rules carry the masquerade). Call removeContainerRules() before adding again.
 */
export async function addPortRules(root: string, containerId: string, bridge: string, mappings: PortMapping[]): Promise<void> {
  void bridge;
  if (mappings.length === 0) return;
  const comment = ruleComment(root, containerId);
  await apply([...tableAndChains(), ...mappings.flatMap((m) => portRules(comment, m))], `publish the ports of container ${containerId}`);
}

/** Removes every rule of container `containerId` under `root` (its published ports). */
export async function removeContainerRules(root: string, containerId: string): Promise<void> {
  await removeRulesOf(root, (r) => r.id === containerId, `remove the rules of container ${containerId}`);
}

/**
 * Removes the rules of `root` whose id is neither a live container nor a live network (what a
 * SIGKILLed run or monitor left). Other roots' rules are never touched. Returns how many went.
 */
export async function reconcileRules(root: string, liveContainerIds: Set<string>, liveNetworkIds: Set<string>): Promise<number> {
  return removeRulesOf(root, (r) => !liveContainerIds.has(r.id) && !liveNetworkIds.has(r.id), 'remove stale rules');
}

/**
 * Sets net.ipv4.conf.<bridge>.route_localnet=1 (in the caller's netns): a 127.0.0.1 source may then
 * be routed out of the bridge, which a published port reached at 127.0.0.1 needs (Docker does the same).
 */
export function enableRouteLocalnet(bridge: string): void {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(bridge)) throw new PockerError(`invalid bridge name ${JSON.stringify(bridge)}`, { code: 'ERR_POCKER_INVALID', step: 'network' });
  const path = `/proc/sys/net/ipv4/conf/${bridge}/route_localnet`;
  try {
    writeFileSync(path, '1');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new PockerError(`cannot set route_localnet on ${bridge}: ${e.code ?? e.message}`, { code: 'ERR_POCKER', step: 'network', path, syscall: 'write', ...(e.errno ? { errno: e.errno } : {}), cause: err });
  }
}

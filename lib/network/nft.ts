// pocker's firewall: one nftables table, `inet pocker`, in the network namespace the caller is in.
// It holds the NAT of the bridge networks (masquerade out, hairpin, 127.0.0.1 ports) and the DNAT
// of the published ports, and nothing else of the host's is ever touched.
//
// Spoken to the kernel directly: the addon's nftApply/nftList (cpp/addon/nft.cpp) encode the
// rules as nf_tables netlink messages and send them as one batch (NFNL_MSG_BATCH_BEGIN ... END),
// which the kernel applies atomically, so no `nft` program is needed — a fresh Debian has none —
// only the kernel's nftables (nf_tables and its NAT, masq, fib, ct expressions, all in Debian's
// kernel and loaded on demand). `nft list table inet pocker` still shows the rules (comments
// included) as it shows its own; nft is a test tool now.
//
// Why hand-written and not libnftnl/libnftables: Debian's libnftnl-dev ships libnftnl.a but
// libmnl-dev has no static archive, libnftables drags jansson and gmp in, and the addon is linked
// for a glibc 2.28 baseline with its libstdc++ static (CMakeLists.txt), so any of them would be a
// shared dependency of the prebuilt binary or a static build of our own; the rule set is small and
// fixed (meta iifname/oifname, ip/ip6 saddr/daddr with prefix masks, ct status dnat, fib daddr
// type local, meta nfproto, tcp/udp dport, masquerade, dnat addr+port, accept/drop), so encoding
// those few expressions against the uapi <linux/netfilter/nf_tables.h> is less code and less risk
// than a dependency (cpp/addon/nft.cpp's head lists each encoding).
//
// When the kernel has no nf_tables (no nfnetlink socket, no nftables subsystem, a missing NAT or
// expression module), an operation that needs a rule (the NAT of a non-internal network, a
// published port) fails with ERR_POCKER_UNSUPPORTED (step `network`; the CLI exits 125) before
// anything is created. iptables-nft is NOT used as a fallback: it writes into the same kernel
// nftables through its own `ip filter`/`ip nat` tables with iptables semantics (xtables matches, a
// table per family, no atomic multi-table transaction), so cleanup could not be exact and it would
// mix pocker's rules with the host's iptables rules, the very thing one table avoids.
//
// Every rule carries the comment `pocker:<rootTag>:<id>` (rootTag = first 8 hex of
// sha256(realpath(root)); id = a network's or a container's id), so removal is exact (list, match
// the comment, delete by handle — handles are never reused in a table, so a stale one fails instead
// of hitting another rule) and a root's reconcile touches only its own rules. Every operation is ONE
// netlink batch: at most one dump and one batch (a batch that loses a race with another pocker's
// delete — ENOENT on a handle — is listed and sent again).
import { sha256Hex } from '../random.js';
import { realpathSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { PockerError, errnoName } from '../errors.js';
import { native, type NftCommand, type NftExpr } from '../native.js';
import { ipFamily, parseCidr } from './addr.js';
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
  /** The kernel's names of the rule's expressions, in order (meta, cmp, payload, masq, nat, ...). */
  expr: string[];
}

/** The first 8 hex digits of sha256(realpath(root)): the tag a root's rules carry. */
export function rootTag(root: string): string {
  let real: string;
  try {
    real = realpathSync(root);
  } catch {
    real = resolve(root);
  }
  return sha256Hex(real).slice(0, 8);
}

/** The comment of the rules of `id` (a network's or a container's) under `root`. */
export function ruleComment(root: string, id: string): string {
  return `pocker:${rootTag(root)}:${id}`;
}

// ---------------------------------------------------------------------------------------------
// Talking to nf_tables

/** Costs of the netlink calls of this process (for bench/network.mjs and tests): count and total ms. */
export const nftStats = { calls: 0, ms: 0 };

interface NativeNftError {
  code?: string;
  errno?: number;
  syscall?: string;
  index?: number;
  request?: string;
  message?: string;
}

const UNSUPPORTED_HINT =
  'bridge networking (NAT and published ports) needs the kernel\'s nftables (nf_tables with nft_chain_nat, ' +
  'nft_nat, nft_masq, nft_fib_inet, nft_ct), which this kernel does not offer';

/** The native error of nftApply/nftList as a PockerError (`what`: what pocker was doing). */
function nftError(err: unknown, what: string): PockerError {
  const e = (err ?? {}) as NativeNftError;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  // By the number: the addon names only the errnos it knows.
  const code = errno !== undefined ? errnoName(errno) : (e.code ?? 'EIO');
  const syscall = e.syscall ?? 'recvmsg';
  const request = e.request ? ` (${e.request})` : '';
  const unsupported =
    (syscall === 'socket' && (code === 'EPROTONOSUPPORT' || code === 'EAFNOSUPPORT')) ||
    (e.request === 'NFNL_MSG_BATCH' && code === 'EOPNOTSUPP') ||
    // A table, chain or rule the batch creates (the chains are in the same batch as the rules): a
    // missing chain type or expression module.
    (/^NFT_MSG_NEW/.test(e.request ?? '') && (code === 'ENOENT' || code === 'EOPNOTSUPP'));
  if (unsupported) {
    return new PockerError(`${UNSUPPORTED_HINT}: ${code}${request}`, {
      code: 'ERR_POCKER_UNSUPPORTED',
      step: 'network',
      syscall,
      path: `nftables inet ${TABLE}`,
      ...(errno !== undefined ? { errno } : {}),
      cause: err,
    });
  }
  return new PockerError(`nftables: cannot ${what}: ${code}${request}`, {
    code: 'ERR_POCKER',
    step: 'network',
    syscall,
    path: `nftables inet ${TABLE}`,
    ...(errno !== undefined ? { errno } : {}),
    cause: err,
  });
}

/**
 * Counts `fn`'s call and time in nftStats. Timed with process.hrtime: the first read of the global
 * `performance` loads node:perf_hooks (~1.4 ms of every bridge run here, issue 12).
 */
function timed<T>(fn: () => T): T {
  const t0 = process.hrtime.bigint();
  try {
    return fn();
  } finally {
    nftStats.calls++;
    nftStats.ms += Number(process.hrtime.bigint() - t0) / 1e6;
  }
}

/** Applies `commands` as one batch; throws the native error as is (see nftError). */
function applyRaw(commands: NftCommand[]): void {
  if (commands.length === 0) return;
  timed(() => native().nftApply(TABLE, commands));
}

/** Applies `commands` as one batch. */
async function apply(commands: NftCommand[], what: string): Promise<void> {
  try {
    applyRaw(commands);
  } catch (err) {
    throw nftError(err, what);
  }
}

const COMMENT_RE = /^pocker:([0-9a-f]{8}):([0-9a-zA-Z_.-]+)$/;

/** The table's rules (all of them, every root's), or [] when there is no table. */
async function listTable(): Promise<NftRule[]> {
  let listed;
  try {
    listed = timed(() => native().nftList(TABLE));
  } catch (err) {
    throw nftError(err, `list table ${FAMILY} ${TABLE}`);
  }
  return listed.map((r) => {
    const m = COMMENT_RE.exec(r.comment);
    return { chain: r.chain, handle: r.handle, comment: r.comment, rootTag: m?.[1] ?? '', id: m?.[2] ?? '', expr: r.expr };
  });
}

/** The rules of `root` (its tag), for tests and `network inspect`. [] without a table or without nf_tables. */
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
// Building rules (validated here: the addon refuses what it cannot encode with a TypeError)

const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;

function invalid(message: string): PockerError {
  return new PockerError(message, { code: 'ERR_POCKER_INVALID', step: 'network' });
}

function checkIfname(name: string): string {
  if (!IFNAME_RE.test(name)) throw invalid(`invalid bridge name ${JSON.stringify(name)}`);
  return name;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`invalid port ${port}`);
  return port;
}

function tableAndChains(): NftCommand[] {
  const out: NftCommand[] = [{ op: 'table' }];
  for (const c of BASE_CHAINS) out.push({ op: 'chain', name: c.name, type: c.type, hook: c.hook, prio: c.prio });
  return out;
}

function rule(chain: ChainName, comment: string, expr: NftExpr[], insert = false): NftCommand {
  if (comment.length > 254) throw invalid(`rule comment too long: ${comment}`);
  return { op: 'rule', chain, comment, insert, expr };
}

function deleteRule(r: NftRule): NftCommand {
  return { op: 'delete', chain: r.chain, handle: r.handle };
}

const iif = (name: string, neq = false): NftExpr => ({ kind: 'iifname', name, neq });
const oif = (name: string, neq = false): NftExpr => ({ kind: 'oifname', name, neq });

/** A CIDR, normalized ('10.1.2.0/24'): its network address and length. */
function prefix(cidr: string): string {
  const c = parseCidr(cidr);
  if (!c) throw invalid(`invalid subnet ${JSON.stringify(cidr)}`);
  const [addr] = cidr.split('/') as [string];
  const bits = cidr.includes('/') ? c.bits : c.family === 4 ? 32 : 128;
  if (bits === 0) throw invalid(`invalid subnet ${JSON.stringify(cidr)}: a network's subnet cannot be /0`);
  return `${addr}/${bits}`;
}

/** The rules of one network (see the file's head). */
function networkRules(comment: string, net: NetworkRuleSpec): { append: NftCommand[]; prepend: NftCommand[] } {
  const append: NftCommand[] = [];
  const prepend: NftCommand[] = [];
  const br = checkIfname(net.bridge);
  if (net.internal) {
    // Nothing in or out but within the network (inserted first: no other network's accept can pass it).
    prepend.push(rule('forward', comment, [iif(br), oif(br, true), { kind: 'drop' }], true));
    prepend.push(rule('forward', comment, [oif(br), iif(br, true), { kind: 'drop' }], true));
    return { append, prepend };
  }
  append.push(rule('forward', comment, [iif(br), { kind: 'accept' }]));
  append.push(rule('forward', comment, [oif(br), { kind: 'accept' }]));
  for (const subnet of net.subnets) {
    const cidr = prefix(subnet);
    // Out of the network to anywhere else: masquerade.
    append.push(rule('postrouting', comment, [{ kind: 'saddr', cidr }, oif(br, true), { kind: 'masquerade' }]));
    // Hairpin: a container reaches a published port (of its own network) through a host address.
    append.push(
      rule('postrouting', comment, [{ kind: 'ctDnat' }, { kind: 'saddr', cidr }, { kind: 'daddr', cidr }, oif(br), { kind: 'masquerade' }]),
    );
  }
  // The host's own 127.0.0.1:PORT connections, DNAT'ed into the bridge (needs route_localnet=1 on it).
  append.push(rule('postrouting', comment, [oif(br), { kind: 'saddr', cidr: '127.0.0.0/8' }, { kind: 'masquerade' }]));
  return { append, prepend };
}

/** The DNAT rules of one published port (prerouting and output). */
function portRules(comment: string, m: PortMapping): NftCommand[] {
  const family = ipFamily(m.containerIp);
  if (family === 0) throw invalid(`invalid container address ${JSON.stringify(m.containerIp)}`);
  if (m.protocol !== 'tcp' && m.protocol !== 'udp') throw invalid(`invalid protocol ${JSON.stringify(m.protocol)}`);
  const any = m.hostIp === '' || m.hostIp === '0.0.0.0' || m.hostIp === '::';
  const hostFamily = any ? family : ipFamily(m.hostIp);
  if (hostFamily === 0) throw invalid(`invalid host address ${JSON.stringify(m.hostIp)}`);
  const dst: NftExpr[] = any
    ? [{ kind: 'fibLocal' }, { kind: 'nfproto', family: family === 6 ? 'ipv6' : 'ipv4' }]
    : [{ kind: 'daddr', cidr: `${m.hostIp}/${hostFamily === 6 ? 128 : 32}` }];
  const expr: NftExpr[] = [
    ...dst,
    { kind: 'dport', protocol: m.protocol, port: checkPort(m.hostPort) },
    { kind: 'dnat', addr: m.containerIp, port: checkPort(m.containerPort) },
  ];
  return [rule('prerouting', comment, expr), rule('output', comment, expr)];
}

// ---------------------------------------------------------------------------------------------
// The API (lib/network/store and run call these; the contract is in PLAN.md)

/** A batch that lost a race: a rule it deletes was deleted by another pocker in between. */
function lostRace(err: unknown): boolean {
  const e = err as NativeNftError | undefined;
  return e?.code === 'ENOENT' && e.request === 'NFT_MSG_DELRULE';
}

/**
 * Makes the table and base chains when missing and (re)writes the rules of network `net`: its old
 * rules (if any) are deleted and the new ones added in the same batch, so calling it again is
 * harmless. An --internal network needs no NAT: without nf_tables it is a no-op.
 */
export async function ensureNetworkRules(root: string, net: NetworkRuleSpec): Promise<void> {
  const comment = ruleComment(root, net.id);
  const { append, prepend } = networkRules(comment, net);
  const batch = async (): Promise<NftCommand[]> => {
    const existing = (await listTable()).filter((r) => r.comment === comment);
    return [...tableAndChains(), ...existing.map(deleteRule), ...prepend, ...append];
  };
  let commands: NftCommand[];
  try {
    commands = await batch();
  } catch (err) {
    if (net.internal && err instanceof PockerError && err.code === 'ERR_POCKER_UNSUPPORTED') return;
    throw err;
  }
  await applyRetrying(commands, `set up the rules of network ${net.id}`, batch);
}

/** Removes every rule of `id` (a network or a container) under `root`: one batch. */
async function removeRulesOf(root: string, ids: (r: NftRule) => boolean, what: string): Promise<number> {
  const tag = rootTag(root);
  const pick = async (): Promise<NftRule[]> => {
    try {
      return (await listTable()).filter((r) => r.rootTag === tag && ids(r));
    } catch (err) {
      // No nf_tables: no rule of ours can exist.
      if (err instanceof PockerError && err.code === 'ERR_POCKER_UNSUPPORTED') return [];
      throw err;
    }
  };
  let doomed = await pick();
  for (let attempt = 0; ; attempt++) {
    if (doomed.length === 0) return 0;
    try {
      applyRaw(doomed.map(deleteRule));
      return doomed.length;
    } catch (err) {
      // Someone else (another pocker's reconcile) deleted one of them in between: list again.
      if (!lostRace(err) || attempt >= 3) throw nftError(err, what);
    }
    doomed = await pick();
  }
}

async function applyRetrying(commands: NftCommand[], what: string, again: () => Promise<NftCommand[]>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      applyRaw(commands);
      return;
    } catch (err) {
      if (!lostRace(err) || attempt >= 3) throw nftError(err, what);
    }
    commands = await again();
  }
}

/** Removes the rules of network `networkId` under `root`. */
export async function removeNetworkRules(root: string, networkId: string): Promise<void> {
  await removeRulesOf(root, (r) => r.id === networkId, `remove the rules of network ${networkId}`);
}

/**
 * Adds the DNAT rules of a container's published ports (one batch; makes the table and
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

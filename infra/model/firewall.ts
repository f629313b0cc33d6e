// The moat's firewall rules as text. Pure: no Pulumi, no I/O.
//
// ONE renderer (`renderMoatRules`) produces the rules that are applied (`pulumi up`, the boot
// restore, the restore after every dockerd start), checked (`clawjail moat check`, `pulumi
// preview --refresh`) and removed (`pulumi destroy`). Its output is iptables-restore input for
// the filter table: IPv4 first, then a `# ip6tables` line, then IPv6. It is fed to
// `iptables-restore --noflush` as is (the `#` lines are comments to iptables-restore).
//
// Shape (P = namePrefix, B = the cell's bridge):
//   P-FWD  forwarded traffic from B (hooked first in DOCKER-USER; ip6tables: first in FORWARD)
//   P-IN   traffic from B to the host itself: the bridge gateway IP and every host address
//          (hooked first in INPUT; `-i B` there covers all host addresses)
//   each hook is followed by a fail-closed guard `-i B -j DROP`: if the hook is deleted or the
//   chain is flushed, nothing from the bridge gets past the guard.
//   P-FWD: replies, the connection limits, DNS to the resolvers, exceptions, then drops (DNS
//   anywhere else, other containers on B, private/special ranges), then ACCEPT (the internet).
//   P-IN: replies, the connection limits, DNS to resolvers on the host, exceptions, then DROP.
//   IPv6 (the cell network has none): drop all.
//   A third hook after the guard, in DOCKER-USER (ip6tables: FORWARD), drops every packet INTO B
//   from elsewhere that is neither a reply nor DNATed by Docker's port publishing: a LAN host
//   routing to the bridge's subnet reaches nothing, the published port still works.
//
// Rules are written exactly as `iptables-save` (nf_tables 1.8) prints them, so the rendered text
// and the live text can be compared line by line; `normalizeRule` absorbs the small differences
// between iptables versions (implicit `-m tcp`, `/32`, quoting).
import { hostInCidr, isIPv4, isIPv4Cidr, isResolverAddress, type EgressException, type JailConfig, type MoatConnLimits } from '../config';

export const IP6TABLES_MARKER = '# ip6tables';
/** The comment on the v4 document saying which dockerd jump the moat relies on. */
export const DOCKERD_JUMP_LINE = '# dockerd: -A FORWARD -j DOCKER-USER is rule 1 of FORWARD';

/** What the firewall needs to know; resolvers are concrete here ("auto" is resolved before). */
export interface MoatRulesPlan {
  namePrefix: string;
  bridgeName: string;
  subnet: string;
  resolvers: string[];
  exceptions: EgressException[];
  /** More IPv4 networks to drop (clawjail:moatExtraBlocked). */
  extraBlocked?: string[];
  /**
   * False for clawjail:cellEgress "none": the last forward rule drops instead of accepting the
   * internet, and no DNS goes out either (only the exceptions and replies pass).
   */
  internet?: boolean;
  /**
   * clawjail:cellEgress "allowlist": only these addresses on the bridge (the egress gate and
   * freshclam) may reach the internet and the resolvers; everything else from the bridge, the
   * cell's namespace included, is dropped after the exceptions. Absent: every address may.
   */
  internetFrom?: string[];
  /**
   * New connections from the bridge, per source address: at most `rate` a second sustained with
   * `burst` above it, at most `max` open at once in each chain. Absent: the defaults; there is
   * no way to switch the limits off.
   */
  connLimits?: MoatConnLimits;
}

/**
 * Defaults of clawjail:moatConnRate, moatConnBurst, moatConnMax. What the cell can make the host
 * track is bounded per source address by about 2 x max (open, FWD and IN) + rate x 120 s (TCP's
 * TIME_WAIT in conntrack, which connlimit no longer counts) + burst: 1024 x 2 + 50 x 120 + 250 =
 * 8,298 entries, a few per cent of the 262,144 nf_conntrack_max of a host with 4 GiB or more. A
 * legitimate agent (through the gate, which keeps its upstream connections alive) opens a few a
 * second; a SYN over the rate is dropped and retried by TCP a second later, not refused.
 */
export const MOAT_CONN_LIMIT_DEFAULTS: Readonly<MoatConnLimits> = { rate: 50, burst: 250, max: 1024 };

export interface MoatChainNames {
  forward: string;
  input: string;
}

/** At most 24 + 4 = 28 characters, the iptables limit for a chain name. */
export function moatChainNames(namePrefix: string): MoatChainNames {
  return { forward: `${namePrefix}-FWD`, input: `${namePrefix}-IN` };
}

/** Every rule of a stack carries a comment starting with this tag. */
export function moatTag(namePrefix: string): string {
  return `clawjail/${namePrefix}: `;
}

export const BLOCKED_V4: readonly { cidr: string; what: string }[] = [
  { cidr: '10.0.0.0/8', what: 'private network 10/8 (RFC 1918)' },
  { cidr: '172.16.0.0/12', what: 'private network 172.16/12 (RFC 1918)' },
  { cidr: '192.168.0.0/16', what: 'private network 192.168/16 (RFC 1918)' },
  { cidr: '169.254.0.0/16', what: 'link-local and cloud metadata 169.254/16' },
  { cidr: '100.64.0.0/10', what: 'carrier-grade NAT 100.64/10 (RFC 6598)' },
  { cidr: '0.0.0.0/8', what: '"this network" 0/8' },
  { cidr: '127.0.0.0/8', what: 'loopback 127/8' },
  { cidr: '224.0.0.0/4', what: 'multicast 224/4' },
  { cidr: '240.0.0.0/4', what: 'reserved 240/4' },
  { cidr: '255.255.255.255/32', what: 'broadcast' },
  { cidr: '192.0.0.0/24', what: 'IETF protocol assignments 192.0.0/24 (RFC 6890)' },
  { cidr: '198.18.0.0/15', what: 'benchmarking 198.18/15 (RFC 2544)' },
  { cidr: '168.63.129.16/32', what: 'Azure host services 168.63.129.16' },
];

/**
 * Every IPv4 network the moat drops for a stack: the built-in ranges, then clawjail:moatExtraBlocked.
 * The one list the stack hands the egress gate too (EGRESS_EXTRA_BLOCKED, infra/model/egress.ts):
 * the gate's own copy (egress/src/addresses.ts, its image is built from egress/ alone) is only its
 * fallback, and egress/test/addresses.test.ts keeps that copy equal to BLOCKED_V4.
 */
export function moatBlockedV4(config: Pick<JailConfig, 'moat'>): string[] {
  return uniq([...BLOCKED_V4.map((b) => b.cidr), ...config.moat.extraBlocked], (x) => x);
}

export const BLOCKED_V6: readonly { cidr: string; what: string }[] = [
  { cidr: 'fc00::/7', what: 'unique local fc00::/7' },
  { cidr: 'fe80::/10', what: 'link-local fe80::/10' },
  { cidr: 'ff00::/8', what: 'multicast ff00::/8' },
  { cidr: '::1/128', what: 'loopback ::1' },
];

/** The plan for a stack; `resolvers` replaces config "auto" with the Docker host's resolvers. */
export function moatRulesPlan(config: JailConfig, resolvers: string[]): MoatRulesPlan {
  return {
    namePrefix: config.namePrefix,
    bridgeName: config.network.bridgeName,
    subnet: config.network.subnet,
    resolvers: config.cell.egress === 'none' ? [] : resolvers,
    exceptions: config.moat.egressExceptions,
    extraBlocked: config.moat.extraBlocked,
    internet: config.cell.egress !== 'none',
    ...(config.cell.egress === 'allowlist' ? { internetFrom: internetSources(config) } : {}),
    connLimits: { ...config.moat.connLimits },
  };
}

/**
 * Fixed addresses on the cell's bridge with cellEgress "allowlist" (the subnet's second, third
 * and fourth): the gateway's namespace, which the cell shares, then the two that may go out.
 */
export function bridgeAddresses(config: JailConfig): { gateway: string; egress: string; freshclam: string } {
  const subnet = config.network.subnet;
  return { gateway: hostInCidr(subnet, 2), egress: hostInCidr(subnet, 3), freshclam: hostInCidr(subnet, 4) };
}

function internetSources(config: JailConfig): string[] {
  const a = bridgeAddresses(config);
  return [a.egress, ...(config.warden.signatures === 'freshclam' ? [a.freshclam] : [])];
}

/**
 * The hashlimit table's name (at most 15 characters): one per bridge AND per rate and burst. The
 * kernel keeps a table while any rule names it and a new rule naming a live table gets the
 * table's old rate, so a changed limit must come with a new name to take effect in the same
 * atomic swap. FNV-1a, pure JavaScript (the dynamic provider serializes this module).
 */
export function hashlimitName(bridgeName: string, limits: MoatConnLimits): string {
  let h = 0x811c9dc5;
  for (const ch of `${bridgeName}/${limits.rate}/${limits.burst}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `cj${h.toString(16).padStart(8, '0')}`;
}

const quote = (s: string): string => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function uniq<T>(xs: readonly T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(key(x)) ? false : (seen.add(key(x)), true)));
}

interface FamilyDoc {
  chains: string[];
  /** `-A chain spec` lines of our own chains. */
  rules: string[];
  /** `-I CHAIN n spec` lines hooking our chains into the built-in (or Docker's) chains. */
  hooks: string[];
}

function checkPlan(plan: MoatRulesPlan): void {
  if (!/^[a-z][a-z0-9-]{0,23}$/.test(plan.namePrefix)) throw new Error(`bad namePrefix ${JSON.stringify(plan.namePrefix)}`);
  if (!/^[a-zA-Z][a-zA-Z0-9_-]{0,14}$/.test(plan.bridgeName)) throw new Error(`bad bridge name ${JSON.stringify(plan.bridgeName)}`);
  for (const r of plan.resolvers) if (!isIPv4(r)) throw new Error(`bad resolver ${JSON.stringify(r)}`);
  for (const r of plan.internetFrom ?? []) if (!isIPv4(r)) throw new Error(`bad source ${JSON.stringify(r)}`);
  if (plan.internetFrom && plan.internet === false) throw new Error('internetFrom needs the internet');
  for (const n of plan.extraBlocked ?? []) if (!isIPv4Cidr(n)) throw new Error(`bad network ${JSON.stringify(n)}`);
  const l = plan.connLimits ?? MOAT_CONN_LIMIT_DEFAULTS;
  const whole = (n: unknown, min: number, max: number) => Number.isSafeInteger(n) && (n as number) >= min && (n as number) <= max;
  if (!whole(l.rate, 1, 10000) || !whole(l.burst, 1, 10000) || !whole(l.max, 16, 1048576)) {
    throw new Error(`bad connection limits ${JSON.stringify(l)}`);
  }
  for (const e of plan.exceptions) {
    if (!isIPv4(e.ip) || !Number.isInteger(e.port) || e.port < 1 || e.port > 65535 || !['tcp', 'udp'].includes(e.proto)) {
      throw new Error(`bad exception ${JSON.stringify(e)}`);
    }
  }
}

/**
 * Into the bridge from anywhere else (the bridge's own traffic took hooks 1 and 2): only replies
 * and what Docker's port publishing DNATed. A LAN host that routes the bridge's subnet to this
 * host would otherwise reach the containers' published ports at their own addresses (Docker 20.10
 * accepts `-d <container> --dport <port>` whether DNATed or not; 28 drops it in raw PREROUTING).
 * The host itself reaches the cell through OUTPUT (docker-proxy for a loopback publish), never here.
 * Only drops: what passes still goes on to Docker's own rules (DOCKER, DOCKER-FORWARD on 28).
 */
function inboundHook(chain: string, br: string, c: (text: string) => string): string {
  return `-I ${chain} 3 -o ${br} -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT ${c('into the cell bridge from elsewhere: only replies and published ports')} -j DROP`;
}

function v4Doc(plan: MoatRulesPlan): FamilyDoc {
  const { forward, input } = moatChainNames(plan.namePrefix);
  const tag = moatTag(plan.namePrefix);
  const c = (text: string) => `-m comment --comment ${quote(tag + text)}`;
  const br = plan.bridgeName;
  const internet = plan.internet !== false;
  const resolvers = internet ? uniq(plan.resolvers, (r) => r) : [];
  const exceptions = uniq(plan.exceptions, (e) => `${e.ip}:${e.port}/${e.proto}`);
  // Allowlist mode: each internet rule once per address that may go out, `-s` first as
  // iptables-save prints it.
  const sources: (string | null)[] = plan.internetFrom ? uniq(plan.internetFrom, (x) => x) : [null];
  const from = (src: string | null) => (src ? `-s ${src}/32 ` : '');
  const who = (src: string | null) => (src ? ` from ${src}` : '');

  const limits = plan.connLimits ?? MOAT_CONN_LIMIT_DEFAULTS;
  // Only a packet that would create a conntrack entry counts (NEW and not yet confirmed: not a
  // retransmitted SYN, not the next datagram of an unanswered UDP flow); per source address, so
  // the cell's floods never eat the budget of freshclam or the gate. Both chains share the rate
  // (one hashlimit table); each chain counts its own open connections.
  const first = '-m conntrack --ctstate NEW ! --ctstatus CONFIRMED';
  const limited = (chain: string): string[] => [
    `-A ${chain} ${first} -m hashlimit --hashlimit-above ${limits.rate}/sec --hashlimit-burst ${limits.burst} --hashlimit-mode srcip --hashlimit-name ${hashlimitName(br, limits)} ${c(`conntrack guard: over ${limits.rate} new connections a second (burst ${limits.burst}) from one address`)} -j DROP`,
    `-A ${chain} ${first} -m connlimit --connlimit-above ${limits.max} --connlimit-mask 32 --connlimit-saddr ${c(`conntrack guard: over ${limits.max} open connections from one address`)} -j DROP`,
  ];
  const allowed = (chain: string): string[] => [
    `-A ${chain} -m conntrack --ctstate RELATED,ESTABLISHED ${c('replies on connections already allowed')} -j ACCEPT`,
    ...limited(chain),
    ...sources.flatMap((src) =>
      resolvers.flatMap((r) =>
        (['udp', 'tcp'] as const).map(
          (p) => `-A ${chain} ${from(src)}-d ${r}/32 -p ${p} -m ${p} --dport 53 ${c(`DNS to resolver ${r}${who(src)}`)} -j ACCEPT`,
        ),
      ),
    ),
    ...exceptions.map(
      (e) => `-A ${chain} -d ${e.ip}/32 -p ${e.proto} -m ${e.proto} --dport ${e.port} ${c(`exception ${e.ip}:${e.port}/${e.proto}`)} -j ACCEPT`,
    ),
  ];
  const rules = [
    ...allowed(forward),
    ...(['udp', 'tcp'] as const).map((p) => `-A ${forward} -p ${p} -m ${p} --dport 53 ${c('DNS only to the configured resolvers')} -j DROP`),
    `-A ${forward} -o ${br} ${c('other containers on the bridge')} -j DROP`,
    ...BLOCKED_V4.map((b) => `-A ${forward} -d ${b.cidr} ${c(`drop ${b.what}`)} -j DROP`),
    ...uniq(plan.extraBlocked ?? [], (x) => x).map((cidr) => `-A ${forward} -d ${cidr} ${c(`drop ${cidr} (moatExtraBlocked)`)} -j DROP`),
    ...(!internet
      ? [`-A ${forward} ${c('no egress (cellEgress none): drop the internet too')} -j DROP`]
      : plan.internetFrom
        ? [
            ...sources.map((src) => `-A ${forward} ${from(src)}${c(`the internet${who(src)} (the egress gate or freshclam)`)} -j ACCEPT`),
            `-A ${forward} ${c('cellEgress allowlist: nothing else from the bridge, the cell least of all')} -j DROP`,
          ]
        : [`-A ${forward} ${c('the internet')} -j ACCEPT`]),
    ...allowed(input),
    `-A ${input} ${c('the host itself: bridge gateway and every host address')} -j DROP`,
  ];
  const hooks = [
    `-I DOCKER-USER 1 -i ${br} ${c('forwarded traffic from the cell bridge goes through the moat')} -j ${forward}`,
    `-I DOCKER-USER 2 -i ${br} ${c('fail closed: no forwarding from the cell bridge without the moat')} -j DROP`,
    inboundHook('DOCKER-USER', br, c),
    `-I INPUT 1 -i ${br} ${c('traffic from the cell bridge to the host goes through the moat')} -j ${input}`,
    `-I INPUT 2 -i ${br} ${c('fail closed: nothing from the cell bridge to the host without the moat')} -j DROP`,
  ];
  return { chains: [forward, input], rules, hooks };
}

function v6Doc(plan: MoatRulesPlan): FamilyDoc {
  const { forward, input } = moatChainNames(plan.namePrefix);
  const tag = moatTag(plan.namePrefix);
  const c = (text: string) => `-m comment --comment ${quote(tag + text)}`;
  const br = plan.bridgeName;
  const rules = [
    ...BLOCKED_V6.map((b) => `-A ${forward} -d ${b.cidr} ${c(`drop ${b.what}`)} -j DROP`),
    `-A ${forward} ${c('the cell network has no IPv6: drop all')} -j DROP`,
    `-A ${input} ${c('the cell network has no IPv6: drop all to the host')} -j DROP`,
  ];
  const hooks = [
    `-I FORWARD 1 -i ${br} ${c('forwarded IPv6 from the cell bridge goes through the moat')} -j ${forward}`,
    `-I FORWARD 2 -i ${br} ${c('fail closed: no IPv6 forwarding from the cell bridge without the moat')} -j DROP`,
    inboundHook('FORWARD', br, c),
    `-I INPUT 1 -i ${br} ${c('IPv6 from the cell bridge to the host goes through the moat')} -j ${input}`,
    `-I INPUT 2 -i ${br} ${c('fail closed: no IPv6 from the cell bridge to the host without the moat')} -j DROP`,
  ];
  return { chains: [forward, input], rules, hooks };
}

function familyText(doc: FamilyDoc): string[] {
  return ['*filter', ...doc.chains.map((ch) => `:${ch} - [0:0]`), ...doc.rules, ...doc.hooks, 'COMMIT'];
}

/**
 * The moat of one stack in iptables-restore format: IPv4, then `# ip6tables`, then IPv6.
 * Exactly what is applied (with `--noflush`: declaring our chains flushes and refills them, and
 * the apply step first deletes our previous hook rules in the same transaction).
 */
export function renderMoatRules(plan: MoatRulesPlan): string {
  checkPlan(plan);
  const limits = plan.connLimits ?? MOAT_CONN_LIMIT_DEFAULTS;
  const header = [
    `# clawjail moat of stack "${plan.namePrefix}": cell bridge ${plan.bridgeName} (${plan.subnet})`,
    `# ${plan.internet === false ? 'no internet (cellEgress none)' : plan.internetFrom ? `internet only from ${plan.internetFrom.join(', ')} (cellEgress allowlist)` : 'internet allowed'}; resolvers: ${plan.internet === false ? 'none' : plan.resolvers.join(', ') || 'none'}; exceptions: ${plan.exceptions.map((e) => `${e.ip}:${e.port}/${e.proto}`).join(', ') || 'none'}`,
    `# new connections per source address: ${limits.rate}/s, burst ${limits.burst}, at most ${limits.max} open`,
    '# apply with --noflush: iptables-restore up to the ip6tables marker line, ip6tables-restore after it',
    DOCKERD_JUMP_LINE,
  ];
  return [...header, ...familyText(v4Doc(plan)), IP6TABLES_MARKER, ...familyText(v6Doc(plan))].join('\n') + '\n';
}

/** Splits rendered (or read-back) rules into the iptables and the ip6tables parts. */
export function splitFamilies(text: string): { v4: string; v6: string } {
  const lines = text.split('\n');
  const at = lines.indexOf(IP6TABLES_MARKER);
  if (at < 0) return { v4: text, v6: '' };
  const v4 = lines.slice(0, at).join('\n');
  const v6 = lines.slice(at + 1).join('\n');
  return { v4: v4.endsWith('\n') || v4 === '' ? v4 : v4 + '\n', v6: v6.endsWith('\n') || v6 === '' ? v6 : v6 + '\n' };
}

// ---------------------------------------------------------------------------------------------
// Rule text: tokens and normal form
// ---------------------------------------------------------------------------------------------

/** Splits an iptables rule into words, honouring "double quotes" and backslash escapes. */
export function tokenizeRule(spec: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let inQuote = false;
  for (let i = 0; i < spec.length; i++) {
    const ch = spec[i];
    if (ch === '\\' && i + 1 < spec.length) {
      cur += spec[++i];
      inWord = true;
    } else if (ch === '"') {
      inQuote = !inQuote;
      inWord = true;
    } else if (/\s/.test(ch) && !inQuote) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/**
 * One rule line in a normal form both sides of a comparison agree on: implicit `-m tcp`/`-m udp`
 * dropped, host addresses with their prefix length, conntrack states sorted, words re-quoted.
 */
export function normalizeRule(line: string): string {
  const t = tokenizeRule(line);
  const out: string[] = [];
  let proto = '';
  for (let i = 0; i < t.length; i++) {
    const w = t[i];
    if (w === '-p' || w === '--protocol') {
      proto = t[i + 1] ?? '';
      out.push('-p', proto);
      i++;
    } else if (w === '-m' && (t[i + 1] === 'tcp' || t[i + 1] === 'udp') && t[i + 1] === proto) {
      i++;
    } else if ((w === '-s' || w === '-d') && t[i + 1] !== undefined) {
      const a = t[i + 1];
      out.push(w, a.includes('/') ? a : a.includes(':') ? `${a}/128` : `${a}/32`);
      i++;
    } else if (w === '--ctstate' && t[i + 1] !== undefined) {
      out.push(w, t[i + 1].split(',').sort().join(','));
      i++;
    } else {
      out.push(w);
    }
  }
  return out.map((w) => (/^[A-Za-z0-9_.:/,=+@%-]+$/.test(w) && w !== '' ? w : quote(w))).join(' ');
}

/** The lines that matter for comparison, each in normal form. */
export function comparableLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') continue;
    if (line.startsWith('#')) {
      if (line === IP6TABLES_MARKER || line.startsWith('# dockerd:')) out.push(line);
      continue;
    }
    if (line.startsWith('-')) out.push(normalizeRule(line));
    else if (line.startsWith(':')) out.push(line.replace(/\s*\[\d+:\d+\]$/, ' [0:0]'));
    else out.push(line);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading the live rules back
// ---------------------------------------------------------------------------------------------

interface SavedTable {
  chains: string[];
  rules: Map<string, string[]>;
}

/** The filter table of `iptables-save` output: chain names, and each chain's rule specs in order. */
export function parseSave(save: string): SavedTable {
  const chains: string[] = [];
  const rules = new Map<string, string[]>();
  let inFilter = false;
  for (const raw of save.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inFilter = line === '*filter';
    if (!inFilter) continue;
    if (line.startsWith(':')) {
      const name = line.slice(1).split(/\s+/)[0];
      chains.push(name);
      if (!rules.has(name)) rules.set(name, []);
    } else if (line.startsWith('-A ')) {
      const m = /^-A (\S+) ?(.*)$/.exec(line);
      if (!m) continue;
      if (!rules.has(m[1])) rules.set(m[1], []);
      rules.get(m[1])!.push(m[2]);
    }
  }
  return { chains, rules };
}

const commentOf = (spec: string): string | undefined => {
  const t = tokenizeRule(spec);
  const i = t.indexOf('--comment');
  return i >= 0 ? t[i + 1] : undefined;
};
const jumpOf = (spec: string): string | undefined => {
  const t = tokenizeRule(spec);
  const i = t.lastIndexOf('-j');
  return i >= 0 ? t[i + 1] : undefined;
};

function liveFamily(table: SavedTable, plan: MoatRulesPlan, hookChains: string[]): string[] {
  const names = moatChainNames(plan.namePrefix);
  const ours = [names.forward, names.input];
  const tag = moatTag(plan.namePrefix);
  const out = ['*filter'];
  for (const ch of ours) if (table.chains.includes(ch)) out.push(`:${ch} - [0:0]`);
  for (const ch of ours) for (const spec of table.rules.get(ch) ?? []) out.push(`-A ${ch} ${spec}`.trimEnd());
  for (const hook of hookChains) {
    // Another clawjail stack's hooks may sit ahead of ours; they are not this stack's drift.
    const specs = (table.rules.get(hook) ?? []).filter((s) => {
      const cm = commentOf(s);
      return !(cm && cm.startsWith('clawjail/') && !cm.startsWith(tag));
    });
    const isOurs = (s: string) => (commentOf(s) ?? '').startsWith(tag) || ours.includes(jumpOf(s) ?? '');
    let last = -1;
    specs.forEach((s, i) => {
      if (isOurs(s)) last = i;
    });
    // Everything up to our last rule: our hooks, and any rule someone put ahead of them.
    for (let i = 0; i <= last; i++) out.push(`-I ${hook} ${i + 1} ${specs[i]}`.trimEnd());
  }
  out.push('COMMIT');
  return out;
}

/**
 * The live moat of a stack in the same layout as `renderMoatRules`, from `iptables-save -t filter`
 * and `ip6tables-save -t filter` output.
 */
export function liveMoatRules(save4: string, save6: string, plan: MoatRulesPlan): string {
  const t4 = parseSave(save4);
  const forward = t4.rules.get('FORWARD') ?? [];
  const dockerd =
    forward[0] === '-j DOCKER-USER'
      ? DOCKERD_JUMP_LINE
      : `# dockerd: FORWARD does not start with -j DOCKER-USER (rule 1: ${forward[0] ?? 'none'})`;
  return (
    [
      dockerd,
      ...liveFamily(t4, plan, ['DOCKER-USER', 'INPUT']),
      IP6TABLES_MARKER,
      ...liveFamily(parseSave(save6), plan, ['FORWARD', 'INPUT']),
    ].join('\n') + '\n'
  );
}

// ---------------------------------------------------------------------------------------------
// Comparing
// ---------------------------------------------------------------------------------------------

export interface DiffLine {
  op: ' ' | '-' | '+';
  line: string;
}

/** A line diff (longest common subsequence): '-' only declared, '+' only live. */
export function lineDiff(declared: string[], live: string[]): DiffLine[] {
  const n = declared.length;
  const m = live.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = declared[i] === live[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && declared[i] === live[j]) {
      out.push({ op: ' ', line: declared[i] });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      out.push({ op: '-', line: declared[i++] });
    } else {
      out.push({ op: '+', line: live[j++] });
    }
  }
  return out;
}

/** Differences between the declared and the live rules; empty when in sync. */
export function moatDrift(declared: string, live: string): DiffLine[] {
  const d = lineDiff(comparableLines(declared), comparableLines(live));
  return d.some((l) => l.op !== ' ') ? d : [];
}

/** A readable diff: changed lines with `context` unchanged lines around them. */
export function formatDrift(diff: DiffLine[], context = 2): string {
  const keep = new Set<number>();
  diff.forEach((l, i) => {
    if (l.op === ' ') return;
    for (let k = Math.max(0, i - context); k <= Math.min(diff.length - 1, i + context); k++) keep.add(k);
  });
  const out = ['--- declared (clawjail moat render)', '+++ live (iptables-save)'];
  let last = -1;
  for (const i of [...keep].sort((a, b) => a - b)) {
    if (last >= 0 && i > last + 1) out.push('  ...');
    const l = diff[i];
    out.push(`${l.op} ${l.line}`);
    last = i;
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// The Docker host's resolvers ("auto")
// ---------------------------------------------------------------------------------------------

export interface ResolverSources {
  /** /etc/docker/daemon.json, or '' */
  daemonJson: string;
  /** /etc/resolv.conf */
  resolvConf: string;
  /** /run/systemd/resolve/resolv.conf, or '' */
  systemdResolvConf: string;
}

/** Docker's fallback when the host has no usable resolver. */
export const DOCKER_DEFAULT_RESOLVERS = ['8.8.8.8', '8.8.4.4'];


function nameservers(conf: string): string[] {
  return conf
    .split('\n')
    .map((l) => /^\s*nameserver\s+(\S+)/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
}

/**
 * Where dockerd (20.10+) sends the embedded DNS's queries, as it decides: the daemon's `dns`
 * setting; else the host's resolv.conf, or systemd-resolved's upstream file when resolv.conf only
 * names the local stub; loopback resolvers dropped (Docker cannot forward to them); Google DNS
 * when nothing is left. IPv4 only: the cell network has no IPv6.
 */
export function hostResolvers(src: ResolverSources): string[] {
  try {
    const dj = src.daemonJson.trim() ? (JSON.parse(src.daemonJson) as { dns?: unknown }) : {};
    if (Array.isArray(dj.dns)) {
      const dns = dj.dns.filter((x): x is string => typeof x === 'string' && isResolverAddress(x));
      if (dns.length) return uniq(dns, (x) => x);
    }
  } catch {
    /* a broken daemon.json stops dockerd anyway; fall through to resolv.conf */
  }
  let servers = nameservers(src.resolvConf);
  if (servers.length > 0 && servers.every((s) => s.startsWith('127.')) && src.systemdResolvConf.trim()) {
    servers = nameservers(src.systemdResolvConf);
  }
  const ok = uniq(servers.filter(isResolverAddress), (x) => x);
  return ok.length ? ok : [...DOCKER_DEFAULT_RESOLVERS];
}

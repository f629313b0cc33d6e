// The stack's configuration as one typed, validated object.
//
// Pure: `parseConfig` takes the raw `clawjail:*` values (strings, as Pulumi stores them) and
// returns a JailConfig or throws a ConfigError that lists every bad key with what is allowed.
// `infra/index.ts` feeds it from `pulumi.Config`; the CLI and the end-to-end tests feed it from
// a `Pulumi.<stack>.yaml` file, so all three see the same settings and the same defaults.

import { EgressEntryError, parseEgressEntry } from '../egress/src/entry';

export const CONFIG_NAMESPACE = 'clawjail';

export type Runtime = 'runc' | 'runsc';
export type Egress = 'allowlist' | 'internet' | 'none';
export type RestartPolicy = 'no' | 'on-failure' | 'always' | 'unless-stopped';

export interface JailConfig {
  /** Prefix of every Docker object the stack creates (containers, networks, volumes, images). */
  namePrefix: string;
  /** Docker engine the stack drives ("unix:///var/run/docker.sock" or "ssh://user@host"). */
  dockerHost: string;
  openclawVersion: string;
  /** Base of the cell image: Node 24 on Debian bookworm-slim. */
  nodeBaseImage: string;
  /** Base of the Debian-only images (clamd). */
  debianBaseImage: string;
  /**
   * PEM bundle of extra CAs that image builds must trust to reach the npm registry (for hosts
   * behind a TLS-intercepting proxy); empty for none. Used at build time only, never in an image.
   */
  buildCaFile: string;
  cell: CellConfig;
  network: NetworkConfig;
  /** Host addresses a published port may bind to besides loopback. */
  allowedPublishAddresses: string[];
  gateway: GatewayConfig;
  moat: MoatConfig;
  warden: WardenConfig;
  /** The egress gate (egress/): used when cell.egress is "allowlist". */
  egress: EgressGateConfig;
}

export type ModelApi = 'openai' | 'anthropic' | 'openrouter';

/** A model provider the gate serves on a plain-HTTP route inside the jail, adding its key. */
export interface ModelProvider {
  /** The route's name: `http://<gate>:3128/providers/<name>`. */
  name: string;
  api: ModelApi;
  /** The real provider, over verified TLS (https:// and a host name). */
  baseUrl: string;
}

/** The allowlisting proxy that is the cell's only way out with cellEgress "allowlist". */
export interface EgressGateConfig {
  /** Entries `host`, `*.suffix`, either with `:port` (443 when none): egress/README.md. */
  allow: string[];
  /** Entries that win over any allow; without a port, every port. */
  deny: string[];
  providers: ModelProvider[];
}

export type ClamdSignatures = 'freshclam' | 'custom';
export type UnscannablePolicy = 'quarantine' | 'allow';

/** The workspace scanner: the warden process and its clamd (warden/README.md). */
export interface WardenConfig {
  /**
   * "freshclam": a freshclam container (on the moated cell bridge: internet only) keeps the
   * signature volume current; "custom": the operator fills that volume (offline, or own signatures).
   */
  signatures: ClamdSignatures;
  /** freshclam's mirror, a host name. */
  databaseMirror: string;
  /** What happens to a file clamd gives no definite verdict on; "quarantine" fails closed. */
  unscannable: UnscannablePolicy;
  /** Larger files are unscannable without being sent; clamd's stream limit follows it. */
  maxFileSizeMb: number;
  /** clamd's scanning threads; the warden's concurrency follows them. */
  clamdThreads: number;
  /** clamd's memory: the signatures (about 1.2 GiB for the official set, twice while reloading) plus its spool. */
  clamdMemoryMb: number;
  /** The quarantine's own filesystem, in MiB (0: no cap; see infra/model/stores.ts). */
  quarantineSizeMb: number;
}

/** One allowed destination besides the internet, e.g. a model server on the LAN. */
export interface EgressException {
  ip: string;
  port: number;
  proto: 'tcp' | 'udp';
}

export type BootRestore = 'systemd' | 'none';

/** The cell's firewall (infra/model/firewall.ts renders it; infra/MOAT.md explains it). */
export interface MoatConfig {
  /**
   * Where Docker's embedded DNS may forward the cell's queries (port 53, udp and tcp): "auto" is
   * the Docker host's own resolvers, read from that host at deploy time; or explicit IPv4 addresses.
   */
  dnsResolvers: 'auto' | string[];
  /** Private or host destinations the cell may reach anyway; nothing else private is allowed. */
  egressExceptions: EgressException[];
  /**
   * More IPv4 networks to drop besides the private and special ranges: the host's LAN when it is
   * not on a private range (a hoster's public /24, say).
   */
  extraBlocked: string[];
  /** Run the firewall commands on the Docker host through `sudo -n` (an ssh user that is not root). */
  sudo: boolean;
  /** How the rules come back at boot: a systemd unit ordered before docker.service, or nothing. */
  bootRestore: BootRestore;
  /**
   * New connections from the cell's bridge, each source address on its own budget, so that the
   * cell cannot fill the host's conntrack table (infra/MOAT.md, "Connection limits"): `rate` new
   * connections a second sustained, `burst` above it, `max` open at once (in each moat chain).
   */
  connLimits: MoatConnLimits;
}

export interface MoatConnLimits {
  rate: number;
  burst: number;
  max: number;
}

export interface CellConfig {
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  tmpfsMb: number;
  runtime: Runtime;
  restart: RestartPolicy;
  logMaxSizeMb: number;
  logMaxFiles: number;
  /** Port OpenClaw's own gateway listens on, on the cell's loopback. */
  openclawPort: number;
  /** Host directory bound as the workspace; empty means a named Docker volume. */
  workspaceHostPath: string;
  /** The workspace's own filesystem: its size in MiB and its inodes (0: no cap; see infra/model/stores.ts). */
  workspaceSizeMb: number;
  workspaceInodes: number;
  /**
   * "allowlist": the egress gate is the only way out (names on clawjail:egressAllow); "internet":
   * any public address, through the moat; "none": no route out at all (local models only).
   */
  egress: Egress;
}

export interface GatewayConfig {
  /** Host port the operator connects to (wss:// and https://): the dashboard origin. */
  port: number;
  /** Host port of the gateway's own login page: an origin the dashboard (the prisoner's code) never shares. */
  loginPort: number;
  /** Host address the port is published on: loopback unless explicitly allowed. */
  listenAddress: string;
}

export interface NetworkConfig {
  /** Linux name of the cell's bridge (at most 15 characters). */
  bridgeName: string;
  subnet: string;
  /** The warden-to-clamd network: internal (no route out), no port published, no cell on it. */
  scanBridgeName: string;
  scanSubnet: string;
  /** The gate link (cellEgress allowlist): internal, no host address; the cell and the gate only. */
  gateBridgeName: string;
  gateSubnet: string;
}

/** The raw values: key (without namespace) to string, as `pulumi config` stores them. */
export type RawConfig = Readonly<Record<string, string | undefined>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `invalid clawjail stack configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}\n` +
        `Set a value with: pulumi config set ${CONFIG_NAMESPACE}:<key> <value>`,
    );
    this.name = 'ConfigError';
  }
}

/** Every key this stack reads, with its default; anything else under `clawjail:` is a typo. */
export const CONFIG_DEFAULTS = {
  namePrefix: 'clawjail',
  dockerHost: 'unix:///var/run/docker.sock',
  openclawVersion: '2026.9.6',
  nodeBaseImage: 'node:24-bookworm-slim',
  debianBaseImage: 'debian:bookworm-slim',
  cellMemoryMb: '2048',
  cellCpus: '1',
  cellPidsLimit: '256',
  cellTmpfsMb: '512',
  cellRuntime: 'runc',
  cellRestart: 'unless-stopped',
  logMaxSizeMb: '10',
  logMaxFiles: '3',
  openclawPort: '18789',
  workspaceHostPath: '',
  workspaceSizeMb: '10240',
  workspaceInodes: 'auto',
  quarantineSizeMb: '4096',
  cellEgress: 'allowlist',
  buildCaFile: '',
  bridgeName: 'clawjail0',
  subnet: '172.29.77.0/24',
  allowedPublishAddresses: '[]',
  gatewayPort: '8443',
  gatewayLoginPort: '8444',
  gatewayListenAddress: '127.0.0.1',
  dnsResolvers: 'auto',
  egressExceptions: '[]',
  moatExtraBlocked: '[]',
  moatSudo: 'false',
  moatBootRestore: 'systemd',
  // The same numbers as MOAT_CONN_LIMIT_DEFAULTS in infra/model/firewall.ts (a unit test keeps them equal).
  moatConnRate: '50',
  moatConnBurst: '250',
  moatConnMax: '1024',
  scanBridgeName: 'clawjail1',
  scanSubnet: '172.29.78.0/24',
  clamdSignatures: 'freshclam',
  clamdDatabaseMirror: 'database.clamav.net',
  clamdThreads: '2',
  clamdMemoryMb: '3072',
  wardenUnscannable: 'quarantine',
  wardenMaxFileSizeMb: '100',
  // A small start, for OpenClaw's own package manager and git over https: anything else the
  // agent asks for shows up in `clawjail egress pending`, for the operator to decide.
  egressAllow: '["codeload.github.com","github.com","objects.githubusercontent.com","registry.npmjs.org"]',
  egressDeny: '[]',
  gateBridgeName: 'clawjail2',
  gateSubnet: '172.29.79.0/24',
  modelProviders: '[]',
} as const satisfies Record<string, string>;

/** The smallest and largest capped store (workspace, quarantine): an ext4 image of that many MiB. */
export const MIN_STORE_MB = 32;
export const MAX_STORE_MB = 4 * 1024 * 1024;
/** Inodes of a capped workspace when not set: one per 16 KiB, about what ext4 itself picks. */
export const STORE_INODES_PER_MB = 64;

/** `workspaceInodes`: "auto" (one per 16 KiB of the size), or a number ext4 can hold (at most one per 4 KiB block). */
function parseInodes(r: Reader, raw: RawConfig, sizeMb: number): number {
  const v = (raw.workspaceInodes ?? CONFIG_DEFAULTS.workspaceInodes).trim();
  if (sizeMb === 0) return 0;
  if (v === 'auto') return sizeMb * STORE_INODES_PER_MB;
  const max = sizeMb * 256;
  if (!/^\d+$/.test(v) || Number(v) < 1024 || Number(v) > max) {
    r.problems.push(`${CONFIG_NAMESPACE}:workspaceInodes = "${v}": must be "auto" or a whole number from 1024 to ${max} (one per 4 KiB of workspaceSizeMb)`);
    return sizeMb * STORE_INODES_PER_MB;
  }
  return Number(v);
}

/** clamd's peak while it reloads the official database with ConcurrentDatabaseReload (two copies of about 1.1 GiB). */
export const FRESHCLAM_RELOAD_PEAK_MB = 2304;

/** Keys that are secrets: read, never defaulted, never printed. */
export const SECRET_KEYS = ['openclawToken', 'gatewayToken'] as const;
/**
 * Secrets that only some stacks have: `modelKeys`, a JSON object from provider name to its key
 * (`pulumi config set --secret --path clawjail:modelKeys.openai sk-...`).
 */
export const OPTIONAL_SECRET_KEYS = ['modelKeys'] as const;

export type ConfigKey = keyof typeof CONFIG_DEFAULTS;

const RUNTIMES: readonly Runtime[] = ['runc', 'runsc'];
const EGRESS: readonly Egress[] = ['allowlist', 'internet', 'none'];
const MODEL_APIS: readonly ModelApi[] = ['openai', 'anthropic', 'openrouter'];
const RESTART_POLICIES: readonly RestartPolicy[] = ['no', 'on-failure', 'always', 'unless-stopped'];
const BOOT_RESTORES: readonly BootRestore[] = ['systemd', 'none'];
const SIGNATURE_SOURCES: readonly ClamdSignatures[] = ['freshclam', 'custom'];
const UNSCANNABLE_POLICIES: readonly UnscannablePolicy[] = ['quarantine', 'allow'];
const HOSTNAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** Collects problems instead of stopping at the first, so one `preview` shows them all. */
class Reader {
  readonly problems: string[] = [];
  constructor(private readonly raw: RawConfig) {}

  private value(key: ConfigKey): string {
    const v = this.raw[key];
    return v === undefined ? CONFIG_DEFAULTS[key] : v.trim();
  }

  private fail<T>(key: string, got: string, allowed: string, fallback: T): T {
    this.problems.push(`${CONFIG_NAMESPACE}:${key} = ${JSON.stringify(got)}: ${allowed}`);
    return fallback;
  }

  /** 0, or a whole number from min to max. */
  intOrZero(key: ConfigKey, min: number, max: number, unit = ''): number {
    const v = this.value(key);
    if (v === '0') return 0;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) return this.fail(key, v, `must be 0 or a whole number from ${min} to ${max}${unit}`, min);
    return n;
  }

  int(key: ConfigKey, min: number, max: number, unit = ''): number {
    const v = this.value(key);
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      return this.fail(key, v, `must be a whole number from ${min} to ${max}${unit}`, min);
    }
    return n;
  }

  decimal(key: ConfigKey, min: number, max: number): number {
    const v = this.value(key);
    const n = /^\d+(\.\d+)?$/.test(v) ? Number(v) : NaN;
    if (!Number.isFinite(n) || n < min || n > max) {
      return this.fail(key, v, `must be a number from ${min} to ${max}`, min);
    }
    return n;
  }

  oneOf<T extends string>(key: ConfigKey, allowed: readonly T[]): T {
    const v = this.value(key);
    return (allowed as readonly string[]).includes(v)
      ? (v as T)
      : this.fail(key, v, `must be one of ${allowed.join(', ')}`, allowed[0]);
  }

  matching(key: ConfigKey, re: RegExp, allowed: string): string {
    const v = this.value(key);
    return re.test(v) ? v : this.fail(key, v, allowed, CONFIG_DEFAULTS[key]);
  }

  check(key: ConfigKey, ok: (v: string) => boolean, allowed: string): string {
    const v = this.value(key);
    return ok(v) ? v : this.fail(key, v, allowed, CONFIG_DEFAULTS[key]);
  }

  stringList(key: ConfigKey, ok: (v: string) => boolean, allowed: string): string[] {
    const v = this.value(key);
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      return this.fail(key, v, `must be a JSON list of strings, e.g. ["192.168.1.10"]`, []);
    }
    if (!Array.isArray(parsed) || !parsed.every((x): x is string => typeof x === 'string')) {
      return this.fail(key, v, 'must be a JSON list of strings', []);
    }
    const bad = parsed.filter((x) => !ok(x));
    return bad.length ? this.fail(key, v, `${bad.join(', ')}: ${allowed}`, []) : parsed;
  }

  secret(key: (typeof SECRET_KEYS)[number], ok: (v: string) => boolean, allowed: string): string {
    const v = this.raw[key];
    if (v === undefined || v === '') {
      this.problems.push(
        `${CONFIG_NAMESPACE}:${key} is required and must be a secret: ` +
          `pulumi config set --secret ${CONFIG_NAMESPACE}:${key} "$(openssl rand -hex 32)"`,
      );
      return '';
    }
    // Never echo a secret's value back in the message.
    if (!ok(v)) this.problems.push(`${CONFIG_NAMESPACE}:${key}: ${allowed}`);
    return v;
  }
}

export function isIPv4(s: string): boolean {
  const parts = s.split('.');
  return (
    parts.length === 4 &&
    parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255 && (p === '0' || !p.startsWith('0')))
  );
}

export function isIPv4Cidr(s: string): boolean {
  const [addr, len, ...rest] = s.split('/');
  return rest.length === 0 && isIPv4(addr) && /^\d{1,2}$/.test(len ?? '') && Number(len) <= 32;
}

/** First and last address of an IPv4 CIDR, as 32-bit numbers. */
function cidrRange(cidr: string): [number, number] {
  const [addr, len] = cidr.split('/');
  const ip = addr.split('.').reduce((n, p) => n * 256 + Number(p), 0);
  const size = 2 ** (32 - Number(len));
  const first = ip - (ip % size);
  return [first, first + size - 1];
}

/** The `n`th address of an IPv4 network (n = 1 is the first after the network address). */
export function hostInCidr(cidr: string, n: number): string {
  const [first, last] = cidrRange(cidr);
  const ip = first + n;
  if (n < 1 || ip >= last) throw new Error(`${cidr} has no host number ${n}`);
  return [24, 16, 8, 0].map((shift) => Math.floor(ip / 2 ** shift) % 256).join('.');
}

/** Whether `inner` lies wholly inside `outer`. */
export function cidrContains(outer: string, inner: string): boolean {
  const [o0, o1] = cidrRange(outer);
  const [i0, i1] = cidrRange(inner);
  return o0 <= i0 && i1 <= o1;
}

const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

export function cidrsOverlap(a: string, b: string): boolean {
  const [a0, a1] = cidrRange(a);
  const [b0, b1] = cidrRange(b);
  return a0 <= b1 && b0 <= a1;
}

/** A Docker image reference pinned by a tag other than `latest`, or by digest. */
export function isPinnedImageRef(ref: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  if (/^sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  if (colon < 0) return false;
  const tag = ref.slice(colon + 1);
  return /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag) && tag !== 'latest';
}

/**
 * Where a host-directory workspace may live: a tree of its own. Anywhere else it could share a
 * directory with a host user's sockets or dotfiles, and the prisoner's uid 1000 is often a real
 * user on the host. The policy pack holds the cell to the same roots.
 */
export const WORKSPACE_ROOTS: readonly string[] = ['/srv/clawjail/', '/var/lib/clawjail/'];

const NAME_PREFIX_RE = /^[a-z][a-z0-9-]{0,23}$/;
// The kernel limit for an interface name is 15 bytes (IFNAMSIZ - 1).
const BRIDGE_RE = /^[a-zA-Z][a-zA-Z0-9_-]{0,14}$/;

/** A DNS resolver Docker's embedded DNS can forward to: not loopback, not 0.0.0.0/8. */
export function isResolverAddress(s: string): boolean {
  return isIPv4(s) && !s.startsWith('127.') && !s.startsWith('0.');
}

/** "ip:port" or "ip:port/tcp" or "ip:port/udp"; the protocol defaults to tcp. */
export function parseEgressException(s: string): EgressException | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(s);
  if (!m || !isIPv4(m[1]) || m[1] === '0.0.0.0') return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535 || String(port) !== m[2]) return undefined;
  return { ip: m[1], port, proto: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp' };
}

function parseMoat(r: Reader, raw: RawConfig): MoatConfig {
  const dns = (raw.dnsResolvers ?? CONFIG_DEFAULTS.dnsResolvers).trim();
  let dnsResolvers: MoatConfig['dnsResolvers'] = 'auto';
  if (dns !== 'auto') {
    const before = r.problems.length;
    dnsResolvers = r.stringList(
      'dnsResolvers',
      isResolverAddress,
      'must be IPv4 addresses that are not loopback (or "auto": the Docker host\'s own resolvers)',
    );
    if (dnsResolvers.length === 0 && r.problems.length === before) {
      r.problems.push(`${CONFIG_NAMESPACE}:dnsResolvers = ${JSON.stringify(dns)}: must list at least one resolver, or be "auto"`);
    }
  }
  const exceptions = r.stringList(
    'egressExceptions',
    (v) => parseEgressException(v) !== undefined,
    'must be "ip:port" or "ip:port/tcp" or "ip:port/udp" (IPv4, port 1-65535)',
  );
  const host = (raw.dockerHost ?? CONFIG_DEFAULTS.dockerHost).trim();
  if (host.startsWith('tcp://')) {
    r.problems.push(
      `${CONFIG_NAMESPACE}:dockerHost = ${JSON.stringify(host)}: the moat applies its firewall through a shell on the ` +
        'Docker host, so it must be unix:///path (this machine) or ssh://user@host',
    );
  }
  return {
    dnsResolvers,
    egressExceptions: exceptions.map((e) => parseEgressException(e) as EgressException),
    extraBlocked: r.stringList('moatExtraBlocked', isIPv4Cidr, 'must be IPv4 networks such as 203.0.113.0/24'),
    sudo: r.oneOf('moatSudo', ['false', 'true'] as const) === 'true',
    bootRestore: r.oneOf('moatBootRestore', BOOT_RESTORES),
    connLimits: {
      rate: r.int('moatConnRate', 1, 10000, ' (new connections a second, per source address)'),
      burst: r.int('moatConnBurst', 1, 10000, ' (new connections above the rate, per source address)'),
      max: r.int('moatConnMax', 16, 1048576, ' (open connections, per source address)'),
    },
  };
}

/** Secrets are kept apart so that nothing that prints the config can print them. */
export interface JailSecrets {
  openclawToken: string;
  /** The operator's token for our gateway (the vault); OpenClaw never sees it. */
  gatewayToken: string;
  /**
   * The gate's providers file (egress/README.md), keys included: written into the gate's own
   * volume before it starts, never into the cell. `{"providers":[]}` when there are none.
   */
  egressProviders: string;
}

/** Where each API shape puts its key, and its usual base URL. */
export const MODEL_API_SHAPES: Readonly<Record<ModelApi, { header: string; prefix: string; baseUrl: string }>> = {
  openai: { header: 'authorization', prefix: 'Bearer ', baseUrl: 'https://api.openai.com/v1' },
  openrouter: { header: 'authorization', prefix: 'Bearer ', baseUrl: 'https://openrouter.ai/api/v1' },
  anthropic: { header: 'x-api-key', prefix: '', baseUrl: 'https://api.anthropic.com' },
};

const PROVIDER_NAME_RE = /^[a-z][a-z0-9-]{0,31}$/;

/** An https:// base URL on a host name (the gate refuses IP literals), no credentials, query or fragment. */
export function isProviderBaseUrl(s: string): boolean {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return false;
  }
  return (
    u.protocol === 'https:' &&
    HOSTNAME_RE.test(u.hostname) &&
    !isIPv4(u.hostname) &&
    u.username === '' &&
    u.password === '' &&
    u.search === '' &&
    u.hash === ''
  );
}

/**
 * Why an allowlist entry is not one the stack may write, or null when it is. The grammar is the
 * gate's own (egress/src/entry.ts: `host`, `*.suffix`, either with `:port`; names only). On top
 * of it the stack takes only the canonical form (lower case, no trailing dot): the gate compares
 * names in that form and the policy file is read back from the gate, so the stack writes them so.
 */
export function egressEntryProblem(s: string): string | null {
  let text: string;
  try {
    text = parseEgressEntry(s).text;
  } catch (e) {
    if (e instanceof EgressEntryError) return e.message;
    throw e;
  }
  return text === s ? null : `${JSON.stringify(s)} must be written as ${JSON.stringify(text)} (lower case, no trailing dot)`;
}

/** An allowlist entry in the form the stack writes (see egressEntryProblem). */
export function isEgressEntry(s: string): boolean {
  return egressEntryProblem(s) === null;
}

function parseProviders(r: Reader, raw: RawConfig): ModelProvider[] {
  const text = (raw.modelProviders ?? CONFIG_DEFAULTS.modelProviders).trim();
  const key = `${CONFIG_NAMESPACE}:modelProviders`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    r.problems.push(`${key}: must be a list of {"name", "api", "baseUrl"} objects`);
    return [];
  }
  if (!Array.isArray(parsed)) {
    r.problems.push(`${key}: must be a list of {"name", "api", "baseUrl"} objects`);
    return [];
  }
  const out: ModelProvider[] = [];
  parsed.forEach((p: unknown, i) => {
    const at = `${key}[${i}]`;
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      r.problems.push(`${at}: must be an object {"name", "api", "baseUrl"}`);
      return;
    }
    const o = p as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => !['name', 'api', 'baseUrl'].includes(k));
    if (extra.length) r.problems.push(`${at}: unknown field ${extra.join(', ')} (known: name, api, baseUrl; keys go in the secret ${CONFIG_NAMESPACE}:modelKeys)`);
    const name = typeof o.name === 'string' ? o.name : '';
    if (!PROVIDER_NAME_RE.test(name)) r.problems.push(`${at}.name = ${JSON.stringify(o.name)}: must be 1-32 characters: a lowercase letter, then lowercase letters, digits or -`);
    // OpenClaw takes a base URL and a key for its bundled providers alone; any other name would
    // need a model list of its own, which clawjail does not write.
    else if (!(MODEL_APIS as readonly string[]).includes(name)) r.problems.push(`${at}.name = ${JSON.stringify(name)}: must be one of OpenClaw's bundled providers: ${MODEL_APIS.join(', ')}`);
    const api = typeof o.api === 'string' ? o.api : '';
    if (!(MODEL_APIS as readonly string[]).includes(api)) r.problems.push(`${at}.api = ${JSON.stringify(o.api)}: must be one of ${MODEL_APIS.join(', ')}`);
    const shape = MODEL_API_SHAPES[api as ModelApi];
    const baseUrl = o.baseUrl === undefined ? shape?.baseUrl ?? '' : typeof o.baseUrl === 'string' ? o.baseUrl.replace(/\/+$/, '') : '';
    if (!isProviderBaseUrl(baseUrl)) r.problems.push(`${at}.baseUrl = ${JSON.stringify(o.baseUrl)}: must be an https:// URL on a host name, e.g. https://api.openai.com/v1`);
    if (out.some((x) => x.name === name)) r.problems.push(`${at}.name = ${JSON.stringify(name)}: used twice`);
    out.push({ name, api: api as ModelApi, baseUrl });
  });
  return out;
}

function parseEgressGate(r: Reader, raw: RawConfig): EgressGateConfig {
  // Each bad entry is its own problem: the key, the entry's index and text, and why.
  const entries = (key: 'egressAllow' | 'egressDeny'): string[] => {
    const list = r.stringList(key, () => true, '');
    const bad = list.flatMap((e, i) => {
      const why = egressEntryProblem(e);
      return why === null ? [] : [`${CONFIG_NAMESPACE}:${key}[${i}]: ${why}`];
    });
    r.problems.push(...bad);
    return bad.length ? [] : [...new Set(list)].sort();
  };
  return {
    allow: entries('egressAllow'),
    deny: entries('egressDeny'),
    providers: parseProviders(r, raw),
  };
}

/** The providers file the gate reads, keys from the `modelKeys` secret (checked here). */
function providersFile(r: Reader, providers: ModelProvider[], keysText: string | undefined, requireSecrets: boolean): string {
  const key = `${CONFIG_NAMESPACE}:modelKeys`;
  let keys: Record<string, string> = {};
  if (keysText !== undefined && keysText !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(keysText);
    } catch {
      parsed = null;
    }
    // Never echo the secret's text back.
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string' && v.length > 0 && !/[\r\n]/.test(v))) {
      r.problems.push(`${key}: must be a secret JSON object from provider name to its key, e.g. pulumi config set --secret --path ${key}.openai sk-...`);
    } else {
      keys = parsed as Record<string, string>;
    }
  }
  for (const name of Object.keys(keys)) {
    if (!providers.some((p) => p.name === name)) r.problems.push(`${key}: has a key for ${JSON.stringify(name)}, which ${CONFIG_NAMESPACE}:modelProviders does not name`);
  }
  if (requireSecrets) {
    for (const p of providers) {
      if (!keys[p.name]) r.problems.push(`${key}.${p.name} is required for the provider ${p.name}: pulumi config set --secret --path ${key}.${p.name} <its API key>`);
    }
  }
  return JSON.stringify({
    providers: providers.map((p) => ({ name: p.name, baseUrl: p.baseUrl, ...pick(MODEL_API_SHAPES[p.api]), key: keys[p.name] ?? '' })),
  });
}

// A provider with a bad `api` was already reported; its file entry never gets written.
const pick = (s: { header: string; prefix: string } | undefined) => ({ header: s?.header ?? '', prefix: s?.prefix ?? '' });

export interface ParseOptions {
  /** False for tools that read a stack file without its passphrase (render, check, list). */
  requireSecrets?: boolean;
}

export function parseConfig(
  raw: RawConfig,
  opts: ParseOptions = {},
): { config: JailConfig; secrets: JailSecrets } {
  const unknown = Object.keys(raw).filter(
    (k) => !(k in CONFIG_DEFAULTS) && ![...SECRET_KEYS, ...OPTIONAL_SECRET_KEYS].includes(k as never),
  );
  const r = new Reader(raw);
  for (const k of unknown) {
    r.problems.push(
      `${CONFIG_NAMESPACE}:${k} is not a setting of clawjail (known: ${[...Object.keys(CONFIG_DEFAULTS), ...SECRET_KEYS, ...OPTIONAL_SECRET_KEYS].join(', ')})`,
    );
  }
  const config: JailConfig = {
    namePrefix: r.matching('namePrefix', NAME_PREFIX_RE, 'must be 1-24 characters: a lowercase letter, then lowercase letters, digits or -'),
    dockerHost: r.matching('dockerHost', /^(unix:\/\/\/\S+|ssh:\/\/\S+|tcp:\/\/\S+)$/, 'must be unix:///path, ssh://user@host or tcp://host:port'),
    openclawVersion: r.matching('openclawVersion', /^\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?$/, 'must be an exact version such as 2026.9.6 (no ranges, no "latest")'),
    nodeBaseImage: r.check('nodeBaseImage', isPinnedImageRef, 'must be an image pinned by tag or digest, never latest or untagged'),
    debianBaseImage: r.check('debianBaseImage', isPinnedImageRef, 'must be an image pinned by tag or digest, never latest or untagged'),
    buildCaFile: r.check('buildCaFile', (v) => v === '' || v.startsWith('/'), 'must be empty or an absolute path to a PEM file'),
    cell: {
      // OpenClaw's gateway alone uses about 700 MiB; below 1.5 GiB it is OOM-killed under load.
      memoryMb: r.int('cellMemoryMb', 1536, 65536, ' (MiB)'),
      cpus: r.decimal('cellCpus', 0.1, 64),
      // OpenClaw needs about 30 processes; fewer than 64 starves its workers.
      pidsLimit: r.int('cellPidsLimit', 64, 4096),
      tmpfsMb: r.int('cellTmpfsMb', 64, 8192, ' (MiB)'),
      runtime: r.oneOf('cellRuntime', RUNTIMES),
      restart: r.oneOf('cellRestart', RESTART_POLICIES),
      logMaxSizeMb: r.int('logMaxSizeMb', 1, 1024, ' (MiB)'),
      logMaxFiles: r.int('logMaxFiles', 1, 20),
      openclawPort: r.int('openclawPort', 1024, 65535),
      workspaceHostPath: r.check(
        'workspaceHostPath',
        (v) =>
          v === '' ||
          (WORKSPACE_ROOTS.some((root) => v.startsWith(root) && v.length > root.length) &&
            !v.split('/').some((part) => part === '..' || part === '.')),
        `must be empty (a named volume) or a directory under ${WORKSPACE_ROOTS.join(' or ')} (no "..")`,
      ),
      egress: r.oneOf('cellEgress', EGRESS),
      workspaceSizeMb: r.intOrZero('workspaceSizeMb', MIN_STORE_MB, MAX_STORE_MB, ' (MiB; 0 = no cap)'),
      workspaceInodes: 0,
    },
    network: {
      bridgeName: r.matching('bridgeName', BRIDGE_RE, 'must be a Linux interface name: 1-15 letters, digits, _ or -, starting with a letter'),
      subnet: r.check('subnet', isIPv4Cidr, 'must be an IPv4 CIDR such as 172.29.77.0/24'),
      scanBridgeName: r.matching('scanBridgeName', BRIDGE_RE, 'must be a Linux interface name: 1-15 letters, digits, _ or -, starting with a letter'),
      scanSubnet: r.check('scanSubnet', isIPv4Cidr, 'must be an IPv4 CIDR such as 172.29.78.0/24'),
      gateBridgeName: r.matching('gateBridgeName', BRIDGE_RE, 'must be a Linux interface name: 1-15 letters, digits, _ or -, starting with a letter'),
      gateSubnet: r.check('gateSubnet', isIPv4Cidr, 'must be an IPv4 CIDR such as 172.29.79.0/24'),
    },
    allowedPublishAddresses: r.stringList('allowedPublishAddresses', isIPv4, 'must be IPv4 addresses'),
    gateway: {
      port: r.int('gatewayPort', 1, 65535),
      loginPort: r.int('gatewayLoginPort', 1, 65535),
      listenAddress: r.check('gatewayListenAddress', isIPv4, 'must be an IPv4 address (127.0.0.1 keeps the gateway on this host)'),
    },
    moat: parseMoat(r, raw),
    warden: {
      signatures: r.oneOf('clamdSignatures', SIGNATURE_SOURCES),
      databaseMirror: r.matching('clamdDatabaseMirror', HOSTNAME_RE, 'must be a host name such as database.clamav.net'),
      unscannable: r.oneOf('wardenUnscannable', UNSCANNABLE_POLICIES),
      maxFileSizeMb: r.int('wardenMaxFileSizeMb', 1, 2048, ' (MiB)'),
      clamdThreads: r.int('clamdThreads', 1, 32),
      // The official signatures alone take about 1.2 GiB; less only makes sense with custom ones.
      clamdMemoryMb: r.int('clamdMemoryMb', 256, 65536, ' (MiB)'),
      quarantineSizeMb: r.intOrZero('quarantineSizeMb', MIN_STORE_MB, MAX_STORE_MB, ' (MiB; 0 = no cap)'),
    },
    egress: parseEgressGate(r, raw),
  };
  config.cell.workspaceInodes = parseInodes(r, raw, config.cell.workspaceSizeMb);
  const n = config.network;
  const bridges: [string, string][] = [['bridgeName', n.bridgeName], ['scanBridgeName', n.scanBridgeName], ['gateBridgeName', n.gateBridgeName]];
  bridges.forEach(([key, name], i) => {
    const earlier = bridges.slice(0, i).find(([, other]) => other === name);
    if (earlier) r.problems.push(`${CONFIG_NAMESPACE}:${key} = "${name}": must differ from ${CONFIG_NAMESPACE}:${earlier[0]}`);
  });
  // The internal networks (scan, gate): a Docker network takes a route on the host, so on a
  // public range or the LAN it would hijack the host's own traffic to those addresses.
  const internalNets: ['scanSubnet' | 'gateSubnet', string][] = [['scanSubnet', n.scanSubnet], ['gateSubnet', n.gateSubnet]];
  internalNets.forEach(([name, subnet], i) => {
    if (!isIPv4Cidr(subnet)) return;
    const len = Number(subnet.split('/')[1]);
    if (!PRIVATE_RANGES.some((p) => cidrContains(p, subnet)) || len > 29) {
      r.problems.push(`${CONFIG_NAMESPACE}:${name} = "${subnet}": must be a private range (10/8, 172.16/12, 192.168/16) of at least /29`);
    }
    const clashes = [
      ...(isIPv4Cidr(n.subnet) ? [[`${CONFIG_NAMESPACE}:subnet`, n.subnet]] : []),
      ...internalNets.slice(0, i).filter(([, c]) => isIPv4Cidr(c)).map(([k, c]) => [`${CONFIG_NAMESPACE}:${k}`, c]),
      ...config.moat.extraBlocked.map((b) => [`${CONFIG_NAMESPACE}:moatExtraBlocked`, b]),
      ...config.moat.egressExceptions.map((e) => [`${CONFIG_NAMESPACE}:egressExceptions`, `${e.ip}/32`]),
      ...(config.moat.dnsResolvers === 'auto' ? [] : config.moat.dnsResolvers.map((d) => [`${CONFIG_NAMESPACE}:dnsResolvers`, `${d}/32`])),
    ];
    for (const [key, cidr] of clashes) {
      if (cidrsOverlap(cidr, subnet)) r.problems.push(`${CONFIG_NAMESPACE}:${name} = "${subnet}": overlaps ${key} (${cidr})`);
    }
  });
  if (isIPv4Cidr(n.subnet) && Number(n.subnet.split('/')[1]) > 29) {
    // The gateway, the gate and freshclam take fixed addresses .2 to .4 on the cell's bridge.
    r.problems.push(`${CONFIG_NAMESPACE}:subnet = "${n.subnet}": must be at least a /29`);
  }
  if (config.cell.egress !== 'allowlist' && (config.egress.providers.length > 0 || raw.modelKeys)) {
    r.problems.push(
      `${CONFIG_NAMESPACE}:modelProviders: the gate serves model providers only with ${CONFIG_NAMESPACE}:cellEgress = "allowlist" (got "${config.cell.egress}")`,
    );
  }
  if (config.warden.signatures === 'freshclam' && config.cell.egress === 'none') {
    r.problems.push(
      `${CONFIG_NAMESPACE}:clamdSignatures = "freshclam": freshclam reaches its mirror through the cell's bridge, which ` +
        `${CONFIG_NAMESPACE}:cellEgress = "none" cuts off; use "custom" and fill the signature volume yourself`,
    );
  }
  const w = config.warden;
  // Every scan in flight spools its stream into clamd's tmpfs, which counts against its memory.
  const spoolMb = w.clamdThreads * w.maxFileSizeMb;
  if (spoolMb + 192 > w.clamdMemoryMb) {
    r.problems.push(
      `${CONFIG_NAMESPACE}:clamdMemoryMb = ${w.clamdMemoryMb}: must exceed clamdThreads x wardenMaxFileSizeMb ` +
        `(${spoolMb} MiB of spool) by at least 192 MiB, plus what the signatures take`,
    );
  }
  // freshclam brings the official database, about 1.1 GiB in clamd (a generated one of the same
  // size, 5.5 M hash and 600 k body signatures, takes 1.08 GiB: npm run bench -- clamd-db), and
  // ConcurrentDatabaseReload keeps two copies while a new one loads (2.1 GiB measured).
  if (w.signatures === 'freshclam' && spoolMb + FRESHCLAM_RELOAD_PEAK_MB > w.clamdMemoryMb) {
    r.problems.push(
      `${CONFIG_NAMESPACE}:clamdMemoryMb = ${w.clamdMemoryMb}: with clamdSignatures freshclam it must hold a concurrent reload ` +
        `of the official database (${FRESHCLAM_RELOAD_PEAK_MB} MiB) plus the spool (${spoolMb} MiB)`,
    );
  }
  if (config.gateway.loginPort === config.gateway.port) {
    r.problems.push(
      `${CONFIG_NAMESPACE}:gatewayLoginPort = ${config.gateway.loginPort}: must differ from gatewayPort: the login page may not share the dashboard's origin`,
    );
  }
  if (
    !config.gateway.listenAddress.startsWith('127.') &&
    !config.allowedPublishAddresses.includes(config.gateway.listenAddress)
  ) {
    r.problems.push(
      `${CONFIG_NAMESPACE}:gatewayListenAddress = "${config.gateway.listenAddress}": not loopback, so it must also be listed in ${CONFIG_NAMESPACE}:allowedPublishAddresses (an explicit choice to expose the gateway)`,
    );
  }
  const tokenOk = (v: string) => v.length >= 32 && !/\s/.test(v);
  const secretOf = (key: (typeof SECRET_KEYS)[number]) =>
    opts.requireSecrets === false && !raw[key] ? '' : r.secret(key, tokenOk, 'must be at least 32 characters with no whitespace');
  const secrets: JailSecrets = {
    openclawToken: secretOf('openclawToken'),
    gatewayToken: secretOf('gatewayToken'),
    egressProviders: providersFile(r, config.egress.providers, raw.modelKeys, opts.requireSecrets !== false),
  };

  if (r.problems.length) throw new ConfigError(r.problems);
  return { config, secrets };
}

// The jail's invariants as @pulumi/policy resource validations.
//
// This module only *describes* the policies: plain `ResourceValidationPolicy` objects and the
// pure check functions behind them. It never constructs a `PolicyPack` (that starts the
// analyzer's gRPC server), so tests and other code can import it freely; `index.ts` is the pack.
//
// Every check is a pure function `(props, config) => string[]` returning one message per
// violation. A message names the resource field at fault and what would be allowed.
//
// During `pulumi preview` some inputs are still unknown (an image id produced by a build, say).
// The policy SDK hands us an "unknown-checking proxy": touching an unknown value throws, and the
// SDK reports that policy as "can't run during preview" for that one resource; it runs again with
// known values during `pulumi up`, before the resource is created. So the checks below touch only
// the fields they need.
import type {
  EnforcementLevel,
  PolicyConfigSchema,
  PolicyResourceOptions,
  ReportViolation,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  Severity,
} from '@pulumi/policy';

// ---------------------------------------------------------------------------------------------
// Resource types and labels
// ---------------------------------------------------------------------------------------------

export const CONTAINER_TYPE = 'docker:index/container:Container';
export const IMAGE_TYPE = 'docker:index/image:Image';
export const REMOTE_IMAGE_TYPE = 'docker:index/remoteImage:RemoteImage';
export const VOLUME_TYPE = 'docker:index/volume:Volume';

/** The label that marks a container as part of the jail, and its role in it. */
export const ROLE_LABEL = 'clawjail.role';
export const STACK_LABEL = 'clawjail.stack';
const JUDGED_LABELS: ReadonlySet<string> = new Set([ROLE_LABEL, STACK_LABEL]);
/** The prisoner's container. The read-only root fs can never be exempted for it. */
export const CELL_ROLE = 'cell';

export type Props = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// Small readers that tolerate missing or mistyped values (the engine hands us plain JSON)
// ---------------------------------------------------------------------------------------------

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const asRecord = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const isSet = (v: unknown): boolean => v !== undefined && v !== null;
const q = (v: unknown): string => JSON.stringify(v);
const listOrNone = (xs: readonly string[]): string => (xs.length ? xs.map(q).join(', ') : 'none');

/**
 * The labels the rules judge by (the container's role and stack): Pulumi's `[{label, value}]`,
 * or a plain map for robustness. Only these values are read: another label's value may be
 * unknown during a preview (the stack's image-id label is), and reading an unknown value stops
 * the policy SDK from running the rule at all.
 */
export function containerLabels(props: Props): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = props.labels;
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const e = asRecord(entry);
      const k = asString(e.label);
      if (k === undefined || !JUDGED_LABELS.has(k)) continue;
      const v = asString(e.value);
      if (v !== undefined) out[k] = v;
    }
  } else if (isRecord(raw)) {
    for (const k of JUDGED_LABELS) if (typeof raw[k] === 'string') out[k] = raw[k] as string;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------------------------

export interface CapabilitiesConfig {
  /** Capabilities that may be added back after dropping ALL (e.g. "NET_BIND_SERVICE"). */
  allowedCapabilities: string[];
}

/** Docker's own normalisation: case-insensitive, optional `CAP_` prefix. */
export const normalizeCapability = (c: string): string => c.trim().toUpperCase().replace(/^CAP_/, '');

export function checkCapabilities(props: Props, config: CapabilitiesConfig): string[] {
  const out: string[] = [];
  const caps = asRecord(props.capabilities);
  const drops = asArray(caps.drops).filter((d): d is string => typeof d === 'string');
  if (!drops.some((d) => normalizeCapability(d) === 'ALL')) {
    out.push(
      isSet(props.capabilities)
        ? `capabilities.drops must include "ALL" (got [${drops.map(q).join(', ')}])`
        : 'capabilities is not set: capabilities.drops must include "ALL"',
    );
  }
  const allowed = new Set(config.allowedCapabilities.map(normalizeCapability));
  allowed.delete('ALL');
  for (const add of asArray(caps.adds)) {
    const name = typeof add === 'string' ? normalizeCapability(add) : String(add);
    if (name === 'ALL') {
      out.push('capabilities.adds contains "ALL", which is never allowed');
    } else if (!allowed.has(name)) {
      out.push(
        `capabilities.adds contains ${q(add)}; allowed additions (policy config allowedCapabilities): ` +
          listOrNone([...allowed]),
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Privileged
// ---------------------------------------------------------------------------------------------

export function checkNotPrivileged(props: Props): string[] {
  return props.privileged === true ? ['privileged is true; allowed: false or unset'] : [];
}

// ---------------------------------------------------------------------------------------------
// Host namespaces
// ---------------------------------------------------------------------------------------------

export interface NamespacesConfig {
  /**
   * Explicitly allowed joins of another container's namespace, each written
   * `"<field>=container:<name or id>"`, e.g. `"networkMode=container:clawjail-dev-cell"`.
   */
  allowedNamespaceJoins: string[];
}

/** Container fields naming a namespace mode, and the namespace each one controls. */
export const NAMESPACE_FIELDS: Readonly<Record<string, string>> = {
  networkMode: 'network',
  pidMode: 'PID',
  ipcMode: 'IPC',
  utsMode: 'UTS', // not in @pulumi/docker 5.x, checked in case a later version adds it
  usernsMode: 'user',
  cgroupnsMode: 'cgroup',
};
const JOINABLE_FIELDS = new Set(['networkMode', 'pidMode', 'ipcMode']);

/**
 * The one join the jail's own design needs: its cell lives in its gateway's network namespace,
 * so OpenClaw's loopback-only port is reachable by the gateway and nothing else. Allowed only for
 * a container labelled as the cell of stack P joining the network of the container `P-gateway`.
 */
export function builtInNamespaceJoin(props: Props): string | undefined {
  const labels = containerLabels(props);
  const stack = labels[STACK_LABEL];
  if (labels[ROLE_LABEL] !== CELL_ROLE || !stack) return undefined;
  return `networkMode=container:${stack}-gateway`;
}

export function checkNamespaces(props: Props, config: NamespacesConfig): string[] {
  const out: string[] = [];
  const builtIn = builtInNamespaceJoin(props);
  const configured = config.allowedNamespaceJoins.map((s) => s.trim());
  const allowed = new Set([...configured, ...(builtIn ? [builtIn] : [])]);
  for (const [field, ns] of Object.entries(NAMESPACE_FIELDS)) {
    const value = asString(props[field]);
    if (!value) continue;
    const mode = value.trim().toLowerCase();
    if (mode === 'host') {
      out.push(`${field} is "host", which shares the host's ${ns} namespace; allowed: unset or a private mode (never "host")`);
    } else if (mode.startsWith('container:')) {
      const target = value.trim().slice('container:'.length);
      const entry = `${field}=container:${target}`;
      if (!JOINABLE_FIELDS.has(field)) {
        out.push(`${field} ${q(value)} joins another container's ${ns} namespace, which is never allowed`);
      } else if (!allowed.has(entry)) {
        out.push(
          `${field} ${q(value)} joins the ${ns} namespace of container ${q(target)}; allowed only if policy config ` +
            `allowedNamespaceJoins lists ${q(entry)} (allowed now: ${listOrNone(configured)})`,
        );
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Host mounts
// ---------------------------------------------------------------------------------------------

/**
 * Lexical normalisation of a POSIX path: collapses `//`, `.`, `..` and trailing slashes.
 * Host symlinks are not resolved (the policy may not run on the jail's host), which is why the
 * deny list spells out both `/run` and `/var/run`.
 */
export function normalizeHostPath(p: string): string {
  const absolute = p.startsWith('/');
  const parts: string[] = [];
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (parts.length > 0 && parts[parts.length - 1] !== '..') parts.pop();
      else if (!absolute) parts.push('..');
      continue;
    }
    parts.push(seg);
  }
  const joined = parts.join('/');
  if (absolute) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** Host subtrees that may never be bind-mounted, nor anything beneath them. */
export const FORBIDDEN_HOST_TREES: readonly string[] = [
  '/proc',
  '/sys',
  '/dev',
  '/etc',
  '/boot',
  '/root',
  '/var/lib/docker',
  '/var/lib/containerd',
  '/run/containerd',
  '/var/run/containerd',
];
/** Path prefixes (not whole components) of the Docker engine's runtime state and socket. */
export const FORBIDDEN_HOST_PREFIXES: readonly string[] = ['/run/docker', '/var/run/docker'];
/** Socket file names that give control of the container engine wherever they live. */
export const FORBIDDEN_SOCKET_SUFFIXES: readonly string[] = ['docker.sock', 'containerd.sock'];

const ALLOWED_MOUNT_TEXT =
  'bind mounts may not reach the docker/containerd sockets, /run/docker*, /var/run/docker*, /, /proc, /sys, ' +
  '/dev, /etc, /boot, /root or /var/lib/docker (nor their parents or children)';

/**
 * Why a host path may not be bind-mounted into the jail, or undefined if it may.
 * Mounting a *parent* of a forbidden tree (`/var`, `/run`, `/`) exposes it too.
 */
export function sensitiveHostPathReason(hostPath: string): string | undefined {
  const n = normalizeHostPath(hostPath.trim());
  if (FORBIDDEN_SOCKET_SUFFIXES.some((s) => n.endsWith(s))) return 'a container engine socket';
  if (!n.startsWith('/')) return undefined; // relative: a named volume, not a host path
  if (n === '/') return 'the host root filesystem';
  for (const t of FORBIDDEN_HOST_TREES) {
    if (n === t) return t;
    if (n.startsWith(t + '/')) return `a path under ${t}`;
  }
  for (const p of FORBIDDEN_HOST_PREFIXES) {
    if (n.startsWith(p)) return `the Docker engine's runtime state (${p}*)`;
  }
  for (const t of [...FORBIDDEN_HOST_TREES, ...FORBIDDEN_HOST_PREFIXES]) {
    if (t.startsWith(n + '/')) return `a parent of ${t}`;
  }
  return undefined;
}

/**
 * The host path a local-driver volume binds, if its driver options make it a bind
 * (`type=none,o=bind,device=/path`): a well-known way to bind-mount around a "no bind" rule.
 */
export function volumeDriverBindDevice(driverOpts: unknown): string | undefined {
  const opts = asRecord(driverOpts);
  const device = asString(opts.device);
  if (!device) return undefined;
  const o = (asString(opts.o) ?? '').split(',').map((s) => s.trim().toLowerCase());
  const type = (asString(opts.type) ?? '').trim().toLowerCase();
  return o.includes('bind') || o.includes('rbind') || type === 'none' || type === 'bind' ? device : undefined;
}

/**
 * Host trees a cell may bind (its workspace). Anywhere else, a directory shared with the host
 * could hold a host user's unix sockets (ssh-agent, the systemd user bus) or dotfiles, and the
 * prisoner's uid 1000 is often a real user there.
 */
export const CELL_BIND_ROOTS: readonly string[] = ['/srv/clawjail/', '/var/lib/clawjail/'];

export function checkHostMounts(props: Props): string[] {
  const out: string[] = [];
  const isCell = containerLabels(props)[ROLE_LABEL] === CELL_ROLE;
  asArray(props.mounts).forEach((raw, i) => {
    const m = asRecord(raw);
    const type = (asString(m.type) ?? '').toLowerCase();
    const source = asString(m.source);
    if (type === 'bind' && source) {
      const why = sensitiveHostPathReason(source);
      if (why) out.push(`mounts[${i}].source ${q(source)} is a bind mount of ${why}; ${ALLOWED_MOUNT_TEXT}`);
      else if (isCell && !CELL_BIND_ROOTS.some((root) => normalizeHostPath(source).startsWith(root))) {
        out.push(`mounts[${i}].source ${q(source)}: a cell may bind only a directory under ${CELL_BIND_ROOTS.join(' or ')}`);
      }
    }
    if (type === 'volume') {
      const device = volumeDriverBindDevice(asRecord(m.volumeOptions).driverOptions);
      const why = device && sensitiveHostPathReason(device);
      if (why) {
        out.push(
          `mounts[${i}].volumeOptions.driverOptions binds device ${q(device)}, ${why}; ${ALLOWED_MOUNT_TEXT}`,
        );
      }
    }
  });
  asArray(props.volumes).forEach((raw, i) => {
    const v = asRecord(raw);
    const hostPath = asString(v.hostPath);
    if (hostPath) {
      const why = sensitiveHostPathReason(hostPath);
      if (why) out.push(`volumes[${i}].hostPath ${q(hostPath)} is a bind mount of ${why}; ${ALLOWED_MOUNT_TEXT}`);
      else if (isCell && !CELL_BIND_ROOTS.some((root) => normalizeHostPath(hostPath).startsWith(root))) {
        out.push(`volumes[${i}].hostPath ${q(hostPath)}: a cell may bind only a directory under ${CELL_BIND_ROOTS.join(' or ')}`);
      }
    }
    const from = asString(v.fromContainer);
    if (from) {
      out.push(
        `volumes[${i}].fromContainer ${q(from)} inherits every mount of another container, which this policy cannot ` +
          'inspect; allowed: named volumes, tmpfs and bind mounts of non-sensitive host paths',
      );
    }
  });
  return out;
}

/** The one place a cell may mount anything (besides tmpfs): its workspace. */
export const CELL_WORKSPACE_TARGET = '/workspace';
/** The workspace volume of stack P is `P-sandbox_data` (infra/model/names.ts). */
export const WORKSPACE_VOLUME_SUFFIX = '-sandbox_data';

/**
 * A cell mounts its workspace and nothing else: exactly one mount, at /workspace, of its own
 * stack's workspace volume or a bind under CELL_BIND_ROOTS. Never the warden's jail, the gateway's
 * key or the signatures (under whatever target), and no volumes_from.
 */
export function checkCellMounts(props: Props): string[] {
  const labels = containerLabels(props);
  if (labels[ROLE_LABEL] !== CELL_ROLE) return [];
  const stack = labels[STACK_LABEL];
  const workspaceVolume = stack ? `${stack}${WORKSPACE_VOLUME_SUFFIX}` : undefined;
  const allowed = `its workspace at ${CELL_WORKSPACE_TARGET}: the volume ${workspaceVolume ? q(workspaceVolume) : `<${STACK_LABEL}>${WORKSPACE_VOLUME_SUFFIX}`} or a bind under ${CELL_BIND_ROOTS.join(' or ')}`;
  const out: string[] = [];
  const trimmed = (v: unknown) => (asString(v) ?? '').replace(/\/+$/, '') || '/';
  const sourceOk = (kind: 'volume' | 'bind' | string, source: string | undefined) =>
    kind === 'volume'
      ? source !== undefined && source === workspaceVolume
      : kind === 'bind' && source !== undefined && CELL_BIND_ROOTS.some((root) => normalizeHostPath(source).startsWith(root));
  asArray(props.mounts).forEach((raw, i) => {
    const m = asRecord(raw);
    const target = trimmed(m.target);
    const kind = (asString(m.type) ?? '').toLowerCase();
    const source = asString(m.source);
    if (target !== CELL_WORKSPACE_TARGET || !sourceOk(kind, source)) {
      out.push(`mounts[${i}] (${kind || 'unknown type'} ${q(source ?? '')} at ${q(target)}): a cell mounts only ${allowed}`);
    }
  });
  asArray(props.volumes).forEach((raw, i) => {
    const v = asRecord(raw);
    const target = trimmed(v.containerPath);
    const hostPath = asString(v.hostPath);
    const volumeName = asString(v.volumeName);
    const ok =
      !asString(v.fromContainer) &&
      target === CELL_WORKSPACE_TARGET &&
      (hostPath !== undefined ? sourceOk('bind', hostPath) : sourceOk('volume', volumeName));
    if (!ok) out.push(`volumes[${i}] (${q(hostPath ?? volumeName ?? asString(v.fromContainer) ?? '')} at ${q(target)}): a cell mounts only ${allowed}`);
  });
  const n = asArray(props.mounts).length + asArray(props.volumes).length;
  if (n > 1) out.push(`${n} mounts: a cell mounts exactly one, ${allowed}`);
  return out;
}

export function checkVolumeDriverOpts(props: Props): string[] {
  const device = volumeDriverBindDevice(props.driverOpts);
  const why = device && sensitiveHostPathReason(device);
  return why ? [`driverOpts binds device ${q(device)}, ${why}; ${ALLOWED_MOUNT_TEXT}`] : [];
}

// ---------------------------------------------------------------------------------------------
// Devices
// ---------------------------------------------------------------------------------------------

export function checkNoDevices(props: Props): string[] {
  const out: string[] = [];
  const devices = asArray(props.devices);
  if (devices.length > 0) {
    const paths = devices.map((d) => asString(asRecord(d).hostPath) ?? '?');
    out.push(`devices maps host devices [${paths.map(q).join(', ')}]; allowed: no devices`);
  }
  if (asArray(props.deviceRequests).length > 0) out.push('deviceRequests is set; allowed: no device requests');
  if (asArray(props.deviceCgroupRules).length > 0) {
    out.push('deviceCgroupRules grants device access; allowed: no device cgroup rules');
  }
  const gpus = asString(props.gpus);
  if (gpus && gpus.trim() !== '') out.push(`gpus is ${q(gpus)}; allowed: unset`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Memory and CPU limits
// ---------------------------------------------------------------------------------------------

const positiveNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * `memory` (MB) must be set and positive, and `memorySwap` must equal it: Docker's default when
 * memorySwap is unset is twice the memory limit (swap on top of it), and -1 is unlimited swap.
 */
export function checkMemoryLimit(props: Props): string[] {
  const memory = props.memory;
  if (!positiveNumber(memory)) {
    return [`memory must be set to a limit > 0 MB (got ${isSet(memory) ? q(memory) : 'unset'})`];
  }
  const swap = props.memorySwap;
  if (swap !== memory) {
    return [
      `memorySwap must equal memory (${memory}) so that no swap is used beyond the limit ` +
        `(got ${isSet(swap) ? q(swap) : 'unset, which lets Docker add swap'})`,
    ];
  }
  return [];
}

/** A hard CPU limit: `cpus` > 0, or `cpuQuota` with `cpuPeriod`. `cpuShares` is only a weight. */
export function checkCpuLimit(props: Props): string[] {
  const cpus = asString(props.cpus) ?? (typeof props.cpus === 'number' ? String(props.cpus) : undefined);
  if (cpus !== undefined && cpus.trim() !== '') {
    const n = Number(cpus);
    return Number.isFinite(n) && n > 0 ? [] : [`cpus ${q(props.cpus)} is not a positive number of CPUs`];
  }
  if (positiveNumber(props.cpuQuota) && positiveNumber(props.cpuPeriod)) return [];
  if (positiveNumber(props.cpuQuota)) return ['cpuQuota is set without cpuPeriod; set cpuPeriod too, or set cpus'];
  return [
    'no CPU limit: set cpus (e.g. "1.5") or cpuQuota together with cpuPeriod' +
      (isSet(props.cpuShares) ? ' (cpuShares is only a relative weight, not a limit)' : ''),
  ];
}

// ---------------------------------------------------------------------------------------------
// Security options
// ---------------------------------------------------------------------------------------------

/** `key=value` or Docker's legacy `key:value`; the value may itself contain `:` or `=`. */
export function parseSecurityOpt(opt: string): { key: string; value: string } {
  const m = /^([^=:]*)(?:[=:]([\s\S]*))?$/.exec(opt.trim());
  return { key: (m?.[1] ?? '').trim().toLowerCase(), value: (m?.[2] ?? '').trim() };
}

const UNCONFINING_OPTS: Readonly<Record<string, string>> = {
  seccomp: 'unconfined',
  apparmor: 'unconfined',
  label: 'disable',
  systempaths: 'unconfined',
};

export function checkSecurityOpts(props: Props): string[] {
  const out: string[] = [];
  const opts = asArray(props.securityOpts).filter((o): o is string => typeof o === 'string');
  let noNewPrivileges = false;
  for (const opt of opts) {
    const { key, value } = parseSecurityOpt(opt);
    const v = value.toLowerCase();
    if (key === 'no-new-privileges') {
      if (v === '' || v === 'true') noNewPrivileges = true;
      else out.push(`securityOpts contains ${q(opt)}; allowed: "no-new-privileges" or "no-new-privileges:true"`);
    } else if (UNCONFINING_OPTS[key] !== undefined && v === UNCONFINING_OPTS[key]) {
      out.push(
        `securityOpts contains ${q(opt)}, which disables a kernel confinement; never allowed ` +
          '(seccomp=unconfined, apparmor=unconfined, label=disable, systempaths=unconfined)',
      );
    }
  }
  if (!noNewPrivileges) {
    out.push('securityOpts must include "no-new-privileges" (or "no-new-privileges:true")');
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Read-only root filesystem
// ---------------------------------------------------------------------------------------------

export interface ReadOnlyRootfsConfig {
  /** `clawjail.role` values exempt from the read-only root fs. "cell" is never exempt. */
  exemptRoles: string[];
}

/** Applies to every container carrying the `clawjail.role` label; the cell can't be exempted. */
export function checkReadOnlyRootfs(props: Props, config: ReadOnlyRootfsConfig): string[] {
  const role = containerLabels(props)[ROLE_LABEL];
  if (role === undefined) return [];
  const exempt = config.exemptRoles.filter((r) => r !== CELL_ROLE);
  if (role !== CELL_ROLE && exempt.includes(role)) return [];
  if (props.readOnly === true) return [];
  return [
    `readOnly must be true for a container labelled ${ROLE_LABEL}=${q(role)} (got ` +
      `${isSet(props.readOnly) ? q(props.readOnly) : 'unset'}); roles exempt via policy config exemptRoles: ` +
      `${listOrNone(exempt)}${role === CELL_ROLE ? ' (the cell is never exempt)' : ''}`,
  ];
}

// ---------------------------------------------------------------------------------------------
// Published ports
// ---------------------------------------------------------------------------------------------

export interface PublishedPortsConfig {
  /** Host addresses, beyond loopback, that ports may be published on (e.g. a LAN address). */
  allowedPublishAddresses: string[];
}

/** Canonical text of an IP address (IPv6 compressed, lower case, no brackets); else trimmed input. */
export function normalizeIp(ip: string): string {
  const s = ip.trim().replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (s.includes(':')) {
    try {
      return new URL(`http://[${s}]/`).hostname.replace(/^\[(.*)\]$/, '$1');
    } catch {
      return s;
    }
  }
  return s;
}

export function isLoopbackIp(ip: string): boolean {
  const n = normalizeIp(ip);
  if (n === '::1') return true;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(n);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255) && m[1] === '127';
}

export function checkPublishedPorts(props: Props, config: PublishedPortsConfig): string[] {
  const out: string[] = [];
  const allowed = new Set(config.allowedPublishAddresses.map(normalizeIp));
  const allowedText = `allowed: 127.0.0.1 or ::1, or an address in policy config allowedPublishAddresses (${listOrNone([
    ...allowed,
  ])})`;
  if (props.publishAllPorts === true) {
    out.push(`publishAllPorts is true, which publishes every exposed port on all host addresses; ${allowedText}`);
  }
  asArray(props.ports).forEach((raw, i) => {
    const p = asRecord(raw);
    const ip = asString(p.ip);
    const port = `(internal ${q(p.internal)}, external ${isSet(p.external) ? q(p.external) : 'random'})`;
    if (ip === undefined || ip.trim() === '') {
      if (!allowed.has('0.0.0.0')) {
        out.push(`ports[${i}].ip is unset, which means 0.0.0.0 (every host address) ${port}; ${allowedText}`);
      }
      return;
    }
    const n = normalizeIp(ip);
    if (isLoopbackIp(n) || allowed.has(n)) return;
    const wildcard = n === '0.0.0.0' || n === '::' ? ', every host address' : '';
    out.push(`ports[${i}].ip is ${q(ip)} ${port.slice(0, -1)}${wildcard}); ${allowedText}`);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Image references
// ---------------------------------------------------------------------------------------------

const DIGEST = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
const ALLOWED_IMAGE_TEXT =
  'allowed: a pinned tag (name:1.2.3), a digest (name@sha256:<64 hex>) or an image id (sha256:<64 hex>)';

/** Why an image reference is not pinned, or undefined if it is. */
export function imageReferenceProblem(ref: string): string | undefined {
  const r = ref.trim();
  if (r === '') return 'is empty';
  if (DIGEST.test(r) || /^[a-f0-9]{64}$/.test(r)) return undefined; // an image id
  const at = r.indexOf('@');
  if (at >= 0) {
    return DIGEST.test(r.slice(at + 1)) ? undefined : `has a malformed digest ${q(r.slice(at + 1))}`;
  }
  const lastSlash = r.lastIndexOf('/');
  const colon = r.indexOf(':', lastSlash + 1); // a colon before the last slash is a registry port
  if (colon < 0) return 'has no tag, so Docker uses ":latest"';
  const tag = r.slice(colon + 1);
  if (tag === '') return 'has an empty tag';
  if (tag.toLowerCase() === 'latest') return 'uses the floating tag "latest"';
  return undefined;
}

/** The field holding the image reference, per resource type. */
export const IMAGE_REFERENCE_FIELDS: Readonly<Record<string, string>> = {
  [IMAGE_TYPE]: 'imageName',
  [REMOTE_IMAGE_TYPE]: 'name',
  [CONTAINER_TYPE]: 'image',
};

/**
 * Only literal strings are judged: a container's image produced by another resource is unknown
 * during preview (the SDK skips the check) and an id or digest once known, both accepted.
 */
export function checkImageReference(type: string, props: Props): string[] {
  const field = IMAGE_REFERENCE_FIELDS[type];
  if (!field) return [];
  const ref = asString(props[field]);
  if (ref === undefined) return [];
  const problem = imageReferenceProblem(ref);
  return problem ? [`${field} ${q(ref)} ${problem}; ${ALLOWED_IMAGE_TEXT}`] : [];
}

// ---------------------------------------------------------------------------------------------
// Runtime
// ---------------------------------------------------------------------------------------------

export interface RuntimeConfig {
  /** OCI runtimes a container may name. */
  allowedRuntimes: string[];
}

export function checkRuntime(props: Props, config: RuntimeConfig): string[] {
  const runtime = asString(props.runtime);
  if (runtime === undefined || runtime === '') return [];
  if (config.allowedRuntimes.includes(runtime)) return [];
  return [`runtime ${q(runtime)} is not allowed; allowed (policy config allowedRuntimes): ${listOrNone(config.allowedRuntimes)}`];
}

// ---------------------------------------------------------------------------------------------
// Policies
// ---------------------------------------------------------------------------------------------

const stringList = (description: string, defaults: string[] = []): PolicyConfigSchema['properties'][string] => ({
  type: 'array',
  items: { type: 'string' },
  default: defaults,
  description,
});

/** Reads a string-list config value, falling back to the schema default when absent or mistyped. */
function readStringList(raw: Record<string, unknown>, key: string, schema?: PolicyConfigSchema): string[] {
  const v = raw[key];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return [...(v as string[])];
  const d = schema?.properties[key]?.default;
  return Array.isArray(d) ? d.filter((x): x is string => typeof x === 'string') : [];
}

interface RuleSpec<C> {
  name: string;
  description: string;
  severity: Severity;
  types: readonly string[];
  configSchema?: PolicyConfigSchema;
  remediationSteps?: string;
  check: (type: string, props: Props, config: C) => string[];
}

function rule<C>(spec: RuleSpec<C>): ResourceValidationPolicy {
  const { check, types, ...meta } = spec;
  return {
    ...meta,
    enforcementLevel: 'mandatory',
    validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
      if (!types.includes(args.type)) {
        if (typeof args.notApplicable === 'function') args.notApplicable(`applies only to ${types.join(', ')}`);
        return;
      }
      const raw = (typeof args.getConfig === 'function' ? args.getConfig<Record<string, unknown>>() : undefined) ?? {};
      const config: Record<string, string[]> = {};
      for (const key of Object.keys(spec.configSchema?.properties ?? {})) {
        config[key] = readStringList(raw, key, spec.configSchema);
      }
      for (const message of check(args.type, args.props, config as unknown as C)) reportViolation(message);
    },
  };
}

export const dropAllCapabilities = rule<CapabilitiesConfig>({
  name: 'container-drop-all-capabilities',
  description: 'Containers drop ALL Linux capabilities and add back none, except an explicit allowlist.',
  severity: 'critical',
  types: [CONTAINER_TYPE],
  configSchema: {
    properties: {
      allowedCapabilities: stringList('Capabilities that may be added back, e.g. "NET_BIND_SERVICE". Default: none.'),
    },
  },
  check: (_t, props, c) => checkCapabilities(props, c),
});

export const notPrivileged = rule<object>({
  name: 'container-not-privileged',
  description: 'Containers are never privileged.',
  severity: 'critical',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkNotPrivileged(props),
});

export const noHostNamespaces = rule<NamespacesConfig>({
  name: 'container-no-host-namespaces',
  description:
    'Containers never use the host network, PID, IPC, UTS, user or cgroup namespace, and join another ' +
    "container's namespace only where policy config allows it.",
  severity: 'critical',
  types: [CONTAINER_TYPE],
  configSchema: {
    properties: {
      allowedNamespaceJoins: {
        ...stringList(
          'Allowed joins of another container\'s namespace, each "<field>=container:<name>" with field networkMode, ' +
            'pidMode or ipcMode, e.g. "networkMode=container:clawjail-dev-cell". Default: none.',
        ),
        items: { type: 'string', pattern: '^(networkMode|pidMode|ipcMode)=container:.+$' },
      },
    },
  },
  check: (_t, props, c) => checkNamespaces(props, c),
});

export const noSensitiveHostMounts = rule<object>({
  name: 'container-no-sensitive-host-mounts',
  description:
    'No bind mount (nor bind-style local volume) of the Docker/containerd socket, /, /proc, /sys, /dev, /etc, ' +
    '/boot, /root or /var/lib/docker, and no volumes_from.',
  severity: 'critical',
  types: [CONTAINER_TYPE, VOLUME_TYPE],
  check: (type, props) => (type === VOLUME_TYPE ? checkVolumeDriverOpts(props) : checkHostMounts(props)),
});

export const cellWorkspaceOnly = rule<object>({
  name: 'cell-workspace-mount-only',
  description: `A container labelled ${ROLE_LABEL}=cell mounts its workspace at ${CELL_WORKSPACE_TARGET} and nothing else (never the jail or another service's volume).`,
  severity: 'critical',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkCellMounts(props),
});

export const noDevices = rule<object>({
  name: 'container-no-devices',
  description: 'Containers get no host devices (devices, deviceRequests, deviceCgroupRules, gpus).',
  severity: 'critical',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkNoDevices(props),
});

export const memoryLimit = rule<object>({
  name: 'container-memory-limit',
  description: 'Containers have a memory limit > 0 and memorySwap equal to it (no swap beyond the limit).',
  severity: 'high',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkMemoryLimit(props),
});

export const cpuLimit = rule<object>({
  name: 'container-cpu-limit',
  description: 'Containers have a hard CPU limit (cpus, or cpuQuota with cpuPeriod).',
  severity: 'high',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkCpuLimit(props),
});

export const securityOpts = rule<object>({
  name: 'container-security-opts',
  description:
    'Containers set no-new-privileges and never unconfine seccomp, AppArmor, SELinux labels or system paths.',
  severity: 'critical',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkSecurityOpts(props),
});

/**
 * Every jail container (one with a role label) runs a seccomp profile of its own that denies by
 * default: leaving it out falls back to Docker's default, which allows same-uid ptrace, and a
 * profile that allows by default is no filter at all.
 */
export function checkSeccompProfile(props: Props): string[] {
  if (!containerLabels(props)[ROLE_LABEL]) return [];
  const profiles = asArray(props.securityOpts)
    .filter((o): o is string => typeof o === 'string')
    .map(parseSecurityOpt)
    .filter((o) => o.key === 'seccomp');
  if (profiles.length === 0) {
    return ['securityOpts has no seccomp profile; a clawjail container needs "seccomp=<profile JSON>" that denies by default'];
  }
  const out: string[] = [];
  for (const { value } of profiles) {
    let profile: { defaultAction?: unknown };
    try {
      profile = JSON.parse(value) as { defaultAction?: unknown };
    } catch {
      out.push('securityOpts seccomp=... is not an inline JSON profile; allowed: a profile whose defaultAction denies (SCMP_ACT_ERRNO or SCMP_ACT_KILL*)');
      continue;
    }
    const action = String(profile.defaultAction ?? '');
    if (!/^SCMP_ACT_(ERRNO|KILL|KILL_PROCESS|KILL_THREAD)$/.test(action)) {
      out.push(`seccomp profile defaultAction is ${q(action)}; allowed: SCMP_ACT_ERRNO or SCMP_ACT_KILL* (deny by default)`);
    }
  }
  return out;
}

/** Every jail container runs as a numeric non-root uid (and gid), so no passwd entry can change it. */
export function checkNonRootUser(props: Props): string[] {
  if (!containerLabels(props)[ROLE_LABEL]) return [];
  const user = asString(props.user) ?? '';
  const m = /^(\d+)(?::(\d+))?$/.exec(user.trim());
  if (!m) return [`user is ${q(user)}; a clawjail container needs a numeric "uid:gid" (an unset user means root)`];
  if (Number(m[1]) === 0 || (m[2] !== undefined && Number(m[2]) === 0)) {
    return [`user is ${q(user)}; root (uid or gid 0) is never allowed`];
  }
  return [];
}

export const seccompProfile = rule<object>({
  name: 'container-seccomp-profile',
  description: `Every container labelled ${ROLE_LABEL} runs an inline seccomp profile that denies by default.`,
  severity: 'critical',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkSeccompProfile(props),
});

export const nonRootUser = rule<object>({
  name: 'container-non-root-user',
  description: `Every container labelled ${ROLE_LABEL} runs as a numeric non-root uid:gid.`,
  severity: 'high',
  types: [CONTAINER_TYPE],
  check: (_t, props) => checkNonRootUser(props),
});

export const readOnlyRootfs = rule<ReadOnlyRootfsConfig>({
  name: 'container-read-only-rootfs',
  description: `Every container labelled ${ROLE_LABEL} has a read-only root filesystem; the cell is never exempt.`,
  severity: 'high',
  types: [CONTAINER_TYPE],
  configSchema: {
    properties: {
      exemptRoles: stringList(`${ROLE_LABEL} values exempt from the read-only root fs ("cell" is ignored). Default: none.`),
    },
  },
  check: (_t, props, c) => checkReadOnlyRootfs(props, c),
});

export const loopbackPorts = rule<PublishedPortsConfig>({
  name: 'container-ports-loopback-only',
  description:
    'Published ports bind to 127.0.0.1 or ::1 only, unless the host address is allowed in policy config.',
  severity: 'high',
  types: [CONTAINER_TYPE],
  configSchema: {
    properties: {
      allowedPublishAddresses: stringList(
        'Host addresses beyond loopback that ports may be published on, e.g. a LAN address for the gateway. ' +
          'Default: none.',
      ),
    },
  },
  check: (_t, props, c) => checkPublishedPorts(props, c),
});

export const pinnedImages = rule<object>({
  name: 'image-pinned-reference',
  description: 'Images are referenced by a pinned tag, a digest or an image id; never "latest" or untagged.',
  severity: 'high',
  types: [IMAGE_TYPE, REMOTE_IMAGE_TYPE, CONTAINER_TYPE],
  check: (type, props) => checkImageReference(type, props),
});

export const DEFAULT_ALLOWED_RUNTIMES: readonly string[] = ['runc', 'runsc'];

export const allowedRuntime = rule<RuntimeConfig>({
  name: 'container-runtime-allowed',
  description: 'A container runtime, if set, is runc or runsc (gVisor), or one allowed in policy config.',
  severity: 'high',
  types: [CONTAINER_TYPE],
  configSchema: {
    properties: {
      allowedRuntimes: stringList('OCI runtimes containers may use. Default: ["runc", "runsc"].', [
        ...DEFAULT_ALLOWED_RUNTIMES,
      ]),
    },
  },
  check: (_t, props, c) => checkRuntime(props, c),
});

/** Every policy of the pack, in a fresh array. */
export function allPolicies(): ResourceValidationPolicy[] {
  return [
    dropAllCapabilities,
    notPrivileged,
    noHostNamespaces,
    noSensitiveHostMounts,
    cellWorkspaceOnly,
    noDevices,
    memoryLimit,
    cpuLimit,
    securityOpts,
    seccompProfile,
    nonRootUser,
    readOnlyRootfs,
    loopbackPorts,
    pinnedImages,
    allowedRuntime,
  ];
}

// ---------------------------------------------------------------------------------------------
// Running the policies without the Pulumi engine (tests, the mocked program)
// ---------------------------------------------------------------------------------------------

/** Per-policy configuration, as in a `--policy-pack-config` file: `{ "<policy>": {...} | level }`. */
export type PolicyConfigMap = Record<
  string,
  EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

export interface ResourceUnderTest {
  type: string;
  name: string;
  props: Record<string, unknown>;
  urn?: string;
}

export interface Violation {
  policy: string;
  resource: string;
  message: string;
}

class NotApplicable extends Error {}

/** The config object a policy's `getConfig()` returns: its entry minus `enforcementLevel`. */
export function policyConfigFor(policyName: string, config?: PolicyConfigMap): Record<string, unknown> {
  const entry = config?.[policyName];
  if (entry === undefined || typeof entry === 'string') return {};
  const { enforcementLevel: _ignored, ...rest } = entry;
  return rest;
}

function enforcementLevelFor(policy: ResourceValidationPolicy, config?: PolicyConfigMap): EnforcementLevel | undefined {
  const levelOf = (e: PolicyConfigMap[string] | undefined) => (typeof e === 'string' ? e : e?.enforcementLevel);
  return levelOf(config?.[policy.name]) ?? levelOf(config?.all) ?? policy.enforcementLevel;
}

const DEFAULT_OPTS: PolicyResourceOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

/**
 * A `ResourceValidationArgs` as the policy SDK builds it for one resource (without the
 * unknown-value proxy): for tests and for running the pack over a mocked program.
 */
export function makeResourceValidationArgs(
  resource: ResourceUnderTest,
  policyConfig: Record<string, unknown> = {},
): ResourceValidationArgs {
  const { type, name, props } = resource;
  const isType = (cls: unknown): boolean => (cls as { __pulumiType?: string } | undefined)?.__pulumiType === type;
  return {
    type,
    name,
    props,
    urn: resource.urn ?? `urn:pulumi:test::clawjail::${type}::${name}`,
    opts: DEFAULT_OPTS,
    stackTags: new Map<string, string>(),
    isType,
    asType: ((cls: unknown) => (isType(cls) ? props : undefined)) as ResourceValidationArgs['asType'],
    getConfig: <T extends object>() => ({ ...policyConfig }) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

/**
 * Runs every policy over every resource and returns the violations. `config` is per-policy as in
 * a policy pack config file; a policy whose enforcement level is "disabled" is skipped.
 */
export function validateResources(resources: ResourceUnderTest[], config?: PolicyConfigMap): Violation[] {
  const violations: Violation[] = [];
  for (const policy of allPolicies()) {
    if (enforcementLevelFor(policy, config) === 'disabled' || !policy.validateResource) continue;
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const resource of resources) {
      const args = makeResourceValidationArgs(resource, policyConfigFor(policy.name, config));
      const report: ReportViolation = (message) =>
        violations.push({ policy: policy.name, resource: resource.name, message });
      for (const validate of validations) {
        try {
          const result = validate(args, report);
          if (result instanceof Promise) throw new Error(`policy ${policy.name} is asynchronous`);
        } catch (e) {
          if (e instanceof NotApplicable) break;
          throw e;
        }
      }
    }
  }
  return violations;
}

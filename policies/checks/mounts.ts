// What a container sees of the host's filesystem: bind mounts, volumes, devices, its root filesystem.
import { asArray, asRecord, asString, CELL_ROLE, containerLabels, isSet, listOrNone, type Props, q, ROLE_LABEL, SENTRY_ROLE, STACK_LABEL, unsecret } from './resources';

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

export const ALLOWED_MOUNT_TEXT =
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

/** The sentry's command (infra/model/sentry.ts): the socket goes with this code, and no other. */
export const SENTRY_COMMAND: readonly string[] = ['--sentry'];
/** Its healthcheck and user, as infra/model/sentry.ts sets them (test/unit/policyPins.test.ts). */
export const SENTRY_HEALTHCHECK: readonly string[] = ['CMD', 'node', '/app/dist/main.js', '--sentry', '--healthcheck'];
export const SENTRY_USER = '10320:10320';
/** The only role that writes the warden's health report, which the sentry trusts. */
export const WARDEN_ROLE = 'warden';
/** The volume the sentry reads the warden's health from, by its suffix (infra/model/names.ts). */
export const WARDEN_HEALTH_VOLUME_SUFFIX = '-warden-health';

/** Docker's own socket: the one engine socket the sentry may hold (never containerd's). */
const isDockerSocket = (source: string) => /(^|\/)docker\.sock$/.test(normalizeHostPath(source.trim()));

/**
 * What keeps a container labelled sentry from being the one holder of the engine socket: it must
 * run the sentry's command in the stack's warden image, have no network at all, no ports, a read-only root, the socket
 * read-only as its only bind, and besides it only its stack's warden-health volume, read-only.
 * Whoever holds the socket holds the host, so it may hold nothing the prisoner can reach.
 */
export function engineSocketHolderProblems(props: Props): string[] {
  const labels = containerLabels(props);
  const out: string[] = [];
  const command = asArray(props.command);
  if (command.length !== SENTRY_COMMAND.length || command.some((c, i) => c !== SENTRY_COMMAND[i])) {
    out.push(`command must be ${q(SENTRY_COMMAND)} (got ${q(props.command ?? null)})`);
  }
  const image = asString(props.image) ?? '';
  if (!labels[STACK_LABEL] || !image.startsWith(`${labels[STACK_LABEL]}/warden:`)) {
    out.push(`image must be the stack's own warden image ${q(`${labels[STACK_LABEL] ?? `<${STACK_LABEL}>`}/warden:<tag>`)} (got ${q(image)})`);
  }
  // Nothing else may run with the socket: no other entrypoint, healthcheck, user or environment
  // (NODE_OPTIONS would load other code into the sentry's node).
  if (asArray(props.entrypoints).length > 0) out.push('entrypoints must be unset (the image\'s own)');
  const tests = asArray(asRecord(props.healthcheck).tests);
  if (tests.length !== SENTRY_HEALTHCHECK.length || tests.some((t, i) => t !== SENTRY_HEALTHCHECK[i])) {
    out.push(`healthcheck.tests must be ${q(SENTRY_HEALTHCHECK)}`);
  }
  if (asString(props.user) !== SENTRY_USER) out.push(`user must be ${q(SENTRY_USER)} (got ${q(props.user ?? null)})`);
  const env = asArray(unsecret(props.envs));
  const strange = env.filter((e) => typeof e !== 'string' || !/^SENTRY_[A-Z_]+=/.test(e));
  if (strange.length) out.push(`envs may set SENTRY_* only (got ${strange.map((e) => q(typeof e === 'string' ? e.split('=')[0] : e)).join(', ')})`);
  if (asString(props.networkMode) !== 'none') out.push(`networkMode must be "none" (got ${q(props.networkMode ?? null)})`);
  if (asArray(props.networksAdvanced).length > 0) out.push('networksAdvanced must be empty');
  if (asArray(props.ports).length > 0) out.push('ports must be empty');
  if (props.readOnly !== true) out.push('readOnly must be true');
  if (asArray(props.volumes).length > 0) out.push('volumes must be empty (mounts only)');
  const healthVolume = labels[STACK_LABEL] ? `${labels[STACK_LABEL]}${WARDEN_HEALTH_VOLUME_SUFFIX}` : undefined;
  let sockets = 0;
  asArray(props.mounts).forEach((raw, i) => {
    const m = asRecord(raw);
    const type = (asString(m.type) ?? '').toLowerCase();
    const source = asString(m.source) ?? '';
    if (type === 'bind' && isDockerSocket(source)) sockets++;
    else if (!(type === 'volume' && healthVolume !== undefined && source === healthVolume)) {
      out.push(`mounts[${i}] (${type} ${q(source)}): besides the socket, only the volume ${q(healthVolume ?? `<${STACK_LABEL}>${WARDEN_HEALTH_VOLUME_SUFFIX}`)}`);
    }
    if (m.readOnly !== true) out.push(`mounts[${i}] must be read-only`);
  });
  if (sockets !== 1) out.push(`exactly one bind of the docker socket (got ${sockets})`);
  return out;
}

/**
 * The warden's health report decides when the sentry lets the prisoner run: only the warden may
 * write it, and only the sentry may read it besides.
 */
export function checkWardenHealthMounts(props: Props): string[] {
  const role = containerLabels(props)[ROLE_LABEL];
  const out: string[] = [];
  asArray(props.mounts).forEach((raw, i) => {
    const m = asRecord(raw);
    const source = asString(m.source) ?? '';
    if ((asString(m.type) ?? '').toLowerCase() !== 'volume' || !source.endsWith(WARDEN_HEALTH_VOLUME_SUFFIX)) return;
    if (role === WARDEN_ROLE) return;
    if (role === SENTRY_ROLE && m.readOnly === true) return;
    out.push(`mounts[${i}] (${q(source)}): the warden's health report is written by the warden only and read by the sentry only (read-only)`);
  });
  return out;
}

export function checkHostMounts(props: Props): string[] {
  const out: string[] = checkWardenHealthMounts(props);
  const role = containerLabels(props)[ROLE_LABEL];
  const isCell = role === CELL_ROLE;
  // Only a sentry of exactly the sanctioned shape may bind the docker socket; a sentry of any
  // other shape is told what it lacks.
  const sentryProblems = role === SENTRY_ROLE ? engineSocketHolderProblems(props) : undefined;
  asArray(props.mounts).forEach((raw, i) => {
    const m = asRecord(raw);
    const type = (asString(m.type) ?? '').toLowerCase();
    const source = asString(m.source);
    if (type === 'bind' && source) {
      const why = sensitiveHostPathReason(source);
      if (why && sentryProblems !== undefined && isDockerSocket(source)) {
        if (sentryProblems.length) out.push(`mounts[${i}].source ${q(source)}: a sentry may hold the docker socket only in its own shape: ${sentryProblems.join('; ')}`);
      } else if (why) out.push(`mounts[${i}].source ${q(source)} is a bind mount of ${why}; ${ALLOWED_MOUNT_TEXT}`);
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

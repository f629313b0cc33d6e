// The jail's invariants as @pulumi/policy resource validations.
//
// This module only *describes* the policies (the checks are in ./checks, one module per area): plain `ResourceValidationPolicy` objects and the
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
import type { PolicyConfigSchema, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, Severity } from '@pulumi/policy';
import { checkImageReference, checkRuntime, type RuntimeConfig } from './checks/images';
import { checkCpuLimit, checkMemoryLimit } from './checks/limits';
import { CELL_WORKSPACE_TARGET, checkCellMounts, checkHostMounts, checkNoDevices, checkReadOnlyRootfs, checkVolumeDriverOpts, type ReadOnlyRootfsConfig } from './checks/mounts';
import { checkNamespaces, type NamespacesConfig } from './checks/namespaces';
import { checkPublishedPorts, type PublishedPortsConfig } from './checks/ports';
import { type CapabilitiesConfig, checkCapabilities, checkNonRootUser, checkNotPrivileged, checkSeccompProfile, checkSecurityOpts } from './checks/privileges';
import { CONTAINER_TYPE, IMAGE_TYPE, type Props, REMOTE_IMAGE_TYPE, ROLE_LABEL, VOLUME_TYPE } from './checks/resources';

export * from './checks/resources';
export * from './checks/privileges';
export * from './checks/namespaces';
export * from './checks/mounts';
export * from './checks/limits';
export * from './checks/ports';
export * from './checks/images';

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

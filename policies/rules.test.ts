// Unit tests of the clawjail policies. Each rule is called the way the policy SDK calls it: its
// validateResource with a ResourceValidationArgs and a reportViolation spy. No PolicyPack is
// constructed here (that starts a gRPC server).
import * as fs from 'fs';
import * as path from 'path';
import type { ResourceValidationArgs, ResourceValidationPolicy } from '@pulumi/policy';
import {
  checkNonRootUser,
  checkSeccompProfile,
  allPolicies,
  allowedRuntime,
  cellWorkspaceOnly,
  CONTAINER_TYPE,
  cpuLimit,
  dropAllCapabilities,
  IMAGE_TYPE,
  imageReferenceProblem,
  isLoopbackIp,
  loopbackPorts,
  memoryLimit,
  noDevices,
  noHostNamespaces,
  normalizeHostPath,
  normalizeIp,
  noSensitiveHostMounts,
  notPrivileged,
  parseSecurityOpt,
  pinnedImages,
  readOnlyRootfs,
  REMOTE_IMAGE_TYPE,
  securityOpts,
  sensitiveHostPathReason,
  VOLUME_TYPE,
  type Props,
} from './rules';
import { validateResources, type ResourceUnderTest } from './harness';

// The SDK's unknown-value proxy (internal API, untyped): what validateResource sees in a preview.
const sdkProxy = require('@pulumi/policy/proxy') as {
  unknownCheckingProxy: <T extends object>(o: T) => T;
  UnknownValueError: new (...a: unknown[]) => Error;
  unknownStringValue: string;
};

// ---------------------------------------------------------------------------------------------
// Test helpers
// ---------------------------------------------------------------------------------------------

class NotApplicableSignal extends Error {}

/** A ResourceValidationArgs shaped like the one the policy SDK's analyzer server builds. */
function fakeArgs(type: string, props: Props, config: Record<string, unknown> = {}, name = 'r'): ResourceValidationArgs {
  return {
    type,
    props,
    urn: `urn:pulumi:dev::clawjail::${type}::${name}`,
    name,
    opts: {
      protect: false,
      ignoreChanges: [],
      aliases: [],
      customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
      additionalSecretOutputs: [],
    },
    stackTags: new Map(),
    isType: () => false,
    asType: () => undefined,
    getConfig: <T extends object>() => config as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicableSignal(reason);
    },
  };
}

/** Runs one policy over one resource; returns the reported messages (the spy's calls). */
function run(
  policy: ResourceValidationPolicy,
  props: Props,
  opts: { type?: string; config?: Record<string, unknown> } = {},
): string[] {
  const reportViolation = jest.fn();
  const validations = [policy.validateResource ?? []].flat();
  for (const v of validations) void v(fakeArgs(opts.type ?? CONTAINER_TYPE, props, opts.config), reportViolation);
  return reportViolation.mock.calls.map((c) => c[0] as string);
}

const ID = 'a'.repeat(64);
const CELL_LABELS = [{ label: 'clawjail.role', value: 'cell' }];

/** A container that satisfies every rule (the cell as the spec describes it). */
function goodContainer(overrides: Props = {}): Props {
  return {
    name: 'clawjail-dev-cell',
    image: 'clawjail-dev/cell:openclaw-2026.9.6',
    user: '1000:1000',
    capabilities: { drops: ['ALL'], adds: [] },
    privileged: false,
    securityOpts: ['no-new-privileges:true', 'seccomp={"defaultAction":"SCMP_ACT_ERRNO","syscalls":[]}'],
    readOnly: true,
    tmpfs: { '/tmp': 'rw,noexec,nosuid,nodev,size=64m' },
    memory: 2048,
    memorySwap: 2048,
    cpus: '1.5',
    mounts: [{ type: 'volume', source: 'clawjail-dev-sandbox_data', target: '/workspace', readOnly: false }],
    networksAdvanced: [{ name: 'clawjail-dev-cell' }],
    ports: [],
    ipcMode: 'private',
    runtime: 'runc',
    labels: [...CELL_LABELS, { label: 'clawjail.stack', value: 'clawjail-dev' }],
    ...overrides,
  };
}

// ---------------------------------------------------------------------------------------------
// The pack as a whole
// ---------------------------------------------------------------------------------------------

describe('the policy list', () => {
  const policies = allPolicies();

  test('fifteen mandatory policies with unique names and descriptions', () => {
    expect(policies).toHaveLength(15);
    expect(new Set(policies.map((p) => p.name)).size).toBe(policies.length);
    for (const p of policies) {
      expect(p.enforcementLevel).toBe('mandatory');
      expect(p.description.length).toBeGreaterThan(10);
      expect(p.name).toMatch(/^[a-z0-9-]+$/);
    }
  });

  test('allowlists are config with empty defaults (runtimes default to runc and runsc)', () => {
    const defaults = Object.fromEntries(
      policies.flatMap((p) => Object.entries(p.configSchema?.properties ?? {}).map(([k, s]) => [k, s.default])),
    );
    expect(defaults).toEqual({
      allowedCapabilities: [],
      allowedNamespaceJoins: [],
      exemptRoles: [],
      allowedPublishAddresses: [],
      allowedRuntimes: ['runc', 'runsc'],
    });
  });

  test('a compliant cell passes every policy', () => {
    for (const p of policies) expect(run(p, goodContainer())).toEqual([]);
  });

  test('rules.ts imports only types from @pulumi/policy, and index.ts is the only PolicyPack', () => {
    const rules = fs.readFileSync(path.join(__dirname, 'rules.ts'), 'utf8');
    expect(rules).not.toMatch(/^import (?!type )[^;]*['"]@pulumi\/policy['"]/m);
    expect(rules).not.toMatch(/new PolicyPack/);
    const index = fs.readFileSync(path.join(__dirname, 'index.ts'), 'utf8');
    expect(index).toMatch(/new PolicyPack\('clawjail'/);
  });

  test('policies ignore other resource types (not applicable)', () => {
    for (const p of policies) {
      const reportViolation = jest.fn();
      const v = [p.validateResource ?? []].flat()[0];
      expect(() => v(fakeArgs('docker:index/network:Network', { name: 'host' }), reportViolation)).toThrow(
        NotApplicableSignal,
      );
      expect(reportViolation).not.toHaveBeenCalled();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// container-drop-all-capabilities
// ---------------------------------------------------------------------------------------------

describe('container-drop-all-capabilities', () => {
  test('drops ALL (any case) with no adds is compliant', () => {
    expect(run(dropAllCapabilities, goodContainer({ capabilities: { drops: ['all'] } }))).toEqual([]);
  });

  test('missing capabilities is a violation', () => {
    expect(run(dropAllCapabilities, goodContainer({ capabilities: undefined }))).toEqual([
      'capabilities is not set: capabilities.drops must include "ALL"',
    ]);
  });

  test('dropping only some capabilities is a violation', () => {
    expect(run(dropAllCapabilities, goodContainer({ capabilities: { drops: ['NET_RAW', 'SYS_ADMIN'] } }))).toEqual([
      'capabilities.drops must include "ALL" (got ["NET_RAW", "SYS_ADMIN"])',
    ]);
  });

  test('adding a capability is a violation by default', () => {
    expect(run(dropAllCapabilities, goodContainer({ capabilities: { drops: ['ALL'], adds: ['NET_ADMIN'] } }))).toEqual([
      'capabilities.adds contains "NET_ADMIN"; allowed additions (policy config allowedCapabilities): none',
    ]);
  });

  test('an add in the config allowlist is compliant (CAP_ prefix and case ignored)', () => {
    const props = goodContainer({ capabilities: { drops: ['ALL'], adds: ['cap_net_bind_service'] } });
    expect(run(dropAllCapabilities, props, { config: { allowedCapabilities: ['NET_BIND_SERVICE'] } })).toEqual([]);
    expect(run(dropAllCapabilities, props, { config: { allowedCapabilities: ['CHOWN'] } })).toEqual([
      'capabilities.adds contains "cap_net_bind_service"; allowed additions (policy config allowedCapabilities): "CHOWN"',
    ]);
  });

  test('adding ALL is never allowed, even if allowlisted', () => {
    const props = goodContainer({ capabilities: { drops: ['ALL'], adds: ['ALL'] } });
    expect(run(dropAllCapabilities, props, { config: { allowedCapabilities: ['ALL'] } })).toEqual([
      'capabilities.adds contains "ALL", which is never allowed',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// container-not-privileged
// ---------------------------------------------------------------------------------------------

describe('container-not-privileged', () => {
  test('privileged false or unset is compliant', () => {
    expect(run(notPrivileged, goodContainer({ privileged: false }))).toEqual([]);
    expect(run(notPrivileged, goodContainer({ privileged: undefined }))).toEqual([]);
  });

  test('privileged true is a violation', () => {
    expect(run(notPrivileged, goodContainer({ privileged: true }))).toEqual(['privileged is true; allowed: false or unset']);
  });
});

// ---------------------------------------------------------------------------------------------
// container-no-host-namespaces
// ---------------------------------------------------------------------------------------------

describe('container-no-host-namespaces', () => {
  test('private modes and user networks are compliant', () => {
    expect(
      run(noHostNamespaces, goodContainer({ networkMode: 'bridge', ipcMode: 'private', pidMode: '', cgroupnsMode: 'private' })),
    ).toEqual([]);
    expect(run(noHostNamespaces, goodContainer({ networkMode: 'clawjail-dev-cell' }))).toEqual([]);
  });

  test.each([
    ['networkMode', 'network'],
    ['pidMode', 'PID'],
    ['ipcMode', 'IPC'],
    ['usernsMode', 'user'],
    ['cgroupnsMode', 'cgroup'],
    ['utsMode', 'UTS'],
  ])('%s "host" is a violation', (field, ns) => {
    expect(run(noHostNamespaces, goodContainer({ [field]: 'HOST' }))).toEqual([
      `${field} is "host", which shares the host's ${ns} namespace; allowed: unset or a private mode (never "host")`,
    ]);
  });

  test('"host" cannot be allowlisted', () => {
    const config = { allowedNamespaceJoins: ['networkMode=host', 'networkMode=container:host'] };
    expect(run(noHostNamespaces, goodContainer({ networkMode: 'host' }), { config })).toHaveLength(1);
  });

  test('joining another container is denied by default and names the container', () => {
    expect(run(noHostNamespaces, goodContainer({ networkMode: 'container:clawjail-dev-cell' }))).toEqual([
      'networkMode "container:clawjail-dev-cell" joins the network namespace of container "clawjail-dev-cell"; ' +
        'allowed only if policy config allowedNamespaceJoins lists "networkMode=container:clawjail-dev-cell" (allowed now: none)',
    ]);
  });

  test('built in: a cell joins the network namespace of its own stack’s gateway, and only that', () => {
    const labels = (role: string, stack: string) => [
      { label: 'clawjail.role', value: role },
      { label: 'clawjail.stack', value: stack },
    ];
    const cellOf = (stack: string, networkMode: string) => goodContainer({ labels: labels('cell', stack), networkMode });
    expect(run(noHostNamespaces, cellOf('clawjail-dev', 'container:clawjail-dev-gateway'))).toEqual([]);
    // Another stack's gateway, another container, or another namespace: refused.
    expect(run(noHostNamespaces, cellOf('clawjail-dev', 'container:other-gateway'))).toHaveLength(1);
    expect(run(noHostNamespaces, cellOf('clawjail-dev', 'container:clawjail-dev-warden'))).toHaveLength(1);
    expect(run(noHostNamespaces, goodContainer({ labels: labels('cell', 'clawjail-dev'), pidMode: 'container:clawjail-dev-gateway' }))).toHaveLength(1);
    // Only a cell may join: a gateway (or anything else) joining the cell is not the design.
    expect(run(noHostNamespaces, goodContainer({ labels: labels('gateway', 'clawjail-dev'), networkMode: 'container:clawjail-dev-gateway' }))).toHaveLength(1);
  });

  test('an allowlisted join is compliant, for that field only', () => {
    const config = { allowedNamespaceJoins: ['networkMode=container:clawjail-dev-cell'] };
    expect(run(noHostNamespaces, goodContainer({ networkMode: 'container:clawjail-dev-cell' }), { config })).toEqual([]);
    const pidJoin = run(noHostNamespaces, goodContainer({ pidMode: 'container:clawjail-dev-cell' }), { config });
    expect(pidJoin).toHaveLength(1);
    expect(pidJoin[0]).toMatch(/^pidMode "container:clawjail-dev-cell" joins the PID namespace/);
    expect(pidJoin[0]).toContain('(allowed now: "networkMode=container:clawjail-dev-cell")');
  });

  test('a join of a namespace that is not joinable is never allowed', () => {
    expect(run(noHostNamespaces, goodContainer({ usernsMode: 'container:x' }), {
      config: { allowedNamespaceJoins: ['usernsMode=container:x'] },
    })).toEqual(['usernsMode "container:x" joins another container\'s user namespace, which is never allowed']);
  });
});

// ---------------------------------------------------------------------------------------------
// container-no-sensitive-host-mounts
// ---------------------------------------------------------------------------------------------

describe('normalizeHostPath', () => {
  test.each([
    ['/var/run//docker.sock/', '/var/run/docker.sock'],
    ['/srv/../var/./run/docker.sock', '/var/run/docker.sock'],
    ['/../../proc', '/proc'],
    ['//', '/'],
    ['/srv/..', '/'],
    ['', '.'],
    ['a/../../b', '../b'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeHostPath(input)).toBe(expected);
  });
});

describe('sensitiveHostPathReason', () => {
  test.each([
    ['/var/run/docker.sock', 'a container engine socket'],
    ['/run/docker.sock', 'a container engine socket'],
    ['/home/me/.docker/run/docker.sock', 'a container engine socket'],
    ['/run/containerd/containerd.sock', 'a container engine socket'],
    ['/run/docker', "the Docker engine's runtime state (/run/docker*)"],
    ['/var/run/docker/netns', "the Docker engine's runtime state (/var/run/docker*)"],
    ['/', 'the host root filesystem'],
    ['/proc', '/proc'],
    ['/proc/1/root', 'a path under /proc'],
    ['/sys/', '/sys'],
    ['/dev/kmsg', 'a path under /dev'],
    ['/etc', '/etc'],
    ['/boot', '/boot'],
    ['/root', '/root'],
    ['/var/lib/docker', '/var/lib/docker'],
    ['/var/lib/docker/volumes/x/_data', 'a path under /var/lib/docker'],
    ['/var', 'a parent of /var/lib/docker'],
    ['/run', 'a parent of /run/containerd'],
    ['/srv/../etc/', '/etc'],
  ])('%s is refused (%s)', (p, reason) => {
    expect(sensitiveHostPathReason(p)).toBe(reason);
  });

  test.each(['/srv/clawjail/workspace', '/var/lib/clawjail/jail', '/home/me/clawjail', '/etcetera', '/devices', 'named-volume'])(
    '%s is allowed',
    (p) => {
      expect(sensitiveHostPathReason(p)).toBeUndefined();
    },
  );
});

describe('container-no-sensitive-host-mounts', () => {
  const bind = (source: string) => ({ type: 'bind', source, target: '/mnt', readOnly: true });

  test('named volumes, tmpfs and ordinary bind mounts are compliant', () => {
    const props = goodContainer({
      mounts: [
        { type: 'volume', source: 'clawjail-dev-sandbox_data', target: '/workspace' },
        { type: 'tmpfs', target: '/run/x' },
        bind('/srv/clawjail/workspace'),
      ],
      volumes: [{ volumeName: 'quarantine', containerPath: '/quarantine' }, { hostPath: '/var/lib/clawjail/jail', containerPath: '/j' }],
    });
    expect(run(noSensitiveHostMounts, props)).toEqual([]);
  });

  test('a bind mount of docker.sock is a violation, however the path is spelled', () => {
    const messages = run(noSensitiveHostMounts, goodContainer({ mounts: [bind('/srv/..//var/run/docker.sock/')] }));
    expect(messages).toEqual([
      'mounts[0].source "/srv/..//var/run/docker.sock/" is a bind mount of a container engine socket; bind mounts ' +
        'may not reach the docker/containerd sockets, /run/docker*, /var/run/docker*, /, /proc, /sys, /dev, /etc, ' +
        '/boot, /root or /var/lib/docker (nor their parents or children)',
    ]);
  });

  test.each(['/', '/proc', '/sys/fs/cgroup', '/dev', '/etc', '/boot', '/root', '/var/lib/docker', '/run'])(
    'a bind mount of %s is a violation (mounts and volumes)',
    (p) => {
      const messages = run(
        noSensitiveHostMounts,
        goodContainer({ mounts: [{ type: 'BIND', source: p, target: '/mnt' }], volumes: [{ hostPath: p, containerPath: '/v' }] }),
      );
      expect(messages).toHaveLength(2);
      expect(messages[0]).toMatch(new RegExp(`^mounts\\[0\\]\\.source "${p}" is a bind mount of `));
      expect(messages[1]).toMatch(new RegExp(`^volumes\\[0\\]\\.hostPath "${p}" is a bind mount of `));
    },
  );

  test('volumes_from is a violation', () => {
    expect(run(noSensitiveHostMounts, goodContainer({ volumes: [{ fromContainer: 'other' }] }))).toEqual([
      'volumes[0].fromContainer "other" inherits every mount of another container, which this policy cannot inspect; ' +
        'allowed: named volumes, tmpfs and bind mounts of non-sensitive host paths',
    ]);
  });

  test('a bind-style local volume of a sensitive path is a violation (mount options and Volume resource)', () => {
    const driverOptions = { type: 'none', o: 'bind', device: '/var/run' };
    const messages = run(
      noSensitiveHostMounts,
      goodContainer({ mounts: [{ type: 'volume', target: '/v', volumeOptions: { driverOptions } }] }),
    );
    expect(messages).toEqual([expect.stringMatching(/^mounts\[0\]\.volumeOptions\.driverOptions binds device "\/var\/run", a parent of \/var\/run\/containerd;/)]);
    expect(run(noSensitiveHostMounts, { name: 'v', driverOpts: driverOptions }, { type: VOLUME_TYPE })).toEqual([
      expect.stringMatching(/^driverOpts binds device "\/var\/run", a parent of /),
    ]);
    expect(
      run(noSensitiveHostMounts, { name: 'v', driverOpts: { type: 'none', o: 'bind', device: '/srv/data' } }, { type: VOLUME_TYPE }),
    ).toEqual([]);
    expect(run(noSensitiveHostMounts, { name: 'v' }, { type: VOLUME_TYPE })).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// container-no-devices
// ---------------------------------------------------------------------------------------------

describe('container-no-devices', () => {
  test('no devices is compliant', () => {
    expect(run(noDevices, goodContainer({ devices: [] }))).toEqual([]);
  });

  test('devices, device requests, cgroup rules and gpus are violations', () => {
    expect(
      run(
        noDevices,
        goodContainer({
          devices: [{ hostPath: '/dev/kvm' }, { hostPath: '/dev/fuse', containerPath: '/dev/fuse' }],
          deviceRequests: [{ count: -1, capabilities: ['gpu'] }],
          deviceCgroupRules: ['c 1:3 rwm'],
          gpus: 'all',
        }),
      ),
    ).toEqual([
      'devices maps host devices ["/dev/kvm", "/dev/fuse"]; allowed: no devices',
      'deviceRequests is set; allowed: no device requests',
      'deviceCgroupRules grants device access; allowed: no device cgroup rules',
      'gpus is "all"; allowed: unset',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// container-memory-limit
// ---------------------------------------------------------------------------------------------

describe('container-memory-limit', () => {
  test('memory > 0 with memorySwap equal to it is compliant', () => {
    expect(run(memoryLimit, goodContainer({ memory: 1536, memorySwap: 1536 }))).toEqual([]);
  });

  test.each([
    [undefined, 'unset'],
    [0, '0'],
    [-1, '-1'],
  ])('memory %p is a violation', (memory, shown) => {
    expect(run(memoryLimit, goodContainer({ memory, memorySwap: memory }))).toEqual([
      `memory must be set to a limit > 0 MB (got ${shown})`,
    ]);
  });

  test('memorySwap unset is a violation (Docker would add swap)', () => {
    expect(run(memoryLimit, goodContainer({ memory: 2048, memorySwap: undefined }))).toEqual([
      'memorySwap must equal memory (2048) so that no swap is used beyond the limit (got unset, which lets Docker add swap)',
    ]);
  });

  test.each([-1, 4096, 1024])('memorySwap %p differing from memory is a violation', (swap) => {
    expect(run(memoryLimit, goodContainer({ memory: 2048, memorySwap: swap }))).toEqual([
      `memorySwap must equal memory (2048) so that no swap is used beyond the limit (got ${swap})`,
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// container-cpu-limit
// ---------------------------------------------------------------------------------------------

describe('container-cpu-limit', () => {
  test('cpus, or cpuQuota with cpuPeriod, is compliant', () => {
    expect(run(cpuLimit, goodContainer({ cpus: '0.5' }))).toEqual([]);
    expect(run(cpuLimit, goodContainer({ cpus: undefined, cpuQuota: 50000, cpuPeriod: 100000 }))).toEqual([]);
  });

  test('no limit is a violation; cpuShares does not count', () => {
    expect(run(cpuLimit, goodContainer({ cpus: undefined }))).toEqual([
      'no CPU limit: set cpus (e.g. "1.5") or cpuQuota together with cpuPeriod',
    ]);
    expect(run(cpuLimit, goodContainer({ cpus: undefined, cpuShares: 512 }))).toEqual([
      'no CPU limit: set cpus (e.g. "1.5") or cpuQuota together with cpuPeriod (cpuShares is only a relative weight, not a limit)',
    ]);
  });

  test('cpus "0" or garbage, and cpuQuota without cpuPeriod, are violations', () => {
    expect(run(cpuLimit, goodContainer({ cpus: '0' }))).toEqual(['cpus "0" is not a positive number of CPUs']);
    expect(run(cpuLimit, goodContainer({ cpus: 'lots' }))).toEqual(['cpus "lots" is not a positive number of CPUs']);
    expect(run(cpuLimit, goodContainer({ cpus: undefined, cpuQuota: 50000 }))).toEqual([
      'cpuQuota is set without cpuPeriod; set cpuPeriod too, or set cpus',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// container-security-opts
// ---------------------------------------------------------------------------------------------

describe('container-security-opts', () => {
  test('parseSecurityOpt splits on the first = or :', () => {
    expect(parseSecurityOpt('seccomp={"a":1}')).toEqual({ key: 'seccomp', value: '{"a":1}' });
    expect(parseSecurityOpt('label:user:USER')).toEqual({ key: 'label', value: 'user:USER' });
    expect(parseSecurityOpt('no-new-privileges')).toEqual({ key: 'no-new-privileges', value: '' });
  });

  test.each([['no-new-privileges'], ['no-new-privileges:true'], ['no-new-privileges=true'], ['No-New-Privileges:TRUE']])(
    '%s is compliant',
    (opt) => {
      expect(run(securityOpts, goodContainer({ securityOpts: [opt, 'apparmor=docker-default', 'seccomp=/etc/p.json'] }))).toEqual([]);
    },
  );

  test('missing no-new-privileges is a violation', () => {
    expect(run(securityOpts, goodContainer({ securityOpts: undefined }))).toEqual([
      'securityOpts must include "no-new-privileges" (or "no-new-privileges:true")',
    ]);
  });

  test('no-new-privileges:false is a violation even beside a true one', () => {
    expect(run(securityOpts, goodContainer({ securityOpts: ['no-new-privileges', 'no-new-privileges:false'] }))).toEqual([
      'securityOpts contains "no-new-privileges:false"; allowed: "no-new-privileges" or "no-new-privileges:true"',
    ]);
  });

  test.each(['seccomp=unconfined', 'seccomp:unconfined', 'apparmor=unconfined', 'apparmor:Unconfined', 'label=disable', 'label:disable', 'systempaths=unconfined'])(
    '%s is a violation',
    (opt) => {
      expect(run(securityOpts, goodContainer({ securityOpts: ['no-new-privileges:true', opt] }))).toEqual([
        `securityOpts contains "${opt}", which disables a kernel confinement; never allowed ` +
          '(seccomp=unconfined, apparmor=unconfined, label=disable, systempaths=unconfined)',
      ]);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// container-read-only-rootfs
// ---------------------------------------------------------------------------------------------

describe('container-read-only-rootfs', () => {
  const role = (r: string) => [{ label: 'clawjail.role', value: r }];

  test('a read-only cell is compliant; unlabelled containers are out of scope', () => {
    expect(run(readOnlyRootfs, goodContainer())).toEqual([]);
    expect(run(readOnlyRootfs, goodContainer({ labels: [], readOnly: false }))).toEqual([]);
  });

  test('a writable cell is a violation', () => {
    expect(run(readOnlyRootfs, goodContainer({ readOnly: false }))).toEqual([
      'readOnly must be true for a container labelled clawjail.role="cell" (got false); roles exempt via policy ' +
        'config exemptRoles: none (the cell is never exempt)',
    ]);
  });

  test('the cell cannot be exempted by config', () => {
    expect(run(readOnlyRootfs, goodContainer({ readOnly: undefined }), { config: { exemptRoles: ['cell', 'clamd'] } })).toEqual([
      'readOnly must be true for a container labelled clawjail.role="cell" (got unset); roles exempt via policy ' +
        'config exemptRoles: "clamd" (the cell is never exempt)',
    ]);
  });

  test('every other clawjail role must be read-only unless exempted by config', () => {
    const clamd = goodContainer({ labels: role('clamd'), readOnly: false });
    expect(run(readOnlyRootfs, clamd)).toEqual([
      'readOnly must be true for a container labelled clawjail.role="clamd" (got false); roles exempt via policy ' +
        'config exemptRoles: none',
    ]);
    expect(run(readOnlyRootfs, clamd, { config: { exemptRoles: ['clamd'] } })).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// container-ports-loopback-only
// ---------------------------------------------------------------------------------------------

describe('container-ports-loopback-only', () => {
  const port = (ip?: string) => ({ internal: 8443, external: 8443, ip, protocol: 'tcp' });
  const NONE = 'allowed: 127.0.0.1 or ::1, or an address in policy config allowedPublishAddresses (none)';

  test('normalizeIp and isLoopbackIp', () => {
    expect(normalizeIp('[0:0:0:0:0:0:0:1]')).toBe('::1');
    expect(normalizeIp(' FE80::1 ')).toBe('fe80::1');
    expect(isLoopbackIp('127.0.0.1')).toBe(true);
    expect(isLoopbackIp('127.1.2.3')).toBe(true);
    expect(isLoopbackIp('::1')).toBe(true);
    expect(isLoopbackIp('127.0.0.300')).toBe(false);
    expect(isLoopbackIp('10.0.0.1')).toBe(false);
  });

  test('loopback addresses and no ports are compliant', () => {
    expect(run(loopbackPorts, goodContainer({ ports: [port('127.0.0.1'), port('::1'), port('[::1]')] }))).toEqual([]);
    expect(run(loopbackPorts, goodContainer({ ports: undefined }))).toEqual([]);
  });

  test('a port without ip is a violation (it means 0.0.0.0)', () => {
    expect(run(loopbackPorts, goodContainer({ ports: [port(undefined)] }))).toEqual([
      `ports[0].ip is unset, which means 0.0.0.0 (every host address) (internal 8443, external 8443); ${NONE}`,
    ]);
  });

  test('wildcard and LAN addresses are violations', () => {
    expect(run(loopbackPorts, goodContainer({ ports: [port('0.0.0.0'), port('::'), port('192.168.1.20')] }))).toEqual([
      `ports[0].ip is "0.0.0.0" (internal 8443, external 8443, every host address); ${NONE}`,
      `ports[1].ip is "::" (internal 8443, external 8443, every host address); ${NONE}`,
      `ports[2].ip is "192.168.1.20" (internal 8443, external 8443); ${NONE}`,
    ]);
  });

  test('an allowlisted LAN address is compliant; others still are not', () => {
    const config = { allowedPublishAddresses: ['192.168.1.20'] };
    expect(run(loopbackPorts, goodContainer({ ports: [port('192.168.1.20')] }), { config })).toEqual([]);
    expect(run(loopbackPorts, goodContainer({ ports: [port('192.168.1.21')] }), { config })).toEqual([
      'ports[0].ip is "192.168.1.21" (internal 8443, external 8443); allowed: 127.0.0.1 or ::1, or an address in ' +
        'policy config allowedPublishAddresses ("192.168.1.20")',
    ]);
  });

  test('publishAllPorts is a violation', () => {
    expect(run(loopbackPorts, goodContainer({ publishAllPorts: true }))).toEqual([
      `publishAllPorts is true, which publishes every exposed port on all host addresses; ${NONE}`,
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// image-pinned-reference
// ---------------------------------------------------------------------------------------------

describe('image-pinned-reference', () => {
  const ALLOWED =
    'allowed: a pinned tag (name:1.2.3), a digest (name@sha256:<64 hex>) or an image id (sha256:<64 hex>)';

  test.each([
    'clawjail-dev/cell:openclaw-2026.9.6',
    'localhost:5000/clawjail/warden:0.1.0',
    'debian:bookworm-20250101-slim',
    `node@sha256:${ID}`,
    `node:24@sha256:${ID}`,
    `sha256:${ID}`,
    ID,
  ])('%s is pinned', (ref) => {
    expect(imageReferenceProblem(ref)).toBeUndefined();
  });

  test.each([
    ['nginx', 'has no tag, so Docker uses ":latest"'],
    ['localhost:5000/clawjail/cell', 'has no tag, so Docker uses ":latest"'],
    ['nginx:latest', 'uses the floating tag "latest"'],
    ['nginx:LATEST', 'uses the floating tag "latest"'],
    ['nginx:', 'has an empty tag'],
    ['nginx@sha256:abc', 'has a malformed digest "sha256:abc"'],
    ['  ', 'is empty'],
  ])('%s is not pinned: %s', (ref, problem) => {
    expect(imageReferenceProblem(ref)).toBe(problem);
  });

  test('Image.imageName: pinned is compliant, latest is a violation', () => {
    expect(run(pinnedImages, { imageName: 'clawjail-dev/cell:openclaw-2026.9.6' }, { type: IMAGE_TYPE })).toEqual([]);
    expect(run(pinnedImages, { imageName: 'clawjail-dev/cell:latest' }, { type: IMAGE_TYPE })).toEqual([
      `imageName "clawjail-dev/cell:latest" uses the floating tag "latest"; ${ALLOWED}`,
    ]);
  });

  test('RemoteImage.name: pinned is compliant, untagged is a violation', () => {
    expect(run(pinnedImages, { name: 'node:24-bookworm-slim' }, { type: REMOTE_IMAGE_TYPE })).toEqual([]);
    expect(run(pinnedImages, { name: 'node' }, { type: REMOTE_IMAGE_TYPE })).toEqual([
      `name "node" has no tag, so Docker uses ":latest"; ${ALLOWED}`,
    ]);
  });

  test('Container.image: an image id or digest is compliant, untagged is a violation', () => {
    expect(run(pinnedImages, goodContainer({ image: `sha256:${ID}` }))).toEqual([]);
    expect(run(pinnedImages, goodContainer({ image: `clawjail-dev/cell@sha256:${ID}` }))).toEqual([]);
    expect(run(pinnedImages, goodContainer({ image: 'busybox' }))).toEqual([
      `image "busybox" has no tag, so Docker uses ":latest"; ${ALLOWED}`,
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// container-runtime-allowed
// ---------------------------------------------------------------------------------------------

describe('container-runtime-allowed', () => {
  test.each([undefined, '', 'runc', 'runsc'])('runtime %p is compliant', (runtime) => {
    expect(run(allowedRuntime, goodContainer({ runtime }))).toEqual([]);
  });

  test('an unknown runtime is a violation', () => {
    expect(run(allowedRuntime, goodContainer({ runtime: 'kata-runtime' }))).toEqual([
      'runtime "kata-runtime" is not allowed; allowed (policy config allowedRuntimes): "runc", "runsc"',
    ]);
  });

  test('policy config replaces the allowed runtimes', () => {
    const config = { allowedRuntimes: ['runsc'] };
    expect(run(allowedRuntime, goodContainer({ runtime: 'runsc' }), { config })).toEqual([]);
    expect(run(allowedRuntime, goodContainer({ runtime: 'runc' }), { config })).toEqual([
      'runtime "runc" is not allowed; allowed (policy config allowedRuntimes): "runsc"',
    ]);
  });
});

// ---------------------------------------------------------------------------------------------
// Under the SDK's unknown-value proxy (what a preview hands the policies)
// ---------------------------------------------------------------------------------------------

describe('under the policy SDK proxy', () => {
  test('known values: every policy reads through the proxy and finds the cell compliant', () => {
    for (const p of allPolicies()) expect(run(p, sdkProxy.unknownCheckingProxy(goodContainer()))).toEqual([]);
  });

  test('known values: violations are still found', () => {
    const props = sdkProxy.unknownCheckingProxy(goodContainer({ mounts: [{ type: 'bind', source: '/', target: '/h' }] }));
    expect(run(noSensitiveHostMounts, props)).toHaveLength(1);
  });

  test('an unknown image throws the SDK error (the SDK then skips that policy during preview)', () => {
    const props = sdkProxy.unknownCheckingProxy(goodContainer({ image: sdkProxy.unknownStringValue }));
    expect(() => run(pinnedImages, props)).toThrow(sdkProxy.UnknownValueError);
    expect(run(memoryLimit, props)).toEqual([]); // other policies do not touch the image
  });

  test('a label value unknown in a preview (the image id) keeps every rule running, and judging', () => {
    // The stack labels each container with its image id, which a preview does not know yet.
    // Rules judge by the role and stack labels only; read through the proxy, the unknown value
    // of another label must not stop them (the engine would report "can't run policy").
    const labels = [...CELL_LABELS, { label: 'clawjail.stack', value: 'clawjail-dev' }, { label: 'clawjail.image-id', value: sdkProxy.unknownStringValue }];
    const good = sdkProxy.unknownCheckingProxy(goodContainer({ labels }));
    for (const p of allPolicies()) expect(run(p, good)).toEqual([]);
    const bad = sdkProxy.unknownCheckingProxy(goodContainer({ labels, privileged: true }));
    expect(run(notPrivileged, bad)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// validateResources
// ---------------------------------------------------------------------------------------------

describe('validateResources', () => {
  const jail = (): ResourceUnderTest[] => [
    { type: IMAGE_TYPE, name: 'cell-image', props: { imageName: 'clawjail-dev/cell:openclaw-2026.9.6', skipPush: true } },
    { type: REMOTE_IMAGE_TYPE, name: 'clamav', props: { name: 'clamav/clamav:1.4.1' } },
    { type: VOLUME_TYPE, name: 'sandbox-data', props: { name: 'clawjail-dev-sandbox_data' } },
    { type: 'docker:index/network:Network', name: 'cell-net', props: { name: 'clawjail-dev-cell', internal: false } },
    { type: CONTAINER_TYPE, name: 'cell', props: goodContainer() },
    {
      type: CONTAINER_TYPE,
      name: 'gateway',
      props: goodContainer({
        name: 'clawjail-dev-gateway',
        labels: [{ label: 'clawjail.role', value: 'gateway' }],
        ports: [{ internal: 8443, external: 8443, ip: '127.0.0.1' }],
        mounts: [],
      }),
    },
  ];

  test('a compliant jail has no violations', () => {
    expect(validateResources(jail())).toEqual([]);
  });

  test('one flipped setting fires exactly the matching policy, naming the resource', () => {
    const resources = jail();
    (resources[5].props.ports as { ip?: string }[])[0].ip = '0.0.0.0';
    resources[1].props.name = 'clamav/clamav';
    const violations = validateResources(resources);
    expect(violations.map((v) => [v.policy, v.resource])).toEqual([
      ['container-ports-loopback-only', 'gateway'],
      ['image-pinned-reference', 'clamav'],
    ]);
    expect(violations[0].message).toMatch(/^ports\[0\]\.ip is "0\.0\.0\.0"/);
  });

  test('policy config is passed per policy, as in a --policy-pack-config file', () => {
    const resources = jail();
    (resources[5].props.ports as { ip?: string }[])[0].ip = '192.168.1.20';
    expect(validateResources(resources)).toHaveLength(1);
    expect(
      validateResources(resources, { 'container-ports-loopback-only': { allowedPublishAddresses: ['192.168.1.20'] } }),
    ).toEqual([]);
  });

  test('a disabled policy is skipped; "all" sets the level for every policy', () => {
    const resources = jail();
    resources[4].props.privileged = true;
    expect(validateResources(resources).map((v) => v.policy)).toEqual(['container-not-privileged']);
    expect(validateResources(resources, { 'container-not-privileged': 'disabled' })).toEqual([]);
    expect(validateResources(resources, { 'container-not-privileged': { enforcementLevel: 'disabled' } })).toEqual([]);
    expect(validateResources(resources, { all: 'disabled' })).toEqual([]);
  });

  test('a bare container reports every invariant it breaks', () => {
    const policies = validateResources([{ type: CONTAINER_TYPE, name: 'bare', props: { image: 'alpine' } }]).map(
      (v) => v.policy,
    );
    expect(policies).toEqual([
      'container-drop-all-capabilities',
      'container-memory-limit',
      'container-cpu-limit',
      'container-security-opts',
      'image-pinned-reference',
    ]);
  });
});

describe('container-seccomp-profile and container-non-root-user', () => {
  const jailLabels = [{ label: 'clawjail.role', value: 'gateway' }];
  test('a deny-by-default inline profile and a numeric non-root user comply', () => {
    const props = { labels: jailLabels, user: '10443:10443', securityOpts: ['no-new-privileges:true', 'seccomp={"defaultAction":"SCMP_ACT_ERRNO"}'] };
    expect(checkSeccompProfile(props)).toEqual([]);
    expect(checkNonRootUser(props)).toEqual([]);
  });
  test('a missing, allow-by-default or unparsable profile is refused', () => {
    expect(checkSeccompProfile({ labels: jailLabels, securityOpts: ['no-new-privileges'] })[0]).toMatch(/no seccomp profile/);
    expect(checkSeccompProfile({ labels: jailLabels, securityOpts: ['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] })[0]).toMatch(/defaultAction is "SCMP_ACT_ALLOW"/);
    expect(checkSeccompProfile({ labels: jailLabels, securityOpts: ['seccomp=/etc/profile.json'] })[0]).toMatch(/not an inline JSON profile/);
  });
  test('root, a named user, or none is refused', () => {
    expect(checkNonRootUser({ labels: jailLabels, user: '0:0' })[0]).toMatch(/root/);
    expect(checkNonRootUser({ labels: jailLabels, user: '1000:0' })[0]).toMatch(/root/);
    expect(checkNonRootUser({ labels: jailLabels, user: 'node' })[0]).toMatch(/numeric/);
    expect(checkNonRootUser({ labels: jailLabels })[0]).toMatch(/numeric/);
  });
  test('containers outside the jail (no role label) are not judged by these two', () => {
    expect(checkSeccompProfile({ securityOpts: [] })).toEqual([]);
    expect(checkNonRootUser({ user: '0' })).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// cell-workspace-mount-only
// ---------------------------------------------------------------------------------------------

describe('cell-workspace-mount-only', () => {
  const WS = { type: 'volume', source: 'clawjail-dev-sandbox_data', target: '/workspace' };

  test('the cell with its own workspace volume, or a bind under the roots, is compliant; other roles may mount more', () => {
    expect(run(cellWorkspaceOnly, goodContainer())).toEqual([]);
    expect(run(cellWorkspaceOnly, goodContainer({ mounts: [{ type: 'bind', source: '/srv/clawjail/ws', target: '/workspace/' }] }))).toEqual([]);
    const warden = goodContainer({
      labels: [{ label: 'clawjail.role', value: 'warden' }, { label: 'clawjail.stack', value: 'clawjail-dev' }],
      mounts: [WS, { type: 'volume', source: 'clawjail-dev-quarantine', target: '/quarantine' }],
    });
    expect(run(cellWorkspaceOnly, warden)).toEqual([]);
  });

  test('a cell that also mounts another volume is a violation, whatever its target', () => {
    const props = goodContainer({ mounts: [WS, { type: 'volume', source: 'innocent-name', target: '/home/node/.cache' }] });
    const allowed = 'its workspace at /workspace: the volume "clawjail-dev-sandbox_data" or a bind under /srv/clawjail/ or /var/lib/clawjail/';
    expect(run(cellWorkspaceOnly, props)).toEqual([
      `mounts[1] (volume "innocent-name" at "/home/node/.cache"): a cell mounts only ${allowed}`,
      `2 mounts: a cell mounts exactly one, ${allowed}`,
    ]);
  });

  test('the jail, the gateway key or another stack\'s workspace at /workspace is a violation', () => {
    for (const source of ['clawjail-dev-quarantine', 'clawjail-dev-gateway-state', 'clawjail-dev-clamd-db', 'other-sandbox_data']) {
      expect(run(cellWorkspaceOnly, goodContainer({ mounts: [{ type: 'volume', source, target: '/workspace' }] }))).toHaveLength(1);
    }
    expect(run(cellWorkspaceOnly, goodContainer({ mounts: [{ type: 'bind', source: '/home/alice', target: '/workspace' }] }))).toHaveLength(1);
    // No stack label: no workspace volume can be told apart, so none is accepted.
    expect(run(cellWorkspaceOnly, goodContainer({ labels: CELL_LABELS }))).toHaveLength(1);
  });

  test('legacy volumes and volumes_from count too', () => {
    expect(run(cellWorkspaceOnly, goodContainer({ mounts: [], volumes: [{ volumeName: 'clawjail-dev-quarantine', containerPath: '/workspace' }] }))).toHaveLength(1);
    expect(run(cellWorkspaceOnly, goodContainer({ mounts: [], volumes: [{ volumeName: 'clawjail-dev-sandbox_data', containerPath: '/workspace' }] }))).toEqual([]);
    expect(run(cellWorkspaceOnly, goodContainer({ mounts: [], volumes: [{ fromContainer: 'clawjail-dev-warden' }] }))).toHaveLength(1);
  });
});

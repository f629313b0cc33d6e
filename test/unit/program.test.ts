// The real program under Pulumi's mocks, judged by the real policy pack.
import { validateResources, type Violation } from '../../policies/harness';
import { DYNAMIC, FAKE_FINGERPRINT, runProgram, type ProgramRun, type RegisteredResource } from '../helpers/pulumiProgram';

const TOKEN = 'k'.repeat(48);
const GW_TOKEN = 'g'.repeat(48);
// How the mocks show a secret value: Pulumi's own signature key and value.
const SECRET_SIG = '4dabf18193072939515e22adb298388d';
const SECRET_VALUE_SIG = '1b47061264138c4ac30d75fd1eb44270';
const CONTAINER = 'docker:index/container:Container';

jest.setTimeout(60_000); // loads the whole program and its SDKs, on a busy 2-core machine

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({ openclawToken: TOKEN, gatewayToken: GW_TOKEN });
});

const cellOf = (resources: RegisteredResource[]) => {
  const cell = resources.find((r) => r.type === CONTAINER && (r.props.name as string).endsWith('-cell'));
  if (!cell) throw new Error('the program registered no cell container');
  return cell;
};

/** A copy of the program's resources with one field of the cell container changed. */
function withCell(mutate: (props: Record<string, unknown>) => void): RegisteredResource[] {
  return run.resources.map((r) => {
    if (r !== cellOf(run.resources)) return r;
    const props = JSON.parse(JSON.stringify(r.props)) as Record<string, unknown>;
    mutate(props);
    return { ...r, props };
  });
}

const policiesHit = (violations: Violation[]) => [...new Set(violations.map((v) => v.policy))].sort();

describe('the program under Pulumi mocks', () => {
  it('registers the jail: image, network, workspace volume, cell container, pids limit', () => {
    const types = run.resources.map((r) => r.type);
    expect(types).toEqual(
      expect.arrayContaining([
        'docker:index/remoteImage:RemoteImage',
        'docker:index/network:Network',
        'docker:index/volume:Volume',
        CONTAINER,
        DYNAMIC,
        'clawjail:index:Cell',
        'clawjail:index:Gateway',
        'clawjail:index:Warden',
        'clawjail:index:WardenProcess',
        'clawjail:index:Clamd',
        'clawjail:index:Freshclam',
      ]),
    );
  });

  it('declares the warden: the jail volume in the warden alone, clamd on the internal network only', () => {
    const containers = run.resources.filter((r) => r.type === CONTAINER);
    const mounting = (volume: string) =>
      containers.filter((c) => (c.props.mounts as { source: string }[]).some((m) => m.source === volume)).map((c) => c.props.name).sort();
    expect(mounting('clawjail-quarantine')).toEqual(['clawjail-warden']);
    expect(mounting('clawjail-sandbox_data')).toEqual(['clawjail-cell', 'clawjail-warden']);
    const byName = (n: string) => containers.find((c) => c.props.name === n);
    expect(byName('clawjail-clamd')?.props.networksAdvanced).toEqual([{ name: 'clawjail-scan' }]);
    expect(byName('clawjail-warden')?.props.networksAdvanced).toEqual([{ name: 'clawjail-scan' }]);
    const scan = run.resources.find((r) => r.type === 'docker:index/network:Network' && r.props.name === 'clawjail-scan');
    expect(scan?.props).toMatchObject({ internal: true });
    // One build of the image clamd and freshclam share.
    expect(run.resources.filter((r) => r.type === 'docker:index/remoteImage:RemoteImage').map((r) => r.props.name).sort()).toEqual([
      'clawjail/cell:openclaw-2026.9.6',
      'clawjail/clamd:0.1.0',
      'clawjail/egress:0.1.0',
      'clawjail/gateway:0.1.0',
      'clawjail/warden:0.1.0',
    ]);
    // The quarantine outlives the stack.
    expect(run.outputs).toMatchObject({ quarantineVolume: 'clawjail-quarantine', wardenContainer: 'clawjail-warden', clamdContainer: 'clawjail-clamd' });
  });

  it('declares the egress gate (the default): its link network, its container, its policy file', () => {
    const containers = run.resources.filter((r) => r.type === CONTAINER);
    const gate = containers.find((c) => c.props.name === 'clawjail-egress');
    expect(gate?.props.networksAdvanced).toEqual([
      { name: 'clawjail-cell', ipv4Address: '172.29.77.3' },
      { name: 'clawjail-gate', ipv4Address: '172.29.79.2' },
    ]);
    const link = run.resources.find((r) => r.type === 'docker:index/network:Network' && r.props.name === 'clawjail-gate');
    expect(link?.props).toMatchObject({ internal: true });
    const policy = run.resources.find((r) => r.type === DYNAMIC && r.name === 'egress-policy');
    expect(policy?.props).toMatchObject({ container: 'clawjail-egress', allow: ['codeload.github.com', 'github.com', 'objects.githubusercontent.com', 'registry.npmjs.org'], deny: [] });
    expect(run.outputs).toMatchObject({ egressContainer: 'clawjail-egress', egressProxyUrl: 'http://172.29.79.2:3128' });
  });

  it('passes the policy pack with zero violations', () => {
    expect(validateResources(run.resources)).toEqual([]);
  });

  it('hands each token only to the container that needs it', () => {
    const cell = cellOf(run.resources);
    const gateway = run.resources.find((r) => r.type === CONTAINER && r.props.name === 'clawjail-gateway');
    expect(JSON.stringify(cell.props.envs)).toContain(`OPENCLAW_GATEWAY_TOKEN=${TOKEN}`);
    expect((cell.props.envs as Record<string, unknown>)[SECRET_SIG]).toBe(SECRET_VALUE_SIG);
    expect(JSON.stringify(cell.props)).not.toContain(GW_TOKEN);
    // The gateway gets both as files in its own volume, never in its environment, and the
    // uploads are a Pulumi secret (the engine encrypts them in the state).
    const uploads = gateway?.props.uploads as Record<string, unknown>;
    expect(uploads[SECRET_SIG]).toBe(SECRET_VALUE_SIG);
    expect(uploads.value).toEqual(
      expect.arrayContaining([
        { file: '/var/lib/clawjail-gateway/operator.token', content: GW_TOKEN },
        { file: '/var/lib/clawjail-gateway/openclaw.token', content: TOKEN },
      ]),
    );
    expect(JSON.stringify(gateway?.props.envs)).not.toMatch(new RegExp(`${TOKEN}|${GW_TOKEN}`));
    const others = run.resources.filter((r) => r !== cell && r !== gateway && r.type !== 'pulumi:pulumi:Stack');
    expect(JSON.stringify(others)).not.toMatch(new RegExp(`${TOKEN}|${GW_TOKEN}`));
  });

  it('puts the cell in the gateway’s network namespace and publishes only the gateway, on loopback', () => {
    const cell = cellOf(run.resources);
    const gateway = run.resources.find((r) => r.type === CONTAINER && r.props.name === 'clawjail-gateway');
    expect(cell.props).toMatchObject({ networkMode: 'container:clawjail-gateway' });
    expect(cell.props.ports ?? []).toEqual([]);
    expect(gateway?.props.ports).toEqual([
      { internal: 8443, external: 8443, ip: '127.0.0.1', protocol: 'tcp' },
      { internal: 8444, external: 8444, ip: '127.0.0.1', protocol: 'tcp' },
    ]);
  });

  it('creates the cell stopped and starts it only after the pids limit is set', () => {
    const cell = cellOf(run.resources);
    expect(cell.props.start).toBe(false);
    // infra/components/containerStart.ts runs pidsLimitScript (infra/model/pids.ts) with these.
    const start = run.resources.find((r) => r.type === DYNAMIC && r.props.container === 'clawjail-cell');
    expect(start?.props).toMatchObject({ container: 'clawjail-cell', pidsLimit: 256, dockerHost: 'unix:///var/run/docker.sock' });
    expect(start?.props.containerId).toBe(`${cellOf(run.resources).name}-id`);
    for (const c of run.resources.filter((r) => r.type === CONTAINER)) expect(c.props.start).toBe(false);
  });

  it('exports what the operator needs', () => {
    expect(run.outputs).toMatchObject({
      cellContainer: 'clawjail-cell',
      cellImage: 'clawjail/cell:openclaw-2026.9.6',
      cellNetwork: 'clawjail-cell',
      gatewayContainer: 'clawjail-gateway',
      gatewayUrl: 'wss://127.0.0.1:8443',
      gatewayLoginUrl: 'https://127.0.0.1:8444/__clawjail/login',
      gatewayFingerprint: FAKE_FINGERPRINT.trim(),
      workspaceLocation: 'clawjail-sandbox_data',
    });
  });

  it('fails a bad config at preview time, naming the key', async () => {
    await expect(runProgram({ openclawToken: TOKEN, gatewayToken: GW_TOKEN, cellPidsLimit: 'lots' })).rejects.toThrow(
      /clawjail:cellPidsLimit = "lots": must be a whole number/,
    );
  });
});

describe('each flipped setting fires its rule', () => {
  it.each<[string, (p: Record<string, unknown>) => void, string | string[]]>([
    ['capability drop removed', (p) => { p.capabilities = { drops: [], adds: [] }; }, 'container-drop-all-capabilities'],
    ['a capability added', (p) => { p.capabilities = { drops: ['ALL'], adds: ['NET_ADMIN'] }; }, 'container-drop-all-capabilities'],
    ['privileged', (p) => { p.privileged = true; }, 'container-not-privileged'],
    ['host network', (p) => { p.networkMode = 'host'; }, 'container-no-host-namespaces'],
    ['joins another container’s network', (p) => { p.networkMode = 'container:some-other'; }, 'container-no-host-namespaces'],
    ['joins the gateway’s pid namespace', (p) => { p.pidMode = 'container:clawjail-gateway'; }, 'container-no-host-namespaces'],
    ['host pid', (p) => { p.pidMode = 'host'; }, 'container-no-host-namespaces'],
    ['host ipc', (p) => { p.ipcMode = 'host'; }, 'container-no-host-namespaces'],
    ['host userns', (p) => { p.usernsMode = 'host'; }, 'container-no-host-namespaces'],
    ['docker.sock bind', (p) => { (p.mounts as unknown[]).push({ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }); }, ['cell-workspace-mount-only', 'container-no-sensitive-host-mounts']],
    ['/ bind', (p) => { (p.mounts as unknown[]).push({ type: 'bind', source: '/', target: '/host' }); }, ['cell-workspace-mount-only', 'container-no-sensitive-host-mounts']],
    ['/etc bind', (p) => { p.volumes = [{ hostPath: '/etc/', containerPath: '/x' }]; }, ['cell-workspace-mount-only', 'container-no-sensitive-host-mounts']],
    ['a home directory as workspace', (p) => { (p.mounts as { type: string; source: string }[])[0] = { type: 'bind', source: '/home/alice', target: '/workspace' } as never; }, ['cell-workspace-mount-only', 'container-no-sensitive-host-mounts']],
    ['the quarantine volume in the cell', (p) => { (p.mounts as unknown[]).push({ type: 'volume', source: 'clawjail-quarantine', target: '/quarantine' }); }, 'cell-workspace-mount-only'],
    ['the quarantine volume as the cell’s workspace', (p) => { (p.mounts as { source: string }[])[0].source = 'clawjail-quarantine'; }, 'cell-workspace-mount-only'],
    ['a device', (p) => { p.devices = [{ hostPath: '/dev/kvm' }]; }, 'container-no-devices'],
    ['no memory limit', (p) => { delete p.memory; }, 'container-memory-limit'],
    ['swap beyond the limit', (p) => { p.memorySwap = -1; }, 'container-memory-limit'],
    ['no CPU limit', (p) => { delete p.cpus; }, 'container-cpu-limit'],
    ['no no-new-privileges', (p) => { p.securityOpts = (p.securityOpts as string[]).filter((o) => !o.startsWith('no-new-privileges')); }, 'container-security-opts'],
    ['seccomp unconfined', (p) => { p.securityOpts = ['no-new-privileges:true', 'seccomp=unconfined']; }, ['container-seccomp-profile', 'container-security-opts']],
    ['no seccomp profile (Docker’s default allows ptrace)', (p) => { p.securityOpts = ['no-new-privileges:true']; }, 'container-seccomp-profile'],
    ['an allow-by-default seccomp profile', (p) => { p.securityOpts = ['no-new-privileges:true', 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}']; }, 'container-seccomp-profile'],
    ['root user', (p) => { p.user = '0:0'; }, 'container-non-root-user'],
    ['no user (root)', (p) => { delete p.user; }, 'container-non-root-user'],
    ['writable root fs', (p) => { p.readOnly = false; }, 'container-read-only-rootfs'],
    ['port on all addresses', (p) => { p.ports = [{ internal: 18789, external: 18789 }]; }, 'container-ports-loopback-only'],
    ['port on a LAN address', (p) => { p.ports = [{ internal: 18789, external: 18789, ip: '192.168.1.10' }]; }, 'container-ports-loopback-only'],
    ['latest image', (p) => { p.image = 'clawjail/cell:latest'; }, 'image-pinned-reference'],
    ['unknown runtime', (p) => { p.runtime = 'kata-runtime'; }, 'container-runtime-allowed'],
  ])('%s', (_name, mutate, policy) => {
    expect(policiesHit(validateResources(withCell(mutate)))).toEqual([policy].flat().sort());
  });

  it.each<[string, (p: Record<string, unknown>) => void]>([
    ['on a network', (p) => { p.networkMode = 'bridge'; }],
    ['joined to a network', (p) => { p.networksAdvanced = [{ name: 'clawjail-cell' }]; }],
    ['with a port', (p) => { p.ports = [{ internal: 1, external: 2, ip: '127.0.0.1' }]; }],
    ['with another command', (p) => { p.command = ['--sentry', '--x']; }],
    ['in another image', (p) => { p.image = 'clawjail/cell:openclaw-2026.9.6'; }],
    ['with the workspace', (p) => { (p.mounts as unknown[]).push({ type: 'volume', source: 'clawjail-sandbox_data', target: '/workspace', readOnly: true }); }],
    ['with the socket writable', (p) => { (p.mounts as { readOnly: boolean }[])[0].readOnly = false; }],
    ['with the socket twice', (p) => { (p.mounts as unknown[]).push({ type: 'bind', source: '/run/docker.sock', target: '/run/b.sock', readOnly: true }); }],
    ['with a writable root', (p) => { p.readOnly = false; }],
    ['with its own entrypoint', (p) => { p.entrypoints = ['sh', '-c']; }],
    ['with another healthcheck', (p) => { p.healthcheck = { ...(p.healthcheck as object), tests: ['CMD', 'sh', '-c', 'x'] }; }],
    ['with NODE_OPTIONS', (p) => { const e = p.envs as { value: string[] }; e.value = [...e.value, 'NODE_OPTIONS=--import=data:text/javascript,1']; }],
    ['with NODE_OPTIONS, not as a secret', (p) => { p.envs = [...(p.envs as { value: string[] }).value, 'NODE_OPTIONS=--import=data:text/javascript,1']; }],
    ['as another user', (p) => { p.user = '1000:1000'; }],
  ])('the engine socket is refused to a sentry %s', (_name, mutate) => {
    const resources = structuredClone(run.resources);
    const sentry = resources.find((r) => r.name === 'warden-sentry-container');
    if (!sentry) throw new Error('no sentry container in the program');
    mutate(sentry.props);
    expect(policiesHit(validateResources(resources))).toContain('container-no-sensitive-host-mounts');
  });

  it.each<[string, string, (p: Record<string, unknown>) => void]>([
    ['the cell', 'cell-container', (p) => { (p.mounts as unknown[]).push({ type: 'volume', source: 'clawjail-warden-health', target: '/h', readOnly: true }); }],
    ['the gateway', 'gateway-container', (p) => { (p.mounts as unknown[]).push({ type: 'volume', source: 'clawjail-warden-health', target: '/h', readOnly: false }); }],
    ['the sentry, writable', 'warden-sentry-container', (p) => { (p.mounts as { source: string; readOnly: boolean }[]).find((m) => m.source === 'clawjail-warden-health')!.readOnly = false; }],
  ])("the warden's health report mounted in %s is refused", (_name, resource, mutate) => {
    const resources = structuredClone(run.resources);
    const r = resources.find((x) => x.name === resource);
    if (!r) throw new Error(`no ${resource} in the program`);
    mutate(r.props);
    expect(policiesHit(validateResources(resources))).toContain('container-no-sensitive-host-mounts');
  });

  it('the sentry as the program declares it holds the socket and passes', () => {
    const sentry = run.resources.find((r) => r.name === 'warden-sentry-container');
    expect(sentry?.props.mounts).toEqual(expect.arrayContaining([expect.objectContaining({ type: 'bind', source: '/var/run/docker.sock', readOnly: true })]));
    expect(sentry?.props.networkMode).toBe('none');
    expect(sentry?.props.groupAdds).toEqual(['998']);
  });

  it('a workspace under /srv/clawjail/ is a compliant bind', async () => {
    const other = await runProgram({ openclawToken: TOKEN, gatewayToken: GW_TOKEN, workspaceHostPath: '/srv/clawjail/ws' });
    expect(validateResources(other.resources)).toEqual([]);
  });

  it('a LAN address is allowed only when the policy config allows it', () => {
    const resources = withCell((p) => {
      p.ports = [{ internal: 8443, external: 8443, ip: '192.168.1.10' }];
    });
    expect(validateResources(resources, { 'container-ports-loopback-only': { allowedPublishAddresses: ['192.168.1.10'] } })).toEqual([]);
  });
});

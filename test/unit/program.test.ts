// The real program under Pulumi's mocks, judged by the real policy pack.
import { validateResources, type Violation } from '../../policies/rules';
import { runProgram, type ProgramRun, type RegisteredResource } from '../helpers/pulumiProgram';

const TOKEN = 'k'.repeat(48);
const CONTAINER = 'docker:index/container:Container';

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({ openclawToken: TOKEN });
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
        'docker:index/image:Image',
        'docker:index/network:Network',
        'docker:index/volume:Volume',
        CONTAINER,
        'command:local:Command',
        'clawjail:index:Cell',
      ]),
    );
  });

  it('passes the policy pack with zero violations', () => {
    expect(validateResources(run.resources)).toEqual([]);
  });

  it('keeps the operator token out of everything but the container env', () => {
    const cell = cellOf(run.resources);
    const others = run.resources.filter((r) => r !== cell);
    expect(JSON.stringify(others)).not.toContain(TOKEN);
  });

  it('creates the cell stopped and starts it only after the pids limit is set', () => {
    const cell = cellOf(run.resources);
    expect(cell.props.start).toBe(false);
    const pids = run.resources.find((r) => r.type === 'command:local:Command');
    expect(pids?.props.create).toMatch(/docker update --pids-limit 256 clawjail-cell[\s\S]*docker start clawjail-cell/);
  });

  it('exports what the operator needs', () => {
    expect(run.outputs).toMatchObject({
      cellContainer: 'clawjail-cell',
      cellImage: 'clawjail/cell:openclaw-2026.9.6',
      cellNetwork: 'clawjail-cell',
      workspaceLocation: 'clawjail-sandbox_data',
    });
  });

  it('fails a bad config at preview time, naming the key', async () => {
    await expect(runProgram({ openclawToken: TOKEN, cellPidsLimit: 'lots' })).rejects.toThrow(
      /clawjail:cellPidsLimit = "lots": must be a whole number/,
    );
  });
});

describe('each flipped setting fires its rule', () => {
  it.each<[string, (p: Record<string, unknown>) => void, string]>([
    ['capability drop removed', (p) => { p.capabilities = { drops: [], adds: [] }; }, 'container-drop-all-capabilities'],
    ['a capability added', (p) => { p.capabilities = { drops: ['ALL'], adds: ['NET_ADMIN'] }; }, 'container-drop-all-capabilities'],
    ['privileged', (p) => { p.privileged = true; }, 'container-not-privileged'],
    ['host network', (p) => { p.networkMode = 'host'; }, 'container-no-host-namespaces'],
    ['host pid', (p) => { p.pidMode = 'host'; }, 'container-no-host-namespaces'],
    ['host ipc', (p) => { p.ipcMode = 'host'; }, 'container-no-host-namespaces'],
    ['host userns', (p) => { p.usernsMode = 'host'; }, 'container-no-host-namespaces'],
    ['docker.sock bind', (p) => { (p.mounts as unknown[]).push({ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }); }, 'container-no-sensitive-host-mounts'],
    ['/ bind', (p) => { (p.mounts as unknown[]).push({ type: 'bind', source: '/', target: '/host' }); }, 'container-no-sensitive-host-mounts'],
    ['/etc bind', (p) => { p.volumes = [{ hostPath: '/etc/', containerPath: '/x' }]; }, 'container-no-sensitive-host-mounts'],
    ['a device', (p) => { p.devices = [{ hostPath: '/dev/kvm' }]; }, 'container-no-devices'],
    ['no memory limit', (p) => { delete p.memory; }, 'container-memory-limit'],
    ['swap beyond the limit', (p) => { p.memorySwap = -1; }, 'container-memory-limit'],
    ['no CPU limit', (p) => { delete p.cpus; }, 'container-cpu-limit'],
    ['no no-new-privileges', (p) => { p.securityOpts = (p.securityOpts as string[]).filter((o) => !o.startsWith('no-new-privileges')); }, 'container-security-opts'],
    ['seccomp unconfined', (p) => { p.securityOpts = ['no-new-privileges:true', 'seccomp=unconfined']; }, 'container-security-opts'],
    ['writable root fs', (p) => { p.readOnly = false; }, 'container-read-only-rootfs'],
    ['port on all addresses', (p) => { p.ports = [{ internal: 18789, external: 18789 }]; }, 'container-ports-loopback-only'],
    ['port on a LAN address', (p) => { p.ports = [{ internal: 18789, external: 18789, ip: '192.168.1.10' }]; }, 'container-ports-loopback-only'],
    ['latest image', (p) => { p.image = 'clawjail/cell:latest'; }, 'image-pinned-reference'],
    ['unknown runtime', (p) => { p.runtime = 'kata-runtime'; }, 'container-runtime-allowed'],
  ])('%s', (_name, mutate, policy) => {
    expect(policiesHit(validateResources(withCell(mutate)))).toEqual([policy]);
  });

  it('a LAN address is allowed only when the policy config allows it', () => {
    const resources = withCell((p) => {
      p.ports = [{ internal: 8443, external: 8443, ip: '192.168.1.10' }];
    });
    expect(validateResources(resources, { 'container-ports-loopback-only': { allowedPublishAddresses: ['192.168.1.10'] } })).toEqual([]);
  });
});

// The Moat in the real program under Pulumi's mocks: what `pulumi up` would register.
import { SECRET_KEYS } from '../../infra/config';
import { runProgram, type ProgramRun } from '../helpers/pulumiProgram';

const TOKEN = 'k'.repeat(48);
const SECRETS = Object.fromEntries(SECRET_KEYS.map((k) => [k, TOKEN]));
const DYNAMIC = 'pulumi-nodejs:dynamic:Resource';

let run: ProgramRun;
beforeAll(async () => {
  run = await runProgram({ ...SECRETS, dnsResolvers: '["192.168.1.1"]', egressExceptions: '["192.168.1.50:11434/tcp"]' });
}, 120_000);

describe('the Moat component in the program', () => {
  it('registers the moat: component, firewall rules (dynamic resource) and the cell network', () => {
    const types = run.resources.map((r) => r.type);
    expect(types).toEqual(expect.arrayContaining(['clawjail:index:Moat', DYNAMIC, 'docker:index/network:Network']));
    expect(run.resources.find((r) => r.type === 'clawjail:index:Moat')?.name).toBe('moat');
  });

  it('gives the rules resource the stack settings and the Docker host to apply them on', () => {
    const rules = run.resources.find((r) => r.type === DYNAMIC && r.name === 'moat-rules');
    expect(rules?.props).toMatchObject({
      target: { dockerHost: 'unix:///var/run/docker.sock', sudo: false },
      namePrefix: 'clawjail',
      bridgeName: 'clawjail0',
      subnet: '172.29.77.0/24',
      dnsResolvers: ['192.168.1.1'],
      exceptions: [{ ip: '192.168.1.50', port: 11434, proto: 'tcp' }],
      internet: true,
      bootRestore: 'systemd',
    });
    expect(typeof rules?.props.__provider).toBe('string');
    expect(rules?.props.__provider as string).not.toContain(TOKEN);
  });

  it('registers the rules before the network, and the network before the cell container', () => {
    const at = (pred: (t: string, n: string) => boolean) => run.resources.findIndex((r) => pred(r.type, r.name));
    const rules = at((t, n) => t === DYNAMIC && n === 'moat-rules');
    const network = at((t, n) => t === 'docker:index/network:Network' && n === 'moat-network');
    const cell = at((t, n) => t === 'docker:index/container:Container' && n === 'cell-container');
    expect(rules).toBeGreaterThanOrEqual(0);
    expect(rules).toBeLessThan(network);
    expect(network).toBeLessThan(cell);
  });

  it('builds the network from the spec: the bridge the rules hook, no ICC, no IPv6', () => {
    const net = run.resources.find((r) => r.type === 'docker:index/network:Network' && r.name === 'moat-network');
    expect(net?.props).toMatchObject({
      name: 'clawjail-cell',
      ipv6: false,
      options: { 'com.docker.network.bridge.name': 'clawjail0', 'com.docker.network.bridge.enable_icc': 'false' },
    });
  });

  it('exports the network and the chain names', () => {
    expect(run.outputs).toMatchObject({ cellNetwork: 'clawjail-cell', moatChains: { forward: 'clawjail-FWD', input: 'clawjail-IN' } });
  });

  it('applies the rules on the remote Docker host of an ssh:// stack', async () => {
    const remote = await runProgram({ ...SECRETS, dockerHost: 'ssh://deploy@jailhost', moatSudo: 'true' });
    const rules = remote.resources.find((r) => r.type === DYNAMIC && r.name === 'moat-rules');
    expect(rules?.props.target).toEqual({ dockerHost: 'ssh://deploy@jailhost', sudo: true });
    expect(rules?.props.dnsResolvers).toBe('auto');
  }, 120_000);
});

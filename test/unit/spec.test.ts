import { hostInCidr, parseConfig } from '../../infra/config';
import { buildJailSpec, gatewayLoginUrl, gatewayUrl, parseContainerRunState, pidsLimitScript, shellQuote } from '../../infra/model';
import { FOLLOW_OWNER_SCRIPT } from '../../infra/model/cell';

const TOKEN = 't'.repeat(40);
const specOf = (raw: Record<string, string> = {}) => buildJailSpec(parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw }).config);
const cellOf = (raw: Record<string, string> = {}) => {
  const cell = specOf(raw).containers.find((c) => c.role === 'cell');
  if (!cell) throw new Error('no cell');
  return cell;
};

describe('jail spec: the cell', () => {
  const cell = cellOf();

  it('runs OpenClaw bound to loopback with token auth, as uid 1000', () => {
    expect(cell.user).toBe('1000:1000');
    expect(cell.command.join(' ')).toMatch(/ openclaw gateway .*--bind loopback --port 18789 --auth token$/);
    const internet = cellOf({ cellEgress: 'internet' }).command;
    expect(internet.slice(0, 2)).toEqual(['sh', '-c']);
    expect(internet.slice(3).join(' ')).toMatch(/^cell openclaw gateway .*--bind loopback --port 18789 --auth token$/);
    // Every mode follows the namespace owner, and only the allowlist mode writes OpenClaw's config.
    for (const c of [cell.command, internet, cellOf({ cellEgress: 'none', clamdSignatures: 'custom' }).command]) expect(c[2]).toContain(`${FOLLOW_OWNER_SCRIPT} exec "$@"`);
    expect(internet[2]).not.toContain('CLAWJAIL_OPENCLAW_CONFIG');
    expect(cell.command[2]).toContain('CLAWJAIL_OPENCLAW_CONFIG');
    expect(cell.secretEnv).toEqual({ OPENCLAW_GATEWAY_TOKEN: 'openclawToken' });
    // The token is a secret: it must not sit among the plain environment.
    expect(JSON.stringify(cell.env)).not.toContain(TOKEN);
  });

  it('drops every capability and adds none, with no-new-privileges and our seccomp profile', () => {
    expect(cell.capDrop).toEqual(['ALL']);
    expect(cell.capAdd).toEqual([]);
    expect(cell.securityOpts).toContain('no-new-privileges:true');
    const profile = JSON.parse(cell.seccompProfile ?? 'null') as { defaultAction: string };
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
  });

  it('has a read-only root, scratch space on noexec tmpfs only, and the workspace as its only persistent mount', () => {
    expect(cell.readOnlyRootfs).toBe(true);
    for (const opts of Object.values(cell.tmpfs)) expect(opts).toMatch(/^rw,noexec,nosuid,nodev,size=512m,/);
    // OpenClaw's HOME must belong to the agent, or it cannot create its state directory.
    expect(cell.tmpfs['/home/node']).toMatch(/uid=1000,gid=1000,mode=0700$/);
    expect(cell.mounts).toEqual([
      { type: 'volume', source: 'clawjail-sandbox_data', target: '/workspace', readOnly: false },
    ]);
  });

  it('limits memory without swap, CPU, pids and logs, and runs an init', () => {
    expect(cell).toMatchObject({ memoryMb: 2048, memorySwapMb: 2048, cpus: 1, pidsLimit: 256, init: true });
    expect(cell.logOpts).toEqual({ 'max-size': '10m', 'max-file': '3' });
  });

  it('publishes no port and lives in the gateway’s network namespace, nowhere else', () => {
    expect(cell.ports).toEqual([]);
    expect(cell.networks).toEqual([]);
    expect(cell.networkMode).toBe('container:clawjail-gateway');
    expect(cell.ipcMode).toBe('private');
  });

  it('checks health through OpenClaw’s own endpoint on loopback', () => {
    expect(cell.healthcheck.test[0]).toBe('CMD');
    expect(cell.healthcheck.test.join(' ')).toContain('http://127.0.0.1:18789/healthz');
  });

  it('with no egress, has an internal network and keeps DNS on its own loopback', () => {
    const spec = specOf({ cellEgress: 'none', clamdSignatures: 'custom' });
    expect(spec.networks[0].internal).toBe(true);
    expect(spec.containers.find((c) => c.role === 'gateway')?.dns).toEqual(['127.0.0.1']);
    expect(cellOf().dns).toEqual([]);
    expect(specOf().networks[0].internal).toBe(false);
  });

  it('follows the config', () => {
    const c = cellOf({ cellMemoryMb: '4096', cellPidsLimit: '512', cellRuntime: 'runsc', openclawPort: '19000', workspaceHostPath: '/srv/clawjail/ws' });
    expect(c).toMatchObject({ memoryMb: 4096, memorySwapMb: 4096, pidsLimit: 512, runtime: 'runsc' });
    expect(c.command).toContain('19000');
    expect(c.mounts[0]).toEqual({ type: 'bind', source: '/srv/clawjail/ws', target: '/workspace', readOnly: false });
    expect(specOf({ workspaceHostPath: '/srv/clawjail/ws' }).volumes.map((v) => v.name)).toEqual(['clawjail-gateway-state', 'clawjail-quarantine', 'clawjail-clamd-db', 'clawjail-warden-health', 'clawjail-egress-state']);
  });

  it('builds the image from the configured base with a pinned tag', () => {
    expect(cell.image.name).toBe('clawjail/cell:openclaw-2026.9.6');
    expect(cell.image.buildArgs).toEqual({ BASE_IMAGE: 'node:24-bookworm-slim', OPENCLAW_VERSION: '2026.9.6' });
  });
});

describe('jail spec: the gateway', () => {
  const spec = specOf();
  const gateway = spec.containers.find((c) => c.role === 'gateway');
  if (!gateway) throw new Error('no gateway');

  it('starts before the cell, owns the network namespace and publishes only on loopback', () => {
    expect(spec.containers.map((c) => c.role)).toEqual(['freshclam', 'clamd', 'warden', 'sentry', 'egress', 'gateway', 'cell']);
    expect(gateway.networks).toEqual(['clawjail-cell', 'clawjail-gate']);
    expect(gateway.networkMode).toBeNull();
    expect(gateway.ports).toEqual([{ internal: 8443, external: 8443, ip: '127.0.0.1' }, { internal: 8444, external: 8444, ip: '127.0.0.1' }]);
    expect(gateway.env.GATEWAY_UPSTREAM).toBe('ws://127.0.0.1:18789');
  });

  it('gets its tokens as files in its own volume, never as environment', () => {
    expect(gateway.secretEnv).toEqual({});
    expect(gateway.secretFiles).toEqual({
      '/var/lib/clawjail-gateway/operator.token': 'gatewayToken',
      '/var/lib/clawjail-gateway/openclaw.token': 'openclawToken',
    });
    expect(gateway.mounts).toEqual([{ type: 'volume', source: 'clawjail-gateway-state', target: '/var/lib/clawjail-gateway', readOnly: false }]);
    for (const file of Object.keys(gateway.secretFiles)) expect(file.startsWith(`${gateway.mounts[0].target}/`)).toBe(true);
  });

  it('is hardened like the cell, as a different user', () => {
    expect(gateway).toMatchObject({ capDrop: ['ALL'], capAdd: [], readOnlyRootfs: true, init: true, user: '10443:10443' });
    expect(gateway.securityOpts).toContain('no-new-privileges:true');
    expect(gateway.memorySwapMb).toBe(gateway.memoryMb);
  });

  it('is exposed beyond loopback only when that address is explicitly allowed', () => {
    expect(() => specOf({ gatewayListenAddress: '192.168.1.10' })).toThrow(/gatewayListenAddress = "192.168.1.10": not loopback.*allowedPublishAddresses/);
    const g = specOf({ gatewayListenAddress: '192.168.1.10', allowedPublishAddresses: '["192.168.1.10"]' }).containers.find((c) => c.role === 'gateway');
    if (!g) throw new Error('no gateway');
    expect(g.ports.map((p) => p.ip)).toEqual(['192.168.1.10', '192.168.1.10']);
  });

  it('serves its login page on a port of its own, which may not be the dashboard\'s', () => {
    const g = specOf({ gatewayPort: '9443', gatewayLoginPort: '9000' }).containers.find((c) => c.role === 'gateway');
    expect(g?.ports).toEqual([
      { internal: 8443, external: 9443, ip: '127.0.0.1' },
      { internal: 8444, external: 9000, ip: '127.0.0.1' },
    ]);
    // Published under other numbers: each origin links to the other by the host's ports.
    expect(g?.env).toMatchObject({ GATEWAY_LOGIN_LISTEN: '0.0.0.0:8444', GATEWAY_PUBLIC_PORT: '9443', GATEWAY_LOGIN_PUBLIC_PORT: '9000' });
    expect(() => specOf({ gatewayPort: '9443', gatewayLoginPort: '9443' })).toThrow(/gatewayLoginPort = 9443: must differ from gatewayPort/);
  });
});

describe('jail spec: the gateway with cellEgress none', () => {
  // An internal network has no route out, so Docker publishes no port on it: the operator
  // reaches the gateway at a fixed address on the bridge, from this host only.
  const raw = { cellEgress: 'none', clamdSignatures: 'custom', subnet: '172.29.90.0/24' };
  const gateway = specOf(raw).containers.find((c) => c.role === 'gateway');
  if (!gateway) throw new Error('no gateway');

  it('has a fixed bridge address, publishes nothing, and the URL says where it is', () => {
    expect(gateway.networkAddresses).toEqual({ 'clawjail-cell': '172.29.90.2' });
    expect(gateway.ports).toEqual([]);
    expect(gateway.env.GATEWAY_CERT_NAMES).toBe('172.29.90.2');
    const { config } = parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw });
    expect(gatewayUrl(config)).toBe('wss://172.29.90.2:8443');
    expect(gatewayLoginUrl(config)).toBe('https://172.29.90.2:8444/__clawjail/login');
    expect(gateway.env.GATEWAY_LOGIN_LISTEN).toBe('0.0.0.0:8444');
    expect(gateway.env.GATEWAY_PUBLIC_PORT).toBeUndefined();
  });

  it('with the internet, Docker picks the address and the port is published', () => {
    const g = specOf({ cellEgress: 'internet' }).containers.find((c) => c.role === 'gateway');
    expect(g?.networkAddresses).toBeUndefined();
    expect(g?.ports).toHaveLength(2);
    const { config } = parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN });
    expect(gatewayUrl(config)).toBe('wss://127.0.0.1:8443');
    expect(gatewayLoginUrl(config)).toBe('https://127.0.0.1:8444/__clawjail/login');
  });

  it('hostInCidr counts from the network address and stays inside it', () => {
    expect(hostInCidr('172.29.90.0/24', 2)).toBe('172.29.90.2');
    expect(hostInCidr('10.0.0.8/29', 1)).toBe('10.0.0.9');
    expect(() => hostInCidr('10.0.0.8/30', 3)).toThrow(/no host number 3/);
    expect(() => hostInCidr('10.0.0.0/24', 0)).toThrow(/no host number 0/);
  });
});

describe('jail spec: the network', () => {
  it('is a dedicated bridge with no inter-container traffic and no IPv6', () => {
    const [net] = specOf().networks;
    expect(net).toMatchObject({ name: 'clawjail-cell', bridgeName: 'clawjail0', subnet: '172.29.77.0/24', ipv6: false, interContainer: false });
    expect(net.options['com.docker.network.bridge.enable_icc']).toBe('false');
    expect(net.options['com.docker.network.bridge.name']).toBe('clawjail0');
  });
});

describe('pids limit script', () => {
  it('sets the limit, reads it back, and only then starts the container', () => {
    const s = pidsLimitScript('clawjail-cell', 256);
    const update = s.indexOf('docker update --pids-limit 256 clawjail-cell');
    const verify = s.indexOf("docker inspect --format '{{.HostConfig.PidsLimit}}' clawjail-cell");
    const start = s.indexOf('docker start clawjail-cell');
    expect(update).toBeGreaterThanOrEqual(0);
    expect(verify).toBeGreaterThan(update);
    expect(start).toBeGreaterThan(verify);
    expect(s.startsWith('set -eu')).toBe(true);
  });

  it('reads a container back: running, stopped, missing; anything else is an error', () => {
    const id = 'a'.repeat(64);
    expect(parseContainerRunState(`${id} true 256\n`)).toEqual({ exists: true, id, running: true, pidsLimit: 256 });
    expect(parseContainerRunState(`${id} false 0`)).toEqual({ exists: true, id, running: false, pidsLimit: 0 });
    expect(parseContainerRunState(`${id} false <nil>`)).toMatchObject({ pidsLimit: 0 });
    expect(parseContainerRunState('missing\n')).toEqual({ exists: false, id: '', running: false, pidsLimit: 0 });
    expect(() => parseContainerRunState('Error: permission denied')).toThrow(/unexpected docker inspect output/);
  });

  it('refuses a nonsense limit and quotes names', () => {
    expect(() => pidsLimitScript('c', 0)).toThrow(/positive integer/);
    expect(shellQuote("a b'c")).toBe(`'a b'\\''c'`);
  });
});

describe('jail spec: every tmpfs is bounded', () => {
  it.each(['allowlist', 'internet', 'none'])('in size and in inodes (cellEgress %s), and mounts nothing to run', (egress) => {
    const spec = specOf({ cellEgress: egress, ...(egress === 'none' ? { clamdSignatures: 'custom' } : {}) });
    const mounts = spec.containers.flatMap((c) => Object.entries(c.tmpfs).map(([target, opts]) => ({ c: c.name, target, opts: opts.split(',') })));
    expect(mounts.length).toBeGreaterThanOrEqual(spec.containers.length);
    for (const m of mounts) {
      const size = Number(/^size=(\d+)m$/.exec(m.opts.find((o) => o.startsWith('size=')) ?? '')?.[1]);
      const inodes = Number(/^nr_inodes=(\d+)$/.exec(m.opts.find((o) => o.startsWith('nr_inodes=')) ?? '')?.[1]);
      expect({ ...m, size: size > 0, inodes }).toEqual({ ...m, size: true, inodes: size * 256 });
      for (const flag of ['noexec', 'nosuid', 'nodev']) expect(m.opts).toContain(flag);
    }
  });
});

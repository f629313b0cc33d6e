// The warden's three containers and its network, as the spec declares them.
import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../infra/config';
import { buildJailSpec, type ContainerSpec, type Role } from '../../infra/model';

const TOKEN = 't'.repeat(40);
const specOf = (raw: Record<string, string> = {}) => buildJailSpec(parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw }).config);
const roleOf = (spec: ReturnType<typeof specOf>, role: Role): ContainerSpec => {
  const c = spec.containers.find((x) => x.role === role);
  if (!c) throw new Error(`no ${role}`);
  return c;
};

describe('jail spec: the warden', () => {
  const spec = specOf();
  const warden = roleOf(spec, 'warden');
  const clamd = roleOf(spec, 'clamd');
  const freshclam = roleOf(spec, 'freshclam');
  const cell = roleOf(spec, 'cell');

  it('starts the scanner and the warden before the prisoner', () => {
    const order = spec.containers.map((c) => c.role);
    expect(order.indexOf('clamd')).toBeLessThan(order.indexOf('warden'));
    expect(order.indexOf('warden')).toBeLessThan(order.indexOf('cell'));
  });

  it('mounts the jail in the warden only, and the workspace in the warden and the cell only', () => {
    const mountsOf = (source: string) => spec.containers.filter((c) => c.mounts.some((m) => m.source === source)).map((c) => c.role);
    expect(mountsOf('clawjail-quarantine')).toEqual(['warden']);
    expect(mountsOf('clawjail-sandbox_data')).toEqual(['warden', 'cell']);
    expect(warden.mounts).toEqual([
      { type: 'volume', source: 'clawjail-sandbox_data', target: '/workspace', readOnly: false },
      { type: 'volume', source: 'clawjail-quarantine', target: '/quarantine', readOnly: false },
      { type: 'volume', source: 'clawjail-warden-health', target: '/run/warden-health', readOnly: false },
    ]);
    expect(cell.mounts.map((m) => m.target)).toEqual(['/workspace']);
  });

  it('binds the same host directory as the cell when the workspace is one', () => {
    const w = roleOf(specOf({ workspaceHostPath: '/srv/clawjail/ws' }), 'warden');
    expect(w.mounts[0]).toEqual({ type: 'bind', source: '/srv/clawjail/ws', target: '/workspace', readOnly: false });
  });

  it('keeps clamd on the internal scan network with the signatures read-only, and nothing of the prisoner', () => {
    const scan = spec.networks.find((n) => n.name === 'clawjail-scan');
    expect(scan).toMatchObject({ internal: true, bridgeName: 'clawjail1', subnet: '172.29.78.0/24', ipv6: false });
    // No host address on the scan bridge: nothing on it can reach the host.
    expect(scan?.options['com.docker.network.bridge.inhibit_ipv4']).toBe('true');
    expect(clamd.networks).toEqual(['clawjail-scan']);
    expect(warden.networks).toEqual(['clawjail-scan']);
    expect(clamd.ports).toEqual([]);
    expect(warden.ports).toEqual([]);
    expect(clamd.mounts).toEqual([{ type: 'volume', source: 'clawjail-clamd-db', target: '/var/lib/clamav', readOnly: true }]);
    expect(cell.networks).not.toContain('clawjail-scan');
    // Nothing to resolve outside Docker's own resolver.
    expect(clamd.dns).toEqual(['127.0.0.1']);
    expect(warden.dns).toEqual(['127.0.0.1']);
    expect(warden.env.WARDEN_CLAMD).toBe('tcp://clawjail-clamd:3310');
  });

  it('lets only freshclam out, through the moated cell bridge, with the signature volume writable', () => {
    expect(freshclam.networks).toEqual(['clawjail-cell']);
    expect(freshclam.mounts).toEqual([{ type: 'volume', source: 'clawjail-clamd-db', target: '/var/lib/clamav', readOnly: false }]);
    expect(freshclam.command).toEqual(['freshclam']);
    expect(freshclam.env.CLAMD_DATABASE_MIRROR).toBe('database.clamav.net');
    expect(freshclam.image.name).toBe(clamd.image.name);
    expect(spec.images.filter((i) => i.name === clamd.image.name)).toHaveLength(1);
  });

  it('has no freshclam with custom signatures, and then clamd does not wait for a download', () => {
    const custom = specOf({ clamdSignatures: 'custom' });
    expect(custom.containers.map((c) => c.role)).not.toContain('freshclam');
    expect(roleOf(custom, 'clamd').env.CLAMD_DB_WAIT_S).toBe('0');
    expect(clamd.env.CLAMD_DB_WAIT_S).not.toBe('0');
  });

  it('hardens all three: numeric non-root users, no capabilities, seccomp, read-only roots, limits', () => {
    expect(warden.user).toBe('1000:1000');
    expect(clamd.user).toBe('10310:10310');
    expect(freshclam.user).toBe('10310:10310');
    for (const c of [warden, clamd, freshclam]) {
      expect(c).toMatchObject({ capDrop: ['ALL'], capAdd: [], readOnlyRootfs: true, init: true, runtime: 'runc', ipcMode: 'private' });
      expect(c.securityOpts).toContain('no-new-privileges:true');
      expect(c.seccompProfile).toBeTruthy();
      expect(c.memorySwapMb).toBe(c.memoryMb);
      expect(c.pidsLimit).toBeGreaterThan(0);
      expect(c.restart).toBe('unless-stopped');
      expect(Object.values(c.tmpfs).every((o) => o.includes('noexec'))).toBe(true);
    }
  });

  it('follows the config: unscannable policy, size limit, clamd threads and memory, spool on tmpfs', () => {
    const s = specOf({ wardenUnscannable: 'allow', wardenMaxFileSizeMb: '20', clamdThreads: '4', clamdMemoryMb: '1024', clamdSignatures: 'custom' });
    const w = roleOf(s, 'warden');
    const c = roleOf(s, 'clamd');
    expect(w.env).toMatchObject({ WARDEN_UNSCANNABLE: 'allow', WARDEN_MAX_FILE_SIZE: '20M', WARDEN_CONCURRENCY: 'auto' });
    expect(c.env).toMatchObject({ CLAMD_MAX_THREADS: '4', CLAMD_STREAM_MAX: '20M', CLAMD_MAX_FILE_SIZE: '20M' });
    expect(c.memoryMb).toBe(1024);
    expect(c.tmpfs['/tmp']).toContain(`size=${4 * 20 + 64}m`);
  });
});

describe('config: the warden', () => {
  const parse = (raw: Record<string, string>) => () => parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw });

  it('refuses freshclam when the cell bridge has no way out', () => {
    expect(parse({ cellEgress: 'none' })).toThrow(/clamdSignatures = "freshclam".*cellEgress = "none"/s);
    expect(parse({ cellEgress: 'none', clamdSignatures: 'custom' })).not.toThrow();
  });

  it('refuses a scan network that collides with the cell network', () => {
    expect(parse({ scanSubnet: '172.29.77.128/25' })).toThrow(/scanSubnet = "172.29.77.128\/25": overlaps clawjail:subnet/);
    expect(parse({ scanBridgeName: 'clawjail0' })).toThrow(/scanBridgeName = "clawjail0": must differ/);
    expect(parse({ scanSubnet: '10.9.0.0/16' })).not.toThrow();
    expect(parse({ scanSubnet: '8.8.8.0/24' })).toThrow(/scanSubnet = "8.8.8.0\/24": must be a private range/);
    expect(parse({ scanSubnet: '10.9.0.0/30' })).toThrow(/of at least \/29/);
    expect(parse({ scanSubnet: '192.168.1.0/24', egressExceptions: '["192.168.1.50:11434"]' })).toThrow(/overlaps clawjail:egressExceptions \(192.168.1.50\/32\)/);
    expect(parse({ scanSubnet: '192.168.1.0/24', moatExtraBlocked: '["192.168.0.0/16"]' })).toThrow(/overlaps clawjail:moatExtraBlocked/);
    expect(parse({ scanSubnet: '192.168.1.0/24', dnsResolvers: '["192.168.1.1"]' })).toThrow(/overlaps clawjail:dnsResolvers/);
  });

  it('refuses bad values, naming the key', () => {
    expect(parse({ clamdSignatures: 'latest' })).toThrow(/clamdSignatures = "latest": must be one of freshclam, custom/);
    expect(parse({ wardenUnscannable: 'ignore' })).toThrow(/wardenUnscannable = "ignore": must be one of quarantine, allow/);
    expect(parse({ clamdDatabaseMirror: 'http://x' })).toThrow(/clamdDatabaseMirror/);
    expect(parse({ clamdThreads: '0' })).toThrow(/clamdThreads/);
  });

  it('refuses a clamd too small for its own spool', () => {
    expect(parse({ clamdThreads: '8', wardenMaxFileSizeMb: '500', clamdMemoryMb: '3072' })).toThrow(/clamdMemoryMb = 3072: must exceed/);
  });

  it('with freshclam, refuses a clamd too small to reload the official database while scanning', () => {
    expect(parse({ clamdMemoryMb: '2048' })).toThrow(/clamdMemoryMb = 2048: with clamdSignatures freshclam it must hold a concurrent reload/);
    expect(parse({ clamdMemoryMb: '2504' })).not.toThrow(); // 2304 + the default 2 x 100 MiB spool
    expect(parse({ clamdMemoryMb: '2048', clamdSignatures: 'custom' })).not.toThrow();
  });
});

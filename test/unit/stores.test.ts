// The capped stores as data and scripts (infra/model/stores.ts): which stores a config asks for,
// and the read-back the drift check judges. The scripts themselves run for real in
// test/unit/stores.int.test.ts and under every end-to-end jail.
import { parseConfig } from '../../infra/config';
import { buildJailSpec } from '../../infra/model';
import { cappedStores, parseReadOutput, renderApplyScript, storesInSync, STORE_ROOT } from '../../infra/model/stores';

const TOKEN = 't'.repeat(40);
const configOf = (raw: Record<string, string> = {}) => parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, ...raw }).config;

describe('capped stores', () => {
  it('caps the workspace volume and the quarantine by default, with images outside every tree a workspace may bind', () => {
    const stores = cappedStores(configOf());
    expect(stores).toEqual([
      { name: 'workspace', volume: 'clawjail-sandbox_data', hostPath: null, image: `${STORE_ROOT}/clawjail/workspace.img`, sizeMb: 10240, inodes: 10240 * 64, owner: '1000:1000', mode: '0755' },
      { name: 'quarantine', volume: 'clawjail-quarantine', hostPath: null, image: `${STORE_ROOT}/clawjail/quarantine.img`, sizeMb: 4096, inodes: 4096 * 64, owner: '1000:1000', mode: '0700' },
    ]);
    for (const s of stores) expect(s.image.startsWith('/var/lib/clawjail/') || s.image.startsWith('/srv/clawjail/')).toBe(false);
    expect(buildJailSpec(configOf()).stores).toEqual(stores);
  });

  it('caps a workspaceHostPath in place, takes the sizes and inodes asked for, and none with 0', () => {
    const [ws] = cappedStores(configOf({ workspaceHostPath: '/srv/clawjail/ws', workspaceSizeMb: '512', workspaceInodes: '4096' }));
    expect(ws).toMatchObject({ volume: null, hostPath: '/srv/clawjail/ws', sizeMb: 512, inodes: 4096 });
    expect(cappedStores(configOf({ workspaceSizeMb: '0', quarantineSizeMb: '0' }))).toEqual([]);
    expect(cappedStores(configOf({ workspaceSizeMb: '0' })).map((s) => s.name)).toEqual(['quarantine']);
  });

  it('refuses sizes and inode counts ext4 cannot hold, naming the key', () => {
    expect(() => configOf({ workspaceSizeMb: '8' })).toThrow(/workspaceSizeMb = "8": must be 0 or a whole number from 32/);
    expect(() => configOf({ quarantineSizeMb: 'lots' })).toThrow(/quarantineSizeMb/);
    expect(() => configOf({ workspaceSizeMb: '64', workspaceInodes: '100000' })).toThrow(/workspaceInodes = "100000": must be "auto" or a whole number from 1024 to 16384/);
    expect(() => configOf({ workspaceInodes: 'many' })).toThrow(/workspaceInodes/);
  });

  it('reads back capped, uncapped and foreign stores, and calls only the declared ones in sync', () => {
    const stores = cappedStores(configOf());
    const live = parseReadOutput(
      `workspace capped ${STORE_ROOT}/clawjail/workspace.img 10240 655360\nquarantine capped ${STORE_ROOT}/clawjail/quarantine.img 4096 262144\n`,
    );
    expect(storesInSync(stores, live)).toBe(true);
    // mkfs rounds the inodes up to whole block groups: more is in sync, fewer is not
    expect(storesInSync(stores, { ...live, workspace: { state: 'capped', image: stores[0].image, sizeMb: 10240, inodes: 655361 } })).toBe(true);
    expect(storesInSync(stores, { ...live, workspace: { state: 'capped', image: stores[0].image, sizeMb: 10240, inodes: 1000 } })).toBe(false);
    expect(storesInSync(stores, parseReadOutput('workspace uncapped\nquarantine uncapped\n'))).toBe(false);
    expect(storesInSync(stores, { ...live, quarantine: parseReadOutput('quarantine foreign /dev/sdb1').quarantine })).toBe(false);
    expect(() => parseReadOutput('workspace maybe')).toThrow(/unexpected line/);
  });

  it("renders one quoted call per store and talks to the stack's own engine", () => {
    const script = renderApplyScript('unix:///run/other.sock', 'clawjail', cappedStores(configOf()));
    expect(script).toContain('export DOCKER_HOST=unix:///run/other.sock');
    expect(script).toContain(`cap workspace clawjail-sandbox_data '' ${STORE_ROOT}/clawjail/workspace.img 10240 655360 1000:1000 0755`);
    expect(renderApplyScript('ssh://root@h', 'clawjail', [])).not.toContain('DOCKER_HOST');
  });
});

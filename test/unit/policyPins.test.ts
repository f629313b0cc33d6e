// The policy pack is its own package (the engine loads it with its own node_modules), so it keeps
// its own copies of what it judges by. This test pins each copy to the stack's original: a label,
// a root or a name changed on one side only would let the pack judge a jail that is not there.
import * as policy from '../../policies/rules';
import { parseConfig, WORKSPACE_ROOTS } from '../../infra/config';
import { buildJailSpec, jailNames, ROLE_LABEL, STACK_LABEL } from '../../infra/model';
import * as sentryModel from '../../infra/model/sentry';
import * as mounts from '../../policies/checks/mounts';
import { WORKSPACE_DIR } from '../../infra/model/cell';

const TOKEN = 'x'.repeat(40);

describe("the policy pack's copies of the stack's names", () => {
  const { config } = parseConfig({ openclawToken: TOKEN, gatewayToken: TOKEN, namePrefix: 'pinned' });
  const spec = buildJailSpec(config);
  const cell = spec.containers.find((c) => c.role === 'cell')!;

  it('labels: the role and stack labels every container carries', () => {
    expect(policy.ROLE_LABEL).toBe(ROLE_LABEL);
    expect(policy.STACK_LABEL).toBe(STACK_LABEL);
    expect(cell.labels[policy.ROLE_LABEL]).toBe(policy.CELL_ROLE);
    for (const c of spec.containers) expect(c.labels[policy.STACK_LABEL]).toBe('pinned');
  });

  it("workspace: the cell's mount point, its volume's name, the roots a bind may come from", () => {
    expect(policy.CELL_WORKSPACE_TARGET).toBe(WORKSPACE_DIR);
    expect(cell.mounts.some((m) => m.target === policy.CELL_WORKSPACE_TARGET)).toBe(true);
    expect(jailNames(config).workspaceVolume).toBe(`pinned${policy.WORKSPACE_VOLUME_SUFFIX}`);
    expect([...policy.CELL_BIND_ROOTS]).toEqual([...WORKSPACE_ROOTS]);
  });

  it("the sentry: the one shape that may hold the engine's socket, and the health volume it reads", () => {
    const sentry = spec.containers.find((c) => c.role === 'sentry')!;
    expect([...mounts.SENTRY_COMMAND]).toEqual(sentry.command);
    expect([...mounts.SENTRY_HEALTHCHECK]).toEqual(sentry.healthcheck.test);
    expect([...mounts.SENTRY_HEALTHCHECK]).toEqual([...sentryModel.SENTRY_HEALTHCHECK]);
    expect(mounts.SENTRY_USER).toBe(sentry.user);
    expect(jailNames(config).wardenHealthVolume).toBe(`pinned${mounts.WARDEN_HEALTH_VOLUME_SUFFIX}`);
    expect(Object.keys(sentry.env).every((k) => k.startsWith('SENTRY_'))).toBe(true);
  });
});

// Where `clawjail quarantine --stack` looks: pure part.
import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../infra/config';
import { stackJailVolumes, StackJailError } from '../../cli/stackJail';

const configOf = (raw: Record<string, string> = {}) => parseConfig(raw, { requireSecrets: false }).config;

describe('the stack\'s jail for the quarantine CLI', () => {
  it('names the jail and workspace volumes of a local stack', () => {
    expect(stackJailVolumes('dev', configOf({ namePrefix: 'myjail' }))).toEqual({
      dockerHost: 'unix:///var/run/docker.sock',
      jail: 'myjail-jail',
      workspace: 'myjail-sandbox_data',
    });
  });

  it('has no workspace volume when the workspace is a host directory', () => {
    expect(stackJailVolumes('dev', configOf({ workspaceHostPath: '/srv/clawjail/ws' })).workspace).toBeNull();
  });

  it('refuses a remote stack, saying where the jail is', () => {
    expect(() => stackJailVolumes('prod', configOf({ dockerHost: 'ssh://ops@jailhost' }))).toThrow(StackJailError);
    expect(() => stackJailVolumes('prod', configOf({ dockerHost: 'ssh://ops@jailhost' }))).toThrow(
      /jail of stack prod is on ssh:\/\/ops@jailhost: run clawjail quarantine on that host/,
    );
  });
});

// Where `clawjail quarantine --stack` looks: pure part.
import { describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../infra/config';
import { stackQuarantineVolumes, StackQuarantineError } from '../../cli/stackQuarantine';

const configOf = (raw: Record<string, string> = {}) => parseConfig(raw, { requireSecrets: false }).config;

describe('the stack\'s quarantine store for the quarantine CLI', () => {
  it('names the quarantine and workspace volumes of a local stack', () => {
    expect(stackQuarantineVolumes('dev', configOf({ namePrefix: 'myjail' }))).toEqual({
      dockerHost: 'unix:///var/run/docker.sock',
      store: 'myjail-quarantine',
      workspace: 'myjail-sandbox_data',
    });
  });

  it('has no workspace volume when the workspace is a host directory', () => {
    expect(stackQuarantineVolumes('dev', configOf({ workspaceHostPath: '/srv/clawjail/ws' })).workspace).toBeNull();
  });

  it('refuses a remote stack, saying where the quarantine is', () => {
    expect(() => stackQuarantineVolumes('prod', configOf({ dockerHost: 'ssh://ops@jailhost' }))).toThrow(StackQuarantineError);
    expect(() => stackQuarantineVolumes('prod', configOf({ dockerHost: 'ssh://ops@jailhost' }))).toThrow(
      /quarantine of stack prod is on ssh:\/\/ops@jailhost: run clawjail quarantine on that host/,
    );
  });
});

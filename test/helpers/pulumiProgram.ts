// Runs the real program (infra/index.ts) under Pulumi's own mocks and records every resource it
// registers, with its inputs resolved, so the policy pack can judge them as the engine would.
import { jest } from '@jest/globals';
import * as pulumi from '@pulumi/pulumi';

export interface RegisteredResource {
  type: string;
  name: string;
  props: Record<string, unknown>;
}

export interface ProgramRun {
  resources: RegisteredResource[];
  outputs: Record<string, unknown>;
}

/** What every dynamic provider's resource registers as. */
export const DYNAMIC = 'pulumi-nodejs:dynamic:Resource';

/** A stand-in image id, shaped like the one the docker provider reports for a local build. */
const FAKE_IMAGE_ID = `sha256:${'ab'.repeat(32)}`;
/** The gid the host-groups resource reads on a host with Docker's own packages. */
export const FAKE_ENGINE_SOCKET_GID = '998';
/** What `--print-fingerprint` prints, with its newline. */
export const FAKE_FINGERPRINT = `${Array(32).fill('AB').join(':')}\n`;

/**
 * `config` holds `clawjail:*` values without the namespace. The program module is loaded afresh
 * for each run so each run sees its own config.
 */
export async function runProgram(config: Record<string, string>): Promise<ProgramRun> {
  const resources: RegisteredResource[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({ type: args.type, name: args.name, props: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.type === 'docker:index/remoteImage:RemoteImage') state.imageId = FAKE_IMAGE_ID;
        if (args.type === 'docker:index/container:Container') state.name = args.inputs.name;
        // The gateway's fingerprint resource (infra/components/gatewayFingerprint.ts).
        if (args.type === DYNAMIC && args.name.endsWith('-fingerprint')) state.fingerprint = FAKE_FINGERPRINT.trim();
        // The engine socket's group on the host (infra/components/hostGroups.ts).
        if (args.type === DYNAMIC && args.name.endsWith('-host-groups')) state.engineSocketGid = FAKE_ENGINE_SOCKET_GID;
        return { id: `${args.name}-id`, state };
      },
      call(args) {
        return args.inputs;
      },
    },
    'clawjail',
    'test',
    false,
  );
  const all: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) all[`clawjail:${k}`] = v;
  pulumi.runtime.setAllConfig(all, ['clawjail:openclawToken']);

  let program: Record<string, unknown> = {};
  jest.isolateModules(() => {
    program = require('../../infra/index') as Record<string, unknown>;
  });
  const outputs: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(program)) {
    outputs[k] = pulumi.Output.isInstance(v) ? await outputValue(v) : v;
  }
  // Let every registration (components register children asynchronously) reach the mocks.
  await new Promise((r) => setImmediate(r));
  return { resources, outputs };
}

function outputValue<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

// The image builds go to the stack's engine. The docker provider's default (buildx) build runs
// through a docker CLI context of its own (DOCKER_HOST, else this machine's socket), not the
// provider's `host`; its legacy builder builds on the provider's own client, so the stack always
// asks for that one (test/e2e/pulumiRemote.e2e.test.ts proves it on a remote host).
import { imageArgs } from '../../infra/components/dockerArgs';
import type { ImageSpec } from '../../infra/model';

const spec: ImageSpec = {
  name: 'cjunit/gateway:0.1.0',
  context: 'gateway',
  dockerfile: 'gateway/Dockerfile',
  sources: ['gateway'],
  buildArgs: { BASE_IMAGE: 'node:24-bookworm-slim' },
};

describe('imageArgs', () => {
  const args = imageArgs(spec, { NPM_EXTRA_CA_PEM: 'pem' }, 'digest');
  const build = args.build as unknown as Record<string, unknown>;

  it('builds through the provider\'s own client, on the stack\'s engine', () => {
    expect(build.useLegacyBuilder).toBe(true);
  });

  it('names the Dockerfile inside the context, passes the build arguments, rebuilds on a new digest', () => {
    expect(build).toMatchObject({ dockerfile: 'Dockerfile', buildArgs: { BASE_IMAGE: 'node:24-bookworm-slim', NPM_EXTRA_CA_PEM: 'pem' }, platform: 'linux/amd64' });
    expect(String(build.context)).toMatch(/\/gateway$/);
    expect(args.triggers).toEqual({ context: 'digest' });
    expect(args).toMatchObject({ name: 'cjunit/gateway:0.1.0', keepLocally: true });
  });
});

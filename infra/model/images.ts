// Where the jail's own images are built from. The services (warden, gateway, egress gate) share
// code in lib/ (the logger), so their build context is the repository, which the root
// .dockerignore cuts down to lib/ and the services' sources; each image's digest is taken over
// its own directory and lib/ only.
import type { ImageSpec } from './types';

export type Service = 'warden' | 'gateway' | 'egress';

/** The shared code every service's Dockerfile copies. */
export const SERVICE_LIBS: readonly string[] = ['lib/log'];

export function serviceImageSpec(name: string, service: Service, baseImage: string): ImageSpec {
  return {
    name,
    context: '.',
    dockerfile: `${service}/Dockerfile`,
    sources: [service, ...SERVICE_LIBS],
    buildArgs: { BASE_IMAGE: baseImage },
  };
}

/** An image built from a directory of its own, which is its whole context. */
export function ownContextImageSpec(name: string, dir: string, buildArgs: Record<string, string>): ImageSpec {
  return { name, context: dir, dockerfile: `${dir}/Dockerfile`, sources: [dir], buildArgs };
}

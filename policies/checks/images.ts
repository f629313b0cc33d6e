// Image references that are pinned, and the OCI runtimes a container may name.
import { asString, CONTAINER_TYPE, IMAGE_TYPE, listOrNone, type Props, q, REMOTE_IMAGE_TYPE } from './resources';

export const DIGEST = /^(sha256:[a-f0-9]{64}|sha384:[a-f0-9]{96}|sha512:[a-f0-9]{128})$/;
export const ALLOWED_IMAGE_TEXT =
  'allowed: a pinned tag (name:1.2.3), a digest (name@sha256:<64 hex>) or an image id (sha256:<64 hex>)';

/** Why an image reference is not pinned, or undefined if it is. */
export function imageReferenceProblem(ref: string): string | undefined {
  const r = ref.trim();
  if (r === '') return 'is empty';
  if (DIGEST.test(r) || /^[a-f0-9]{64}$/.test(r)) return undefined; // an image id
  const at = r.indexOf('@');
  if (at >= 0) {
    return DIGEST.test(r.slice(at + 1)) ? undefined : `has a malformed digest ${q(r.slice(at + 1))}`;
  }
  const lastSlash = r.lastIndexOf('/');
  const colon = r.indexOf(':', lastSlash + 1); // a colon before the last slash is a registry port
  if (colon < 0) return 'has no tag, so Docker uses ":latest"';
  const tag = r.slice(colon + 1);
  if (tag === '') return 'has an empty tag';
  if (tag.toLowerCase() === 'latest') return 'uses the floating tag "latest"';
  return undefined;
}

/** The field holding the image reference, per resource type. */
export const IMAGE_REFERENCE_FIELDS: Readonly<Record<string, string>> = {
  [IMAGE_TYPE]: 'imageName',
  [REMOTE_IMAGE_TYPE]: 'name',
  [CONTAINER_TYPE]: 'image',
};

/**
 * Only literal strings are judged: a container's image produced by another resource is unknown
 * during preview (the SDK skips the check) and an id or digest once known, both accepted.
 */
export function checkImageReference(type: string, props: Props): string[] {
  const field = IMAGE_REFERENCE_FIELDS[type];
  if (!field) return [];
  const ref = asString(props[field]);
  if (ref === undefined) return [];
  const problem = imageReferenceProblem(ref);
  return problem ? [`${field} ${q(ref)} ${problem}; ${ALLOWED_IMAGE_TEXT}`] : [];
}

export interface RuntimeConfig {
  /** OCI runtimes a container may name. */
  allowedRuntimes: string[];
}

export function checkRuntime(props: Props, config: RuntimeConfig): string[] {
  const runtime = asString(props.runtime);
  if (runtime === undefined || runtime === '') return [];
  if (config.allowedRuntimes.includes(runtime)) return [];
  return [`runtime ${q(runtime)} is not allowed; allowed (policy config allowedRuntimes): ${listOrNone(config.allowedRuntimes)}`];
}

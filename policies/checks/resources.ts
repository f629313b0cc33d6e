// Resource types the rules apply to, the labels they judge by, and lenient readers of the engine's plain JSON.

export const CONTAINER_TYPE = 'docker:index/container:Container';
export const IMAGE_TYPE = 'docker:index/image:Image';
export const REMOTE_IMAGE_TYPE = 'docker:index/remoteImage:RemoteImage';
export const VOLUME_TYPE = 'docker:index/volume:Volume';

/** The label that marks a container as part of the jail, and its role in it. */
export const ROLE_LABEL = 'clawjail.role';
export const STACK_LABEL = 'clawjail.stack';
export const JUDGED_LABELS: ReadonlySet<string> = new Set([ROLE_LABEL, STACK_LABEL]);
/** The prisoner's container. The read-only root fs can never be exempted for it. */
export const CELL_ROLE = 'cell';
/** The one container that may hold the engine's socket (infra/model/sentry.ts), in one shape only. */
export const SENTRY_ROLE = 'sentry';

export type Props = Record<string, unknown>;

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const asRecord = (v: unknown): Record<string, unknown> => (isRecord(v) ? v : {});
export const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
export const isSet = (v: unknown): boolean => v !== undefined && v !== null;
export const q = (v: unknown): string => JSON.stringify(v);
/** Pulumi's wire form of a secret ({<sig>: <secret sig>, value}); the engine may hand one to a rule. */
const SECRET_SIG_KEY = '4dabf18193072939515e22adb298388d';
/** A value, or the value inside a secret's wire form. */
export const unsecret = (v: unknown): unknown => (isRecord(v) && SECRET_SIG_KEY in v && 'value' in v ? v.value : v);
export const listOrNone = (xs: readonly string[]): string => (xs.length ? xs.map(q).join(', ') : 'none');

/**
 * The labels the rules judge by (the container's role and stack): Pulumi's `[{label, value}]`,
 * or a plain map for robustness. Only these values are read: another label's value may be
 * unknown during a preview (the stack's image-id label is), and reading an unknown value stops
 * the policy SDK from running the rule at all.
 */
export function containerLabels(props: Props): Record<string, string> {
  const out: Record<string, string> = {};
  const raw = props.labels;
  if (Array.isArray(raw)) {
    for (const entry of raw) {
      const e = asRecord(entry);
      const k = asString(e.label);
      if (k === undefined || !JUDGED_LABELS.has(k)) continue;
      const v = asString(e.value);
      if (v !== undefined) out[k] = v;
    }
  } else if (isRecord(raw)) {
    for (const k of JUDGED_LABELS) if (typeof raw[k] === 'string') out[k] = raw[k] as string;
  }
  return out;
}

// The gate's policy file on the Docker host: the scripts that write and read it through the
// docker CLI, and the parse of what they print. Kept apart from the rest of the gate's spec:
// the EgressPolicy dynamic provider captures this module by value (Pulumi serializes it), so it
// imports nothing but the shell quoting.
import { shellQuote } from './shell';

export const EGRESS_STATE_DIR = '/var/lib/clawjail-egress';

export const egressFiles = {
  policy: `${EGRESS_STATE_DIR}/policy.json`,
  log: `${EGRESS_STATE_DIR}/decisions.jsonl`,
  providers: `${EGRESS_STATE_DIR}/providers.json`,
  adminSocket: `${EGRESS_STATE_DIR}/admin.sock`,
} as const;

/** Writes the policy file in the gate's volume (atomically: the gate watches it) and prints it back. */
export function egressPolicyWriteScript(container: string, doc: { allow: string[]; deny: string[] }): string {
  const c = shellQuote(container);
  const tmp = `${egressFiles.policy}.stack.tmp`;
  return [
    'set -eu',
    `printf '%s\\n' ${shellQuote(JSON.stringify(doc))} | docker exec -i ${c} sh -c ${shellQuote(`cat > ${tmp} && mv -f ${tmp} ${egressFiles.policy}`)}`,
    `docker exec ${c} cat ${egressFiles.policy}`,
  ].join('\n');
}

/** Prints the policy file as it is in the gate's volume, or `missing`. */
export function egressPolicyReadScript(container: string): string {
  const c = shellQuote(container);
  return ['set -u', `docker exec ${c} sh -c ${shellQuote(`if [ -e ${egressFiles.policy} ]; then cat ${egressFiles.policy}; else echo missing; fi`)}`].join('\n');
}

/** The live policy, normalised as the stack declares it; an unreadable file is an empty policy flagged as such. */
export function parseEgressPolicy(text: string): { allow: string[]; deny: string[]; problem: string | null } {
  if (text.trim() === 'missing') return { allow: [], deny: [], problem: 'no policy file' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return { allow: [], deny: [], problem: 'the policy file is not JSON' };
  }
  const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { allow?: unknown; deny?: unknown };
  const list = (x: unknown) => (Array.isArray(x) ? [...new Set(x.filter((e): e is string => typeof e === 'string'))].sort() : []);
  const ok = Array.isArray(o.allow) && (o.deny === undefined || Array.isArray(o.deny));
  return { allow: list(o.allow), deny: list(o.deny), problem: ok ? null : 'the policy file has no allow list' };
}

// Host namespaces, and the joins of another container's namespace that config allows.
import { asString, CELL_ROLE, containerLabels, listOrNone, type Props, q, ROLE_LABEL, STACK_LABEL } from './resources';

export interface NamespacesConfig {
  /**
   * Explicitly allowed joins of another container's namespace, each written
   * `"<field>=container:<name or id>"`, e.g. `"networkMode=container:clawjail-dev-cell"`.
   */
  allowedNamespaceJoins: string[];
}

/** Container fields naming a namespace mode, and the namespace each one controls. */
export const NAMESPACE_FIELDS: Readonly<Record<string, string>> = {
  networkMode: 'network',
  pidMode: 'PID',
  ipcMode: 'IPC',
  utsMode: 'UTS', // not in @pulumi/docker 5.x, checked in case a later version adds it
  usernsMode: 'user',
  cgroupnsMode: 'cgroup',
};
export const JOINABLE_FIELDS = new Set(['networkMode', 'pidMode', 'ipcMode']);

/**
 * The one join the jail's own design needs: its cell lives in its gateway's network namespace,
 * so OpenClaw's loopback-only port is reachable by the gateway and nothing else. Allowed only for
 * a container labelled as the cell of stack P joining the network of the container `P-gateway`.
 */
export function builtInNamespaceJoin(props: Props): string | undefined {
  const labels = containerLabels(props);
  const stack = labels[STACK_LABEL];
  if (labels[ROLE_LABEL] !== CELL_ROLE || !stack) return undefined;
  return `networkMode=container:${stack}-gateway`;
}

export function checkNamespaces(props: Props, config: NamespacesConfig): string[] {
  const out: string[] = [];
  const builtIn = builtInNamespaceJoin(props);
  const configured = config.allowedNamespaceJoins.map((s) => s.trim());
  const allowed = new Set([...configured, ...(builtIn ? [builtIn] : [])]);
  for (const [field, ns] of Object.entries(NAMESPACE_FIELDS)) {
    const value = asString(props[field]);
    if (!value) continue;
    const mode = value.trim().toLowerCase();
    if (mode === 'host') {
      out.push(`${field} is "host", which shares the host's ${ns} namespace; allowed: unset or a private mode (never "host")`);
    } else if (mode.startsWith('container:')) {
      const target = value.trim().slice('container:'.length);
      const entry = `${field}=container:${target}`;
      if (!JOINABLE_FIELDS.has(field)) {
        out.push(`${field} ${q(value)} joins another container's ${ns} namespace, which is never allowed`);
      } else if (!allowed.has(entry)) {
        out.push(
          `${field} ${q(value)} joins the ${ns} namespace of container ${q(target)}; allowed only if policy config ` +
            `allowedNamespaceJoins lists ${q(entry)} (allowed now: ${listOrNone(configured)})`,
        );
      }
    }
  }
  return out;
}

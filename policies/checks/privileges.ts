// Capabilities, privileged mode, security options, seccomp and the user a container runs as.
import { asArray, asRecord, asString, containerLabels, isSet, listOrNone, type Props, q, ROLE_LABEL } from './resources';

export interface CapabilitiesConfig {
  /** Capabilities that may be added back after dropping ALL (e.g. "NET_BIND_SERVICE"). */
  allowedCapabilities: string[];
}

/** Docker's own normalisation: case-insensitive, optional `CAP_` prefix. */
export const normalizeCapability = (c: string): string => c.trim().toUpperCase().replace(/^CAP_/, '');

export function checkCapabilities(props: Props, config: CapabilitiesConfig): string[] {
  const out: string[] = [];
  const caps = asRecord(props.capabilities);
  const drops = asArray(caps.drops).filter((d): d is string => typeof d === 'string');
  if (!drops.some((d) => normalizeCapability(d) === 'ALL')) {
    out.push(
      isSet(props.capabilities)
        ? `capabilities.drops must include "ALL" (got [${drops.map(q).join(', ')}])`
        : 'capabilities is not set: capabilities.drops must include "ALL"',
    );
  }
  const allowed = new Set(config.allowedCapabilities.map(normalizeCapability));
  allowed.delete('ALL');
  for (const add of asArray(caps.adds)) {
    const name = typeof add === 'string' ? normalizeCapability(add) : String(add);
    if (name === 'ALL') {
      out.push('capabilities.adds contains "ALL", which is never allowed');
    } else if (!allowed.has(name)) {
      out.push(
        `capabilities.adds contains ${q(add)}; allowed additions (policy config allowedCapabilities): ` +
          listOrNone([...allowed]),
      );
    }
  }
  return out;
}

export function checkNotPrivileged(props: Props): string[] {
  return props.privileged === true ? ['privileged is true; allowed: false or unset'] : [];
}

/** `key=value` or Docker's legacy `key:value`; the value may itself contain `:` or `=`. */
export function parseSecurityOpt(opt: string): { key: string; value: string } {
  const m = /^([^=:]*)(?:[=:]([\s\S]*))?$/.exec(opt.trim());
  return { key: (m?.[1] ?? '').trim().toLowerCase(), value: (m?.[2] ?? '').trim() };
}

export const UNCONFINING_OPTS: Readonly<Record<string, string>> = {
  seccomp: 'unconfined',
  apparmor: 'unconfined',
  label: 'disable',
  systempaths: 'unconfined',
};

export function checkSecurityOpts(props: Props): string[] {
  const out: string[] = [];
  const opts = asArray(props.securityOpts).filter((o): o is string => typeof o === 'string');
  let noNewPrivileges = false;
  for (const opt of opts) {
    const { key, value } = parseSecurityOpt(opt);
    const v = value.toLowerCase();
    if (key === 'no-new-privileges') {
      if (v === '' || v === 'true') noNewPrivileges = true;
      else out.push(`securityOpts contains ${q(opt)}; allowed: "no-new-privileges" or "no-new-privileges:true"`);
    } else if (UNCONFINING_OPTS[key] !== undefined && v === UNCONFINING_OPTS[key]) {
      out.push(
        `securityOpts contains ${q(opt)}, which disables a kernel confinement; never allowed ` +
          '(seccomp=unconfined, apparmor=unconfined, label=disable, systempaths=unconfined)',
      );
    }
  }
  if (!noNewPrivileges) {
    out.push('securityOpts must include "no-new-privileges" (or "no-new-privileges:true")');
  }
  return out;
}

/**
 * Every jail container (one with a role label) runs a seccomp profile of its own that denies by
 * default: leaving it out falls back to Docker's default, which allows same-uid ptrace, and a
 * profile that allows by default is no filter at all.
 */
export function checkSeccompProfile(props: Props): string[] {
  if (!containerLabels(props)[ROLE_LABEL]) return [];
  const profiles = asArray(props.securityOpts)
    .filter((o): o is string => typeof o === 'string')
    .map(parseSecurityOpt)
    .filter((o) => o.key === 'seccomp');
  if (profiles.length === 0) {
    return ['securityOpts has no seccomp profile; a clawjail container needs "seccomp=<profile JSON>" that denies by default'];
  }
  const out: string[] = [];
  for (const { value } of profiles) {
    let profile: { defaultAction?: unknown };
    try {
      profile = JSON.parse(value) as { defaultAction?: unknown };
    } catch {
      out.push('securityOpts seccomp=... is not an inline JSON profile; allowed: a profile whose defaultAction denies (SCMP_ACT_ERRNO or SCMP_ACT_KILL*)');
      continue;
    }
    const action = String(profile.defaultAction ?? '');
    if (!/^SCMP_ACT_(ERRNO|KILL|KILL_PROCESS|KILL_THREAD)$/.test(action)) {
      out.push(`seccomp profile defaultAction is ${q(action)}; allowed: SCMP_ACT_ERRNO or SCMP_ACT_KILL* (deny by default)`);
    }
  }
  return out;
}

/** Every jail container runs as a numeric non-root uid (and gid), so no passwd entry can change it. */
export function checkNonRootUser(props: Props): string[] {
  if (!containerLabels(props)[ROLE_LABEL]) return [];
  const user = asString(props.user) ?? '';
  const m = /^(\d+)(?::(\d+))?$/.exec(user.trim());
  if (!m) return [`user is ${q(user)}; a clawjail container needs a numeric "uid:gid" (an unset user means root)`];
  if (Number(m[1]) === 0 || (m[2] !== undefined && Number(m[2]) === 0)) {
    return [`user is ${q(user)}; root (uid or gid 0) is never allowed`];
  }
  return [];
}

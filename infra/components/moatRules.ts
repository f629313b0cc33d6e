// The moat's firewall rules as a Pulumi resource: a dynamic provider, because the rules live in
// the Docker host's kernel and Pulumi must be able to read them back (@pulumi/command's Command
// cannot: no refresh, no drift).
//
//   create/update  install the rules files, apply script and boot restore on the Docker host and
//                  apply them (one iptables-restore transaction per family), then read the live
//                  rules back and fail unless they are exactly the declared ones
//   read           the live rules (iptables-save of this stack's chains and hooks) and the hashes
//                  of the installed files: `pulumi preview --refresh` shows any drift
//   diff           declared (rendered from the inputs) against the state (live after a refresh)
//   delete         removes every rule, chain, file and unit of this stack's moat
//
// Pulumi serializes the provider object with everything it references: the functions here use
// only the pure spec modules and ./moatExec (captured by value) and Node built-ins required
// inside the functions; no Pulumi values.
import * as pulumi from '@pulumi/pulumi';
import type { BootRestore, EgressException, MoatConnLimits } from '../config';
import { formatDrift, moatDrift, renderMoatRules, type MoatRulesPlan } from '../model/firewall';
import { moatFiles, renderInstallScript, renderRemoveScript, type MoatTarget } from '../model/moatHost';
import { readLiveMoat, readLiveMoatSettled, resolveResolvers, runOnHost } from './moatExec';

export interface MoatRulesInputs {
  target: MoatTarget;
  namePrefix: string;
  bridgeName: string;
  subnet: string;
  dnsResolvers: 'auto' | string[];
  exceptions: EgressException[];
  /** More IPv4 networks to drop (clawjail:moatExtraBlocked). */
  extraBlocked: string[];
  /** False when the cell has no egress at all (clawjail:cellEgress none). */
  internet: boolean;
  /** cellEgress allowlist: the only bridge addresses that may go out (the gate, freshclam). */
  internetFrom?: string[];
  /** New connections per source address (clawjail:moatConnRate, moatConnBurst, moatConnMax); absent (older state): the defaults. */
  connLimits?: MoatConnLimits;
  bootRestore: BootRestore;
}

export interface MoatRulesState extends MoatRulesInputs {
  /** The resolvers the rules allow (dnsResolvers with "auto" resolved on the Docker host). */
  resolvers: string[];
  /** The rules, in the layout of `clawjail moat render`: as applied, or as read back live. */
  rules: string;
  /** Installed files: path to sha256, or "missing". */
  files: Record<string, string>;
}

export interface DeclaredMoat {
  plan: MoatRulesPlan;
  rules: string;
  files: Record<string, string>;
}

function sha256(text: string): string {
  const { createHash } = require('crypto') as typeof import('crypto');
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** What the inputs declare, once the resolvers are known. Pure. */
export function declaredMoat(inputs: MoatRulesInputs, resolvers: string[]): DeclaredMoat {
  const plan: MoatRulesPlan = {
    namePrefix: inputs.namePrefix,
    bridgeName: inputs.bridgeName,
    subnet: inputs.subnet,
    resolvers,
    exceptions: inputs.exceptions,
    extraBlocked: inputs.extraBlocked,
    internet: inputs.internet,
    ...(inputs.internetFrom ? { internetFrom: inputs.internetFrom } : {}),
    ...(inputs.connLimits ? { connLimits: inputs.connLimits } : {}),
  };
  const rules = renderMoatRules(plan);
  const files: Record<string, string> = {};
  for (const [path, content] of Object.entries(moatFiles(plan, rules, inputs.bootRestore, inputs.target.root))) {
    files[path] = sha256(content);
  }
  return { plan, rules, files };
}

/** Where the resource lives: a different host or prefix is a different moat (replace). */
function placeOf(i: MoatRulesInputs): Record<string, string> {
  return {
    target: JSON.stringify([i.target.dockerHost, i.target.root ?? '/', i.target.wrap ?? []]),
    namePrefix: i.namePrefix,
  };
}

function sameFiles(a: Record<string, string> | undefined, b: Record<string, string>): boolean {
  const keys = new Set([...Object.keys(a ?? {}), ...Object.keys(b)]);
  for (const k of keys) {
    const x = a?.[k] ?? 'missing';
    const y = b[k] ?? 'missing';
    if (x !== y) return false;
  }
  return true;
}

/**
 * Pure: the state (as last applied, or as read live by a refresh) against the checked inputs,
 * which carry the declared rules and file hashes (see `checkMoat`).
 */
export function moatRulesDiff(olds: MoatRulesState, news: MoatRulesState): pulumi.dynamic.DiffResult {
  const oldPlace = placeOf(olds);
  const newPlace = placeOf(news);
  const replaces = Object.keys(newPlace).filter((k) => oldPlace[k] !== newPlace[k]);
  const changes =
    replaces.length > 0 ||
    moatDrift(news.rules, olds.rules ?? '').length > 0 ||
    !sameFiles(olds.files, news.files) ||
    olds.target?.sudo !== news.target.sudo ||
    olds.bootRestore !== news.bootRestore;
  return { changes, replaces, deleteBeforeReplace: false };
}

/**
 * Pulumi's `check`: completes the inputs with what they declare (resolvers, rules, file hashes),
 * so that a preview shows the declared rules and `diff` needs no I/O.
 */
export async function checkMoat(news: MoatRulesInputs): Promise<MoatRulesState> {
  const resolvers = await resolversFor(news);
  const d = declaredMoat(news, resolvers);
  return { ...news, resolvers, rules: d.rules, files: d.files };
}

/** The state (and inputs) after a read: the rules and files as they are live. */
export function stateFromLive(props: MoatRulesState, live: { rules: string; files: Record<string, string> }): MoatRulesState {
  return { ...props, rules: live.rules, files: live.files };
}

/** No egress, no DNS out: then the host's resolvers are not even looked up. */
function resolversFor(i: MoatRulesInputs): Promise<string[]> {
  return i.internet === false ? Promise.resolve([]) : resolveResolvers(i.target, i.dnsResolvers);
}

export async function applyMoat(inputs: MoatRulesInputs): Promise<MoatRulesState> {
  const resolvers = await resolversFor(inputs);
  const d = declaredMoat(inputs, resolvers);
  await runOnHost(inputs.target, renderInstallScript(d.plan, d.rules, inputs.bootRestore, inputs.target.root));
  const live = await readLiveMoatSettled(inputs.target, d.plan, d.rules);
  const drift = moatDrift(d.rules, live.rules);
  if (drift.length) {
    throw new Error(`the moat was applied on ${inputs.target.dockerHost} but its live rules differ from the declared ones:\n${formatDrift(drift)}`);
  }
  if (!sameFiles(live.files, d.files)) {
    throw new Error(`the moat's files on ${inputs.target.dockerHost} differ from the declared ones: ${JSON.stringify(live.files)}`);
  }
  return { ...pick(inputs), resolvers, rules: d.rules, files: d.files };
}

/** Only the declared input fields (the engine adds others, e.g. the serialized provider). */
function pick(i: MoatRulesInputs): MoatRulesInputs {
  return {
    target: i.target,
    namePrefix: i.namePrefix,
    bridgeName: i.bridgeName,
    subnet: i.subnet,
    dnsResolvers: i.dnsResolvers,
    exceptions: i.exceptions,
    extraBlocked: i.extraBlocked,
    internet: i.internet,
    ...(i.internetFrom ? { internetFrom: i.internetFrom } : {}),
    ...(i.connLimits ? { connLimits: i.connLimits } : {}),
    bootRestore: i.bootRestore,
  };
}

export async function readMoat(props: MoatRulesState): Promise<MoatRulesState> {
  const plan: MoatRulesPlan = {
    namePrefix: props.namePrefix,
    bridgeName: props.bridgeName,
    subnet: props.subnet,
    resolvers: props.resolvers ?? [],
    exceptions: props.exceptions ?? [],
    extraBlocked: props.extraBlocked ?? [],
    internet: props.internet,
    ...(props.internetFrom ? { internetFrom: props.internetFrom } : {}),
    ...(props.connLimits ? { connLimits: props.connLimits } : {}),
  };
  // Settled against what was last applied (or read): dockerd's jump moves while it makes a network.
  const live = props.rules ? await readLiveMoatSettled(props.target, plan, props.rules) : await readLiveMoat(props.target, plan);
  return stateFromLive(props, live);
}

export async function removeMoat(props: MoatRulesInputs): Promise<void> {
  await runOnHost(props.target, renderRemoveScript({ namePrefix: props.namePrefix }, props.target.root));
}

export function moatId(i: MoatRulesInputs): string {
  return `${i.namePrefix}@${i.target.dockerHost}`;
}

export const moatRulesProvider: pulumi.dynamic.ResourceProvider = {
  async check(_olds: MoatRulesState, news: MoatRulesInputs) {
    return { inputs: await checkMoat(news) };
  },
  async diff(_id: string, olds: MoatRulesState, news: MoatRulesState) {
    return moatRulesDiff(olds, news);
  },
  async create(inputs: MoatRulesInputs) {
    return { id: moatId(inputs), outs: await applyMoat(inputs) };
  },
  async read(id: string, props: MoatRulesState) {
    // The live rules become the state's inputs too, so that `pulumi preview --refresh --diff`
    // shows the live rules against the declared ones, line by line.
    const live = await readMoat(props);
    return { id, props: live, inputs: live };
  },
  async update(_id: string, _olds: MoatRulesState, news: MoatRulesInputs) {
    return { outs: await applyMoat(news) };
  },
  async delete(_id: string, props: MoatRulesState) {
    await removeMoat(props);
  },
};

export type MoatRulesArgs = { [K in keyof MoatRulesInputs]: pulumi.Input<MoatRulesInputs[K]> };

/** The rules on the Docker host. Registered as `pulumi-nodejs:dynamic:Resource`. */
export class MoatRules extends pulumi.dynamic.Resource {
  declare readonly rules: pulumi.Output<string>;
  declare readonly resolvers: pulumi.Output<string[]>;
  declare readonly files: pulumi.Output<Record<string, string>>;

  constructor(name: string, args: MoatRulesArgs, opts?: pulumi.CustomResourceOptions) {
    super(moatRulesProvider, name, { ...args, resolvers: undefined, rules: undefined, files: undefined }, opts);
  }
}

// Running the policies without the Pulumi engine: for the tests and for the program under Pulumi's
// mocks. Not part of the pack the engine loads.
import type { EnforcementLevel, PolicyResourceOptions, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy } from '@pulumi/policy';
import { allPolicies } from './rules';

/** Per-policy configuration, as in a `--policy-pack-config` file: `{ "<policy>": {...} | level }`. */
export type PolicyConfigMap = Record<
  string,
  EnforcementLevel | ({ enforcementLevel?: EnforcementLevel } & Record<string, unknown>)
>;

export interface ResourceUnderTest {
  type: string;
  name: string;
  props: Record<string, unknown>;
  urn?: string;
}

export interface Violation {
  policy: string;
  resource: string;
  message: string;
}

class NotApplicable extends Error {}

/** The config object a policy's `getConfig()` returns: its entry minus `enforcementLevel`. */
export function policyConfigFor(policyName: string, config?: PolicyConfigMap): Record<string, unknown> {
  const entry = config?.[policyName];
  if (entry === undefined || typeof entry === 'string') return {};
  const { enforcementLevel: _ignored, ...rest } = entry;
  return rest;
}

function enforcementLevelFor(policy: ResourceValidationPolicy, config?: PolicyConfigMap): EnforcementLevel | undefined {
  const levelOf = (e: PolicyConfigMap[string] | undefined) => (typeof e === 'string' ? e : e?.enforcementLevel);
  return levelOf(config?.[policy.name]) ?? levelOf(config?.all) ?? policy.enforcementLevel;
}

const DEFAULT_OPTS: PolicyResourceOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

/**
 * A `ResourceValidationArgs` as the policy SDK builds it for one resource (without the
 * unknown-value proxy): for tests and for running the pack over a mocked program.
 */
export function makeResourceValidationArgs(
  resource: ResourceUnderTest,
  policyConfig: Record<string, unknown> = {},
): ResourceValidationArgs {
  const { type, name, props } = resource;
  const isType = (cls: unknown): boolean => (cls as { __pulumiType?: string } | undefined)?.__pulumiType === type;
  return {
    type,
    name,
    props,
    urn: resource.urn ?? `urn:pulumi:test::clawjail::${type}::${name}`,
    opts: DEFAULT_OPTS,
    stackTags: new Map<string, string>(),
    isType,
    asType: ((cls: unknown) => (isType(cls) ? props : undefined)) as ResourceValidationArgs['asType'],
    getConfig: <T extends object>() => ({ ...policyConfig }) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason);
    },
  };
}

/**
 * Runs every policy over every resource and returns the violations. `config` is per-policy as in
 * a policy pack config file; a policy whose enforcement level is "disabled" is skipped.
 */
export function validateResources(resources: ResourceUnderTest[], config?: PolicyConfigMap): Violation[] {
  const violations: Violation[] = [];
  for (const policy of allPolicies()) {
    if (enforcementLevelFor(policy, config) === 'disabled' || !policy.validateResource) continue;
    const validations = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const resource of resources) {
      const args = makeResourceValidationArgs(resource, policyConfigFor(policy.name, config));
      const report: ReportViolation = (message) =>
        violations.push({ policy: policy.name, resource: resource.name, message });
      for (const validate of validations) {
        try {
          const result = validate(args, report);
          if (result instanceof Promise) throw new Error(`policy ${policy.name} is asynchronous`);
        } catch (e) {
          if (e instanceof NotApplicable) break;
          throw e;
        }
      }
    }
  }
  return violations;
}

// The egress gate as a library (tests, and anything that embeds it). The process is main.ts.
export { createEgressGate, type EgressGate, type EgressGateOptions, type EgressStatus } from './gate';
export { adminRequest, type AdminResponse } from './admin';
export { BLOCKED_V4, type BlockedRange } from './addresses';
export { loadConfig, SETTINGS, ConfigError, type EgressConfig, type EgressLimits } from './config';
export { parseEntry, normalizeEntry, sortedUnique, decide, type Policy, type PolicyEntry, type Verdict } from './policy';
export { loadProvidersFile, parseProviders, type Provider } from './providers';
export type { Decision } from './decisionLog';

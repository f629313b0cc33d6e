// The clawjail policy pack. Constructing a PolicyPack starts the analyzer's gRPC server, so this
// file does nothing else; the rules live (and are tested) in ./rules.
//
//   pulumi preview --policy-pack policies [--policy-pack-config policies/config.example.json]
import { PolicyPack } from '@pulumi/policy';
import { allPolicies } from './rules';

new PolicyPack('clawjail', {
  description: "The clawjail jail's invariants for Docker containers and images.",
  enforcementLevel: 'mandatory',
  policies: allPolicies(),
});

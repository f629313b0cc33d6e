// The quarantine volume's migration, pure part: the script's guards and the outcome it reports.
// The copy itself runs against the real engine in test/e2e/quarantineMigration.e2e.test.ts.
import { describe, expect, it } from '@jest/globals';
import { legacyQuarantineVolume, parseMigrationOutput, quarantineMigrationScript } from '../../infra/model/quarantineMigration';

const m = { namePrefix: 'clawjail', from: 'clawjail-jail', to: 'clawjail-quarantine', image: 'node:24-bookworm-slim' };

describe('the quarantine migration script', () => {
  it('copies from the name earlier versions used', () => {
    expect(legacyQuarantineVolume('myjail')).toBe('myjail-jail');
  });

  it('touches nothing unless the old volume exists and carries the stack label', () => {
    const lines = quarantineMigrationScript(m).split('\n');
    const run = lines.findIndex((l) => l.startsWith('docker run'));
    expect(lines.findIndex((l) => l.includes(`docker volume inspect --format '{{index .Labels "clawjail.stack"}}' clawjail-jail`))).toBeLessThan(run);
    expect(lines.findIndex((l) => l.includes(`"$out" != clawjail`))).toBeLessThan(run);
    expect(lines[run]).toContain('type=volume,source=clawjail-jail,target=/from,readonly');
    expect(lines[run]).toMatch(/--name clawjail-quarantine-migration --network none --read-only .*--cap-drop ALL/);
    expect(lines[run]).toContain('/bin/bash');
  });

  it('refuses to copy a volume onto itself', () => {
    expect(() => quarantineMigrationScript({ ...m, to: m.from })).toThrow(/both clawjail-jail/);
  });

  it('reads the outcome from the last line, and fails without one', () => {
    expect(parseMigrationOutput('noise\nclawjail-migration: copied 12\n')).toEqual({ outcome: 'copied', files: 12 });
    for (const o of ['none', 'not-ours', 'done-before'] as const) expect(parseMigrationOutput(`clawjail-migration: ${o}\n`)).toEqual({ outcome: o });
    expect(() => parseMigrationOutput('something else\n')).toThrow(/printed no outcome/);
  });
});

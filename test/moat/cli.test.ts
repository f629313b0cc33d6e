// `clawjail moat` without a host: help, usage errors, and render with explicit resolvers.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { run } from '../../cli/commands/moat';
import { loadStackConfig } from '../../infra/stackFile';
import { moatRulesPlan, renderMoatRules } from '../../infra/model/firewall';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: { write: (s: string) => out.push(s) }, stderr: { write: (s: string) => err.push(s) } }, out, err };
}

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cjm-cli-'));
  fs.writeFileSync(
    path.join(dir, 'Pulumi.box.yaml'),
    ['config:', '  clawjail:namePrefix: box', '  clawjail:bridgeName: box0', "  clawjail:dnsResolvers: '[\"192.168.1.1\"]'",
      "  clawjail:egressExceptions: '[\"192.168.1.50:11434\"]'", '  clawjail:openclawToken:', '    secure: AAABAxyz', ''].join('\n'),
  );
  fs.writeFileSync(path.join(dir, 'Pulumi.bad.yaml'), 'config:\n  clawjail:egressExceptions: nope\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('clawjail moat', () => {
  it('--help explains render and check', async () => {
    const t = io();
    expect(await run(['--help'], t.io)).toBe(0);
    expect(t.out.join('')).toMatch(/render .*iptables-restore format/s);
    expect(t.out.join('')).toMatch(/check .*exit 0 in sync, 1 on drift/s);
  });

  it('render prints exactly what is applied, IPv6 after "# ip6tables"', async () => {
    const t = io();
    expect(await run(['render', '--stack', 'box', '--cwd', dir], t.io)).toBe(0);
    const text = t.out.join('');
    const config = loadStackConfig('box', dir);
    expect(text).toBe(renderMoatRules(moatRulesPlan(config, ['192.168.1.1'])));
    expect(text).toMatch(/^# ip6tables$/m);
    expect(text).toContain('-A box-FWD -d 192.168.1.50/32 -p tcp -m tcp --dport 11434');
    expect(t.err).toEqual([]);
  });

  it('usage errors exit 2 with the help', async () => {
    for (const argv of [[], ['render', '--nope'], ['frobnicate'], ['render', '--stack']]) {
      const t = io();
      expect(await run(argv, t.io)).toBe(2);
      expect(t.err.join('')).toMatch(/usage: clawjail moat/);
    }
  });

  it('a bad stack exits 2 naming the key; a missing stack too', async () => {
    let t = io();
    expect(await run(['render', '--stack', 'bad', '--cwd', dir], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(/clawjail:egressExceptions = "nope"/);
    t = io();
    expect(await run(['check', '--stack', 'missing', '--cwd', dir], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(/cannot read stack file/);
  });
});

// What the moat installs and runs on the Docker host: pure renders of the scripts and units.
import { renderMoatRules, type MoatRulesPlan } from '../../infra/model/firewall';
import {
  hostShellArgv,
  moatFiles,
  moatPaths,
  parseReadOutput,
  parseResolversOutput,
  READ_MARKERS,
  renderApplyScript,
  renderDockerDropIn,
  renderInstallScript,
  renderReadScript,
  renderRemoveScript,
  renderResolversScript,
  renderSystemdUnit,
} from '../../infra/model/moatHost';

const plan: MoatRulesPlan = { namePrefix: 'clawjail', bridgeName: 'clawjail0', subnet: '172.29.77.0/24', resolvers: ['10.255.255.53'], exceptions: [] };
const rules = renderMoatRules(plan);
const paths = moatPaths('clawjail');

describe('where the moat commands run', () => {
  it('runs a shell here for a unix:// Docker host', () => {
    expect(hostShellArgv({ dockerHost: 'unix:///var/run/docker.sock', sudo: false })).toEqual(['sh', '-s']);
    expect(hostShellArgv({ dockerHost: 'unix:///var/run/docker.sock', sudo: true })).toEqual(['sudo', '-n', 'sh', '-s']);
  });

  it('runs it on the Docker host itself over ssh for ssh://user@host[:port], never prompting', () => {
    expect(hostShellArgv({ dockerHost: 'ssh://deploy@jailhost.example:2222', sudo: true })).toEqual([
      'ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '-p', '2222', '-l', 'deploy', '--', 'jailhost.example', 'sudo -n sh -s',
    ]);
    expect(hostShellArgv({ dockerHost: 'ssh://jailhost', sudo: false })).toEqual([
      'ssh', '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=20', '--', 'jailhost', 'sh -s',
    ]);
    expect(hostShellArgv({ dockerHost: 'ssh://root@[2001:db8::5]', sudo: false }).slice(-2)).toEqual(['2001:db8::5', 'sh -s']);
  });

  it('refuses a Docker host it cannot reach with a shell', () => {
    expect(() => hostShellArgv({ dockerHost: 'tcp://10.0.0.5:2376', sudo: false })).toThrow(/neither unix:\/\/ nor ssh:\/\//);
  });
});

describe('the apply script (pulumi up, boot, after every dockerd start)', () => {
  const script = renderApplyScript(plan, paths);

  it('applies each family in ONE iptables-restore --noflush transaction', () => {
    expect(script).toContain('"$1-restore" -w 10 --noflush');
    expect(script).toContain(`apply iptables ${paths.rulesV4}`);
    expect(script).toContain(`apply ip6tables ${paths.rulesV6}`);
    expect(script).toMatch(/^set -eu$/m);
  });

  it("deletes this stack's previous hooks inside that transaction, found by comment or by jump", () => {
    expect(script).toContain("grep -vE '^-A (clawjail-FWD|clawjail-IN) '");
    expect(script).toContain("grep -E -e 'clawjail/clawjail: ' -e '-j (clawjail-FWD|clawjail-IN)( |$)'");
    expect(script).toContain("sed 's/^-A /-D /'");
  });

  it('creates DOCKER-USER when it runs before Docker (at boot)', () => {
    expect(script).toContain('iptables -w 10 -N DOCKER-USER 2>/dev/null || true');
  });
});

describe('boot restore', () => {
  it('a systemd unit ordered before docker.service runs the apply script once', () => {
    const unit = renderSystemdUnit(plan, paths);
    expect(unit).toMatch(/^Before=network-pre\.target docker\.service$/m);
    expect(unit).toMatch(/^DefaultDependencies=no$/m);
    expect(unit).toMatch(/^Type=oneshot$/m);
    expect(unit).toMatch(/^RemainAfterExit=yes$/m);
    expect(unit).toContain(`ExecStart=/bin/sh ${paths.script}`);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(unit).toMatch(/^After=.*nftables\.service.*firewalld\.service/m);
  });

  it('docker.service requires it (no moat, no Docker) and re-applies after every dockerd start', () => {
    const dropIn = renderDockerDropIn(plan, paths);
    expect(dropIn).toMatch(/^Requires=clawjail-moat-clawjail\.service$/m);
    expect(dropIn).toMatch(/^After=clawjail-moat-clawjail\.service$/m);
    expect(dropIn).toContain(`ExecStartPost=/bin/sh ${paths.script}`);
    expect(paths.dropIn).toBe('/etc/systemd/system/docker.service.d/clawjail-moat-clawjail.conf');
  });
});

describe('install and remove', () => {
  it('writes each file atomically, enables the unit, then applies', () => {
    const s = renderInstallScript(plan, rules, 'systemd');
    for (const p of [paths.rulesV4, paths.rulesV6, paths.script, paths.unit, paths.dropIn]) {
      expect(s).toContain(`cat > ${p}.clawjail-new <<'CLAWJAIL_MOAT_EOF'`);
      expect(s).toContain(`mv -f ${p}.clawjail-new ${p}`);
    }
    const lines = s.split('\n');
    expect(lines.indexOf('systemctl daemon-reload')).toBeLessThan(lines.indexOf(`sh ${paths.script}`));
    expect(lines).toContain('systemctl enable --quiet clawjail-moat-clawjail.service');
    expect(lines[lines.length - 2]).toBe(`sh ${paths.script}`);
  });

  it('refuses to go on without systemd when the boot restore is systemd (nothing applied)', () => {
    const s = renderInstallScript(plan, rules, 'systemd');
    const guard = s.indexOf('if [ ! -d /run/systemd/system ]; then');
    expect(guard).toBeGreaterThan(0);
    expect(guard).toBeLessThan(s.indexOf('mkdir -p'));
    expect(s).toMatch(/exit 3/);
  });

  it('with bootRestore none installs the rules and script only, and removes old units', () => {
    const files = moatFiles(plan, rules, 'none');
    expect(Object.keys(files).sort()).toEqual([paths.script, paths.rulesV4, paths.rulesV6].sort());
    const s = renderInstallScript(plan, rules, 'none');
    expect(s).not.toContain('systemctl enable');
    expect(s).toContain(`rm -f ${paths.unit} ${paths.dropIn}`);
  });

  it('the rules files hold exactly the rendered IPv4 and IPv6 parts', () => {
    const files = moatFiles(plan, rules, 'none');
    expect(files[paths.rulesV4] + '# ip6tables\n' + files[paths.rulesV6]).toBe(rules);
  });

  it('keeps test roots apart from the real /etc', () => {
    expect(moatPaths('x', '/tmp/lab/root/').script).toBe('/tmp/lab/root/etc/clawjail/moat-x.sh');
  });

  it('removal deletes hooks, flushes and deletes the chains in one transaction per family, then the files and units', () => {
    const s = renderRemoveScript(plan);
    expect(s).toContain('for c in clawjail-FWD clawjail-IN; do');
    expect(s).toContain('echo "-F $c"; echo "-X $c"');
    expect(s).toContain('remove iptables');
    expect(s).toContain('remove ip6tables');
    expect(s).toContain(`rm -f ${paths.rulesV4} ${paths.rulesV6} ${paths.script}`);
    expect(s).toContain('systemctl disable --quiet clawjail-moat-clawjail.service');
  });

  it('never lets file content end the heredoc early', () => {
    expect(() => renderInstallScript(plan, rules.replace('COMMIT', 'CLAWJAIL_MOAT_EOF'), 'none')).toThrow(/heredoc/);
  });
});

describe('reading back', () => {
  it('parses what the read script prints', () => {
    expect(renderReadScript(plan)).toContain('iptables-save -t filter');
    const out = [READ_MARKERS.v4, '*filter', 'COMMIT', READ_MARKERS.v6, '*filter', ':X - [0:0]', 'COMMIT', READ_MARKERS.files, `${'a'.repeat(64)} /etc/clawjail/moat-clawjail.sh`, 'missing /etc/x', ''].join('\n');
    expect(parseReadOutput(out)).toEqual({
      save4: '*filter\nCOMMIT',
      save6: '*filter\n:X - [0:0]\nCOMMIT',
      files: { '/etc/clawjail/moat-clawjail.sh': 'a'.repeat(64), '/etc/x': 'missing' },
    });
    expect(() => parseReadOutput('Permission denied')).toThrow(/unexpected output/);
  });

  it('parses the resolver sources', () => {
    expect(renderResolversScript()).toContain('cat /etc/resolv.conf');
    const out = '#clawjail:daemon.json\n{"dns":["1.1.1.1"]}\n#clawjail:resolv.conf\nnameserver 10.0.0.1\n#clawjail:systemd-resolved\n';
    expect(parseResolversOutput(out)).toEqual({ daemonJson: '{"dns":["1.1.1.1"]}', resolvConf: 'nameserver 10.0.0.1', systemdResolvConf: '' });
  });
});

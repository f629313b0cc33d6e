// The egress gate end to end, in the moat's namespace lab (test/egress/gateLab.ts): the stack's
// gate, networks, moat (allowlist mode) and cell hardening on the lab's own dockerd, probed from
// a real container in the cell's namespace. Every refusal is paired with a control that succeeds
// (a gate, or a lab, that blocks everything cannot pass), and every success is proven by a nonce
// the world's servers send back. Nothing here leaves the namespaces the lab made.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { REPO_ROOT } from '../../infra/paths';
import { egressFiles } from '../../infra/model/egressPolicy';
import { A, FIXTURES, nonce, run, STANDIN_NODE, type Probe, type ProbeResult } from '../moat/lab';
import { GateLab, NAMES, type ContainerClock, type GateResult } from './gateLab';

jest.setTimeout(300_000);

/** What this host must have for the lab; a reason when it has not ("not applicable here"). */
function notApplicable(): string | null {
  const ok = (cmd: string, args: string[]) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
      return true;
    } catch {
      return false;
    }
  };
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, a dockerd of its own)';
  if (!ok('ip', ['netns', 'list'])) return '`ip netns` is not available';
  if (!ok('sh', ['-c', 'command -v dockerd && command -v iptables-restore'])) return 'dockerd or iptables-restore is missing';
  if (fs.existsSync('/run/containerd/containerd.sock')) return 'a system containerd runs at /run/containerd/containerd.sock: the lab needs its own';
  if (!ok('docker', ['image', 'inspect', STANDIN_NODE])) return `${STANDIN_NODE} is missing (infra/images/standins/build.sh)`;
  if (!fs.existsSync(path.join(REPO_ROOT, 'egress', 'Dockerfile'))) return 'egress/Dockerfile does not exist yet';
  return null;
}

const why = notApplicable();
if (why) process.stderr.write(`gate.e2e: NOT APPLICABLE HERE: ${why}\n`);
const suite = why ? describe.skip : describe;

const lab = why ? (null as unknown as GateLab) : new GateLab();
const T = { allowed: `${NAMES.allowed}:443`, other: `${NAMES.other}:443` };

/** A CONNECT through the gate, then TLS with `sni`, then GET /nonce/<n>. */
const connect = (id: string, target: string, sni: string, n = nonce()) => ({ id, kind: 'connect', proxy: lab.proxy, target, sni, nonce: n, ca: lab.caPem });

/** probe.js (the moat lab's probes) in the jail host's namespace: the controls outside the cell. */
async function hostMoatProbe(probes: Probe[]): Promise<Record<string, ProbeResult>> {
  const r = await run('ip', ['netns', 'exec', lab.hostNs, process.execPath, path.join(FIXTURES, 'probe.js'), JSON.stringify(probes)]);
  const list = JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]') as ProbeResult[];
  return Object.fromEntries(list.map((x) => [x.id, x]));
}

async function waitDecision(pred: (d: Record<string, unknown>) => boolean, ms = 10_000): Promise<Record<string, unknown>> {
  const end = Date.now() + ms;
  for (;;) {
    const found = (await lab.decisions()).find(pred);
    if (found) return found;
    if (Date.now() > end) throw new Error(`no such decision in the log: ${JSON.stringify((await lab.decisions()).slice(-10))}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function refused(r: GateResult, status: number, reason: string, host: string): void {
  expect({ ok: r.ok, status: r.status, reason: r.json?.reason, host: r.json?.host, error: r.json?.error }).toEqual({
    ok: false,
    status,
    reason,
    host,
    error: 'egress denied',
  });
  expect(r.headers?.['x-clawjail-egress']).toBe(`denied; reason=${reason}`);
}

function reached(r: GateResult, n: string, what: string): void {
  expect({ ok: r.ok, reply: r.reply, error: r.error, tls: r.tls }).toMatchObject({ ok: true, reply: `ok ${n} ${what}` });
}

const clocks: Record<string, ContainerClock> = {};

beforeAll(async () => {
  if (why) return;
  try {
    await lab.upGate();
    for (const c of [lab.specs.egress.name, lab.specs.owner.name, lab.specs.cell.name]) clocks[c] = await lab.clock(c);
  } catch (e) {
    await lab.down().catch((d: Error) => process.stderr.write(`teardown after a failed start: ${d.message}\n`));
    throw e;
  }
}, 900_000);

afterAll(async () => {
  if (why) return;
  await lab.down();
  expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(lab.prefix);
}, 300_000);

suite('the egress gate in a namespace lab: the cell, the gate and the moat from the stack spec', () => {
  it('1. an allowed name is reached through the gate; one not on the list is refused (403 not-allowed, logged)', async () => {
    const [n1, n2, n3] = [nonce(), nonce(), nonce()];
    const r = await lab.cellProbe([
      connect('allowed', T.allowed, NAMES.allowed, n1),
      { id: 'allowed http', kind: 'http', proxy: lab.proxy, url: `http://${NAMES.allowed}/nonce/${n2}`, nonce: n2 },
      connect('other', T.other, NAMES.other, n3),
    ]);
    reached(r.allowed, n1, `world-tls ${NAMES.allowed}`);
    reached(r['allowed http'], n2, 'world-http');
    refused(r.other, 403, 'not-allowed', NAMES.other);
    expect(r.other.json?.detail).toContain(`clawjail egress allow ${NAMES.other}`);
    const w = await lab.worldStats();
    expect(w.requests.filter((q) => q.nonce === n1).map((q) => q.sni)).toEqual([NAMES.allowed]);
    expect(w.hellos).not.toContain(NAMES.other);
    expect(w.requests.some((q) => q.nonce === n3)).toBe(false);
    await waitDecision((d) => d.host === NAMES.other && d.port === 443 && d.decision === 'deny' && d.reason === 'not-allowed' && d.kind === 'connect');
    const allowed = await waitDecision((d) => d.host === NAMES.allowed && d.port === 443 && d.decision === 'allow' && d.kind === 'connect');
    expect(allowed).toMatchObject({ address: A.internet, rule: NAMES.allowed });
    await waitDecision((d) => d.host === NAMES.allowed && d.port === 80 && d.decision === 'allow' && d.kind === 'http');
  });

  it('2. direct TCP from the cell to the internet fails; the same probe from the jail host reaches it; the proxy variables lead to the gate', async () => {
    // The moat in force is the allowlist mode's: the internet only from the gate's bridge address
    // (and freshclam's), then a drop of everything else from the bridge.
    const fwd = (await lab.hostSh(`iptables -S ${lab.prefix}-FWD`)).stdout;
    expect(fwd).toContain(`-s ${lab.bridgeAddr.egress}/32`);
    expect(fwd).toContain('cellEgress allowlist: nothing else from the bridge');
    expect(fwd).not.toContain(`-s ${lab.bridgeAddr.gateway}/32`);
    const probes = () => {
      const [a, b, c] = [nonce(), nonce(), nonce()];
      return [
        { id: 'https', kind: 'https', host: A.internet, port: 443, sni: NAMES.allowed, nonce: a, ca: lab.caPem },
        { id: 'http', kind: 'plain', host: A.internet, port: 80, nonce: b },
        { id: 'echo', kind: 'plain', host: A.internet, port: 7777, nonce: c },
      ];
    };
    const cell = await lab.cellProbe(probes());
    for (const id of ['https', 'http', 'echo']) {
      expect({ id, ok: cell[id].ok }).toEqual({ id, ok: false });
      expect(cell[id].error ?? cell[id].tls).toMatch(/timeout|EHOSTUNREACH|ECONNREFUSED|ENETUNREACH/);
    }
    const hp = probes();
    const host = await lab.hostProbe(hp);
    reached(host.https, hp[0].nonce as string, `world-tls ${NAMES.allowed}`);
    reached(host.http, hp[1].nonce as string, 'world-http');

    // The cell's env (cellProxyEnv) names the gate; Node's own client, given only a URL, goes through it.
    const env = ((await lab.engine.request<{ Config: { Env: string[] } }>('GET', `/containers/${lab.specs.cell.name}/json`)).Config.Env);
    expect(env).toEqual(expect.arrayContaining([`HTTPS_PROXY=http://${lab.proxy}`, 'NODE_USE_ENV_PROXY=1']));
    const n = nonce();
    const r = await lab.cellProbe([{ id: 'env', kind: 'envproxy', url: `https://${NAMES.allowed}/nonce/${n}`, nonce: n, ca: lab.caPem }]);
    reached(r.env, n, `world-tls ${NAMES.allowed}`);
    const w = await lab.worldStats();
    expect(w.requests.filter((q) => q.nonce === n)).toHaveLength(1);
  });

  it('3. no DNS and no UDP out of the cell (resolver, Docker\'s DNS, any server); the jail host gets answers', async () => {
    const name = () => `n${nonce()}.cjm.test`;
    const floodNonce = nonce();
    const cellProbes: Probe[] = [
      { id: 'udp resolver', kind: 'dns', server: A.resolver, name: name() },
      { id: 'tcp resolver', kind: 'dnstcp', server: A.resolver, name: name() },
      { id: 'udp docker', kind: 'dns', server: '127.0.0.11', name: NAMES.allowed },
      { id: 'tcp docker', kind: 'dnstcp', server: '127.0.0.11', name: NAMES.allowed },
      { id: 'udp internet', kind: 'dns', server: A.internet, name: name() },
      { id: 'tcp internet', kind: 'dnstcp', server: A.internet, name: name() },
      { id: 'lookup', kind: 'lookup', name: NAMES.allowed },
      { id: 'udp echo', kind: 'udp', host: A.internet, port: 7777, nonce: nonce() },
      { id: 'flood', kind: 'flood', host: A.internet, port: 9999, nonce: floodNonce, durationMs: 1500 },
    ];
    const cell = await lab.probe(cellProbes, lab.specs.cell.name);
    for (const p of cellProbes.filter((x) => x.kind !== 'flood')) {
      expect({ id: p.id, ok: cell[p.id].ok, address: cell[p.id].address }).toEqual({ id: p.id, ok: false, address: undefined });
    }
    expect(cell.flood.ok).toBe(true);
    expect(Number(cell.flood.sent)).toBeGreaterThan(100);
    expect(await lab.worldCount(floodNonce)).toBe(0);

    // The controls, from the jail host's namespace: the same resolver answers, UDP arrives.
    const n1 = name();
    const n2 = name();
    const controlFlood = nonce();
    const host = await hostMoatProbe([
      { id: 'udp resolver', kind: 'dns', server: A.resolver, name: n1 },
      { id: 'tcp resolver', kind: 'dnstcp', server: A.resolver, name: n2 },
      { id: 'fixed name', kind: 'dns', server: A.resolver, name: NAMES.rebind },
      { id: 'udp internet', kind: 'dns', server: A.internet, name: n1 },
      { id: 'udp echo', kind: 'udp', host: A.internet, port: 7777, nonce: nonce() },
      { id: 'flood', kind: 'flood', host: A.internet, port: 9999, nonce: controlFlood, durationMs: 300 },
    ]);
    expect(host['udp resolver']).toMatchObject({ ok: true, address: lab.expectedAddress(n1) });
    expect(host['tcp resolver']).toMatchObject({ ok: true, address: lab.expectedAddress(n2) });
    expect(host['fixed name']).toMatchObject({ ok: true, address: A.nas });
    expect(host['udp internet']).toMatchObject({ ok: true, address: lab.expectedAddress(n1) });
    expect(host['udp echo'].ok).toBe(true);
    expect(await lab.worldCount(controlFlood)).toBeGreaterThan(0);
  });

  it('4. allowed names that resolve to the LAN or loopback are refused (blocked-address); the NAS sees nothing', async () => {
    const before = (await lab.worldStats()).nasConnections;
    expect(before).toBe(0);
    const n = nonce();
    const r = await lab.cellProbe([
      connect('rebind', `${NAMES.rebind}:443`, NAMES.rebind),
      connect('loop', `${NAMES.loop}:443`, NAMES.loop),
      connect('control', T.allowed, NAMES.allowed, n),
    ]);
    refused(r.rebind, 403, 'blocked-address', NAMES.rebind);
    refused(r.loop, 403, 'blocked-address', NAMES.loop);
    reached(r.control, n, `world-tls ${NAMES.allowed}`);
    expect((await lab.worldStats()).nasConnections).toBe(0);
    const log = await lab.decisions();
    expect(log.find((d) => d.host === NAMES.rebind && d.reason === 'blocked-address')).toMatchObject({ decision: 'deny', address: A.nas });
    expect(log.find((d) => d.host === NAMES.loop && d.reason === 'blocked-address')).toMatchObject({ decision: 'deny', address: '127.0.0.1' });
  });

  it('5. an SNI other than the CONNECT host is refused before any upstream connection; a matching SNI works', async () => {
    const before = await lab.worldStats();
    const n = nonce();
    const n2 = nonce();
    const r = await lab.cellProbe([connect('mismatch', T.allowed, NAMES.other, n), connect('control', T.allowed, NAMES.allowed, n2)]);
    expect(r.mismatch.ok).toBe(false);
    expect(r.mismatch.status).toBe(200); // CONNECT accepted, then the tunnel closed at the ClientHello
    expect(r.mismatch.tls).not.toBe('ok');
    reached(r.control, n2, `world-tls ${NAMES.allowed}`);
    const after = await lab.worldStats();
    expect(after.hellos.slice(before.hellos.length)).toEqual([NAMES.allowed]);
    expect(after.tlsConnections - before.tlsConnections).toBe(1);
    expect(after.requests.some((q) => q.nonce === n)).toBe(false);
    await waitDecision((d) => d.host === NAMES.allowed && d.reason === 'sni-mismatch');
  });

  it('6. live changes through the admin socket (the CLI), no restart of anything: allow, and --for that expires', async () => {
    const n1 = nonce();
    let r = await lab.cellProbe([connect('other', T.other, NAMES.other, n1)]);
    refused(r.other, 403, 'not-allowed', NAMES.other);

    const allow = await lab.cli(['allow', NAMES.other]);
    expect({ code: allow.code, err: allow.stderr }).toMatchObject({ code: 0 });
    process.stderr.write(`gate.e2e: the CLI ran as ${allow.how}\n`);
    const n2 = nonce();
    r = await lab.cellProbe([connect('other', T.other, NAMES.other, n2)]);
    reached(r.other, n2, `world-tls ${NAMES.other}`);
    const policy = JSON.parse(fs.readFileSync(path.join(await lab.stateDir(), 'policy.json'), 'utf8')) as { allow: string[] };
    expect(policy.allow).toContain(NAMES.other);

    const temp = await lab.cli(['allow', NAMES.temp, '--for', '3s']);
    expect({ code: temp.code, err: temp.stderr }).toMatchObject({ code: 0 });
    const n3 = nonce();
    r = await lab.cellProbe([connect('temp', `${NAMES.temp}:443`, NAMES.temp, n3)]);
    reached(r.temp, n3, `world-tls ${NAMES.temp}`);
    await new Promise((res) => setTimeout(res, 4500));
    r = await lab.cellProbe([connect('temp', `${NAMES.temp}:443`, NAMES.temp), connect('other', T.other, NAMES.other, n1)]);
    refused(r.temp, 403, 'not-allowed', NAMES.temp);
    reached(r.other, n1, `world-tls ${NAMES.other}`);

    for (const [name, clock] of Object.entries(clocks)) expect({ name, ...(await lab.clock(name)) }).toEqual({ name, ...clock, running: true });
  });

  it('7. the cell has no way to the admin socket, and of the gate only the proxy port on the link', async () => {
    const cellMounts = await lab.docker(['exec', lab.specs.cell.name, 'cat', '/proc/self/mountinfo']);
    expect(cellMounts.stdout).not.toContain(lab.names.egressStateVolume);
    expect(cellMounts.stdout).not.toContain('clawjail-egress');
    const ls = await lab.docker(['exec', lab.specs.cell.name, 'ls', '-la', '/var/lib/clawjail-egress'], { check: false });
    expect(ls.code).not.toBe(0);
    const find = await lab.docker(['exec', lab.specs.cell.name, 'sh', '-c', 'find / \\( -path /proc -o -path /sys \\) -prune -o \\( -name admin.sock -o -type s \\) -print 2>/dev/null; true']);
    expect(find.stdout.trim()).toBe('');
    // The control: where the socket is, the same look finds it.
    const gateMounts = await lab.docker(['exec', lab.specs.egress.name, 'cat', '/proc/self/mountinfo']);
    expect(gateMounts.stdout).toContain(' /var/lib/clawjail-egress ');
    const gateFind = await lab.docker(['exec', lab.specs.egress.name, 'sh', '-c', 'find / \\( -path /proc -o -path /sys \\) -prune -o -name admin.sock -print 2>/dev/null; true']);
    expect(gateFind.stdout.trim()).toBe(egressFiles.adminSocket);

    const otherPorts = [22, 53, 80, 443, 3129, 8080, 9229];
    const r = await lab.cellProbe([
      ...otherPorts.map((port) => ({ id: `link ${port}`, kind: 'open', host: lab.gate.egress, port, timeoutMs: 2000 })),
      { id: 'bridge 3128', kind: 'open', host: lab.bridgeAddr.egress, port: 3128, timeoutMs: 2000 },
      { id: 'bridge 80', kind: 'open', host: lab.bridgeAddr.egress, port: 80, timeoutMs: 2000 },
      { id: 'link 3128', kind: 'open', host: lab.gate.egress, port: 3128 },
      connect('link 3128 answers', `nope${nonce()}.cjm.test:443`, NAMES.allowed),
    ]);
    for (const id of [...otherPorts.map((p) => `link ${p}`), 'bridge 3128', 'bridge 80']) {
      expect({ id, ok: r[id].ok }).toEqual({ id, ok: false });
      expect(r[id].error).toMatch(/ECONNREFUSED|timeout|EHOSTUNREACH/);
    }
    expect(r['link 3128'].ok).toBe(true);
    expect(r['link 3128 answers'].status).toBe(403);
    // What the gate listens on, seen from inside it: the link address's 3128 only (loopback is
    // Docker's embedded DNS).
    const tcp = await lab.docker(['exec', lab.specs.egress.name, 'cat', '/proc/net/tcp']);
    const listening = tcp.stdout
      .split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === '0A')
      .map((f) => {
        const [hex, port] = f[1].split(':');
        const ip = [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
        return `${ip}:${parseInt(port, 16)}`;
      })
      .filter((a) => !a.startsWith('127.'));
    expect(listening).toEqual([`${lab.gate.egress}:3128`]);
  });

  it('8. the provider route adds the key outside the cell; the key is nowhere in the cell (and the same search finds it in the gate)', async () => {
    const n = nonce();
    const r = await lab.cellProbe([
      { id: 'provider', kind: 'origin', proxy: lab.proxy, path: `/providers/fake/echo/${n}?q=1`, nonce: n, authorization: 'Bearer stolen' },
      { id: 'unknown', kind: 'origin', proxy: lab.proxy, path: `/providers/nosuch/echo/${n}`, nonce: n },
    ]);
    reached(r.provider, n, `world-tls ${NAMES.provider}`);
    expect(r.unknown.status).toBe(404);
    const seen = (await lab.worldStats()).requests.filter((q) => q.nonce === n);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ sni: NAMES.provider, path: `/v1/echo/${n}?q=1`, authorization: `Bearer ${lab.providerKey}` });
    expect(r.provider.body).not.toContain(lab.providerKey);

    // The search: the key on stdin (never in an argv or env of the cell), every readable
    // /proc/*/environ, then every file but /proc and /sys.
    const search =
      'k=$(cat); r=0; u=0; for f in /proc/[0-9]*/environ; do if [ -r "$f" ] && tr "\\0" "\\n" < "$f" >/dev/null 2>&1; then r=$((r+1)); ' +
      'if grep -q -a -F -e "$k" "$f" 2>/dev/null; then echo "FOUND $f"; fi; else u=$((u+1)); fi; done; echo "environ readable=$r unreadable=$u"; ' +
      'grep -r -l -a -F -D skip --exclude-dir=proc --exclude-dir=sys -e "$k" / 2>/dev/null | sed "s/^/FOUND /"; echo done';
    const inCell = await lab.docker(['exec', '-i', lab.specs.cell.name, 'sh', '-c', search], { input: lab.providerKey });
    expect(inCell.stdout).toMatch(/environ readable=[1-9]/);
    expect(inCell.stdout).toMatch(/done\s*$/);
    expect(inCell.stdout).not.toContain('FOUND');
    const view = await lab.docker(['exec', lab.specs.cell.name, 'node', '-e', 'process.stdout.write(JSON.stringify(process.env))']);
    expect(view.stdout).not.toContain(lab.providerKey);
    const inspect = JSON.stringify(await lab.engine.request('GET', `/containers/${lab.specs.cell.name}/json`));
    expect(inspect).not.toContain(lab.providerKey);

    const inGate = await lab.docker(['exec', '-i', lab.specs.egress.name, 'sh', '-c', search], { input: lab.providerKey });
    expect(inGate.stdout).toContain(`FOUND ${egressFiles.providers}`);
    // ...and, as the contract says, not in the gate's environment nor in its log.
    expect(inGate.stdout).not.toMatch(/FOUND \/proc\//);
    expect(JSON.stringify(await lab.decisions())).not.toContain(lab.providerKey);
    await waitDecision((d) => d.kind === 'provider' && d.decision === 'allow');
  });

  it('9. git clones through the gate over HTTP and HTTPS (the proxy variables only); a remote off the list is refused and logged', async () => {
    // The cell's git (libcurl) finds the gate through http_proxy/https_proxy alone; over HTTPS it
    // verifies the world's certificate with the lab's CA, given as GIT_SSL_CAINFO.
    const clone = (url: string, dir: string) =>
      lab.docker(['exec', '-i', lab.specs.cell.name, 'sh', '-c', `cat > /tmp/lab-ca.pem; GIT_SSL_CAINFO=/tmp/lab-ca.pem GIT_TERMINAL_PROMPT=0 git clone -q ${url} /tmp/${dir} 2>&1 && cat /tmp/${dir}/nonce.txt`], {
        input: lab.caPem,
        check: false,
      });
    const http = await clone(`http://${NAMES.allowed}/git/repo.git`, 'git-http');
    expect({ code: http.code, out: http.stdout.trim() }).toEqual({ code: 0, out: lab.repoNonce });
    const tls = await clone(`https://${NAMES.allowed}/git/repo.git`, 'git-https');
    expect({ code: tls.code, out: tls.stdout.trim() }).toEqual({ code: 0, out: lab.repoNonce });
    // (test 6 allowed `other` for good; `temp`'s allow has expired)
    const off = await clone(`https://${NAMES.temp}/git/repo.git`, 'git-off');
    expect(off.code).not.toBe(0);
    expect(off.stdout).toMatch(/403/);
    expect(off.stdout).not.toContain(lab.repoNonce);
    // The world saw the allowed clones arrive (HTTP and TLS), and nothing for the other name.
    const w = await lab.worldStats();
    expect(w.httpRequests.some((q) => q.path === '/git/repo.git/info/refs?service=git-upload-pack')).toBe(true);
    expect(w.requests.some((q) => q.sni === NAMES.allowed && q.path.startsWith('/git/repo.git/'))).toBe(true);
    expect(w.requests.some((q) => q.sni === NAMES.temp && q.path.startsWith('/git/'))).toBe(false);
    await waitDecision((d) => d.host === NAMES.temp && d.decision === 'deny' && d.reason === 'not-allowed' && d.kind === 'connect');
    await waitDecision((d) => d.host === NAMES.allowed && d.port === 80 && d.decision === 'allow' && d.kind === 'http');
  });

  it("10. Docker's healthcheck of the gate (the spec's) reports healthy, and nothing restarted during the suite", async () => {
    const deadline = Date.now() + 90_000;
    let health = '';
    while (Date.now() < deadline) {
      const info = await lab.engine.request<{ State: { Health?: { Status: string } } }>('GET', `/containers/${lab.specs.egress.name}/json`);
      health = info.State.Health?.Status ?? 'none';
      if (health === 'healthy' || health === 'unhealthy') break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(health).toBe('healthy');
    for (const [name, clock] of Object.entries(clocks)) expect({ name, ...(await lab.clock(name)) }).toEqual({ name, ...clock, running: true });
  });
});

// A write of the audit log that fails part-way (the store volume full, a file size limit) leaves a
// fragment with no newline. The next entry must still be a line of its own: glued onto the
// fragment, it would be lost to every reader. The child process appends under a file size limit
// that the test lowers and raises with prlimit(1), so the kernel itself makes the short write.
import { spawn, execFileSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as readline from 'readline';
import { tempDir } from '../../test/helpers/wait';
import { buildWarden, WARDEN_DIR } from './wardenProcess';

jest.setTimeout(60_000);

const CHILD = `
const { AuditLog } = require(${JSON.stringify(path.join(WARDEN_DIR, 'dist', 'audit.js'))});
const log = AuditLog.open(process.argv[1]);
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (n) => {
  log.append({ event: 'entry', n: Number(n), pad: 'x'.repeat(200) }).then(
    () => console.log('ok ' + n),
    (e) => console.log('error ' + n + ' ' + (e.code || e.message)),
  );
});
`;

class Child {
  private readonly answers: string[] = [];
  private readonly waiters: Array<(l: string) => void> = [];
  readonly proc: ChildProcess;
  constructor(file: string) {
    // SIGXFSZ ignored (inherited through exec), so that going over the limit is EFBIG, not death.
    this.proc = spawn('sh', ['-c', 'trap "" XFSZ; exec "$0" -e "$1" "$2"', process.execPath, CHILD, file], { stdio: ['pipe', 'pipe', 'inherit'] });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w(l);
      else this.answers.push(l);
    });
  }
  append(n: number): Promise<string> {
    this.proc.stdin!.write(`${n}\n`);
    const ready = this.answers.shift();
    return ready !== undefined ? Promise.resolve(ready) : new Promise((r) => this.waiters.push(r));
  }
  fileSizeLimit(bytes: number | 'unlimited'): void {
    execFileSync('prlimit', ['--pid', String(this.proc.pid), `--fsize=${bytes}:unlimited`]);
  }
}

describe('the audit log after a write that failed part-way', () => {
  let dir: string;
  let child: Child | undefined;
  beforeAll(() => buildWarden());
  beforeEach(() => (dir = tempDir('cjw-audit-')));
  afterEach(() => {
    child?.proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts the next entry on a line of its own, and every entry written whole reads back', async () => {
    const file = path.join(dir, 'audit.log');
    child = new Child(file);
    expect(await child.append(1)).toBe('ok 1');
    // Room for 40 more bytes: the next line (about 280) is cut short, then refused with EFBIG.
    child.fileSizeLimit(fs.statSync(file).size + 40);
    expect(await child.append(2)).toBe('error 2 EFBIG');
    const torn = fs.statSync(file).size;
    expect(torn).toBeGreaterThan(0);
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(false); // the kernel did write a fragment
    child.fileSizeLimit('unlimited');
    expect(await child.append(3)).toBe('ok 3');
    expect(await child.append(4)).toBe('ok 4');

    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    const parsed = lines.map((l) => {
      try {
        return (JSON.parse(l) as { n: number }).n;
      } catch {
        return 'fragment';
      }
    });
    expect(parsed).toEqual([1, 'fragment', 3, 4]);
  });
});

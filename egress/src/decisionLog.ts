// The decision log: one JSON object per line, appended; rotated into `<path>.1` past maxBytes.
// Lines carry destinations and byte counts only: never headers, bodies or keys.
import * as fs from 'fs';

export type DecisionKind = 'connect' | 'http' | 'provider';

export interface Decision {
  time: string;
  kind: DecisionKind;
  /** null when the request never named one (a head too large, a malformed request). */
  host: string | null;
  port: number | null;
  address: string | null;
  decision: 'allow' | 'deny';
  rule: string | null;
  reason: string | null;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  provider?: string;
}

export const DEFAULT_ROTATE_BYTES = 16 * 1024 * 1024;

export class DecisionLog {
  private fd: number | undefined;
  private size = 0;

  constructor(
    readonly path: string,
    private readonly rotateBytes = DEFAULT_ROTATE_BYTES,
    private readonly onError: (e: Error) => void = () => undefined,
  ) {}

  private open(): number {
    if (this.fd === undefined) {
      this.fd = fs.openSync(this.path, 'a', 0o600);
      this.size = fs.fstatSync(this.fd).size;
    }
    return this.fd;
  }

  write(d: Decision): void {
    const line = Buffer.from(JSON.stringify(d) + '\n', 'utf8');
    try {
      let fd = this.open();
      if (this.size > 0 && this.size + line.length > this.rotateBytes) {
        fs.closeSync(fd);
        this.fd = undefined;
        fs.renameSync(this.path, this.path + '.1');
        fd = this.open();
      }
      fs.writeSync(fd, line);
      this.size += line.length;
    } catch (e) {
      this.onError(e as Error);
    }
  }

  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function tailOf(file: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fs.fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    fs.readSync(fd, buf, 0, len, size - len);
    let text = buf.toString('utf8');
    if (len < size) text = text.slice(text.indexOf('\n') + 1); // drop the partial first line
    return text;
  } finally {
    fs.closeSync(fd);
  }
}

/** The last decisions (oldest first), from `<path>.1` and `<path>`, about maxBytes of them. */
export function readDecisionTail(path: string, maxBytes = 2 * 1024 * 1024): Decision[] {
  const current = tailOf(path, maxBytes);
  const older = current.length < maxBytes ? tailOf(path + '.1', maxBytes - current.length) : '';
  const out: Decision[] = [];
  for (const line of (older + '\n' + current).split('\n')) {
    if (!line.trim()) continue;
    try {
      const d = JSON.parse(line) as Decision;
      if (d && typeof d === 'object' && typeof d.decision === 'string') out.push(d);
    } catch {
      // a torn or foreign line: skip it
    }
  }
  return out;
}

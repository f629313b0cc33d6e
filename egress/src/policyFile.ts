// The policy file on disk: load, watch (directory watch + poll, since an atomic rename replaces
// the inode a file watch would follow), and rewrite atomically for permanent admin changes.
// A missing or invalid file means no policy: the gate then denies everything (`no-policy`).
import * as fs from 'fs';
import * as path from 'path';
import { parsePolicy, policyDocument, type Policy } from './policy';

export interface PolicyState {
  policy: Policy | null;
  /** Why there is no policy (missing file, bad JSON, bad entry); null when loaded. */
  error: string | null;
}

export function loadPolicyFile(file: string): { state: PolicyState; raw: string | null } {
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { state: { policy: null, error: code === 'ENOENT' ? `${file} does not exist` : `cannot read ${file}: ${code ?? (e as Error).message}` }, raw: null };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(raw);
  } catch (e) {
    return { state: { policy: null, error: `${file} is not valid JSON: ${(e as Error).message}` }, raw };
  }
  try {
    return { state: { policy: parsePolicy(doc), error: null }, raw };
  } catch (e) {
    return { state: { policy: null, error: `${file}: ${(e as Error).message}` }, raw };
  }
}

/** Write `text` to `file` by tmp + fsync + rename (+ fsync of the directory). */
export function writeFileAtomic(file: string, text: string, mode = 0o644): void {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const fd = fs.openSync(tmp, 'wx', mode);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // some filesystems refuse fsync on a directory; the rename is already done
  }
}

export function policyFileText(policy: Policy): string {
  return JSON.stringify(policyDocument(policy), null, 2) + '\n';
}

export class PolicyFile {
  private state: PolicyState = { policy: null, error: 'not loaded yet' };
  /** The content last applied (or a marker for a missing/unreadable file). */
  private raw: string | undefined;
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string,
    private readonly onChange: (state: PolicyState) => void,
    private readonly pollMs = 1_000,
  ) {}

  current(): PolicyState {
    return this.state;
  }

  /** Loads now, then watches. */
  start(): PolicyState {
    this.reload();
    try {
      this.watcher = fs.watch(path.dirname(this.file), { persistent: false }, (_event, name) => {
        if (name === null || name === path.basename(this.file)) this.reload();
      });
      this.watcher.on('error', () => undefined);
    } catch {
      // no inotify (or the directory is missing): the poll below still applies changes
    }
    this.timer = setInterval(() => this.reload(), this.pollMs);
    this.timer.unref();
    return this.state;
  }

  /** Re-read; calls onChange only when the file's content (or its absence) changed. */
  reload(): PolicyState {
    const { state, raw } = loadPolicyFile(this.file);
    const key = raw ?? `\0missing: ${state.error}`;
    if (key === this.raw) return this.state;
    this.raw = key;
    this.state = state;
    this.onChange(state);
    return state;
  }

  /**
   * Apply a permanent change: read the file as it is now, change it, write it atomically, apply.
   * A missing file counts as empty; an invalid one is an error (never clobbered).
   */
  update(change: (p: Policy) => Policy): Policy {
    const { state, raw } = loadPolicyFile(this.file);
    let base: Policy;
    if (state.policy) base = state.policy;
    else if (raw === null && !fs.existsSync(this.file)) base = { allow: [], deny: [] };
    else throw new Error(`the policy file is invalid, fix it first: ${state.error}`);
    const next = change(base);
    writeFileAtomic(this.file, policyFileText(next));
    this.reload();
    return next;
  }

  close(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }
}

import {
  ALLOWED_PERSONALITIES,
  CELL_SYSCALL_DENYLIST,
  CLONE_NAMESPACE_FLAGS,
  CONDITIONAL_SYSCALLS,
  ENOSYS,
  EPERM,
  X86_64_SYSCALLS,
  allowedSyscalls,
  cellSeccompProfile,
  cellSeccompProfileFile,
  cellSeccompProfileJson,
  deniedSyscalls,
  seccompVerdict,
  type SeccompProfile,
} from '../../infra/spec/seccomp';

const profile = cellSeccompProfile();
const verdict = (name: string, args: number[] = []) => seccompVerdict(profile, name, args);
const allowed = (name: string, args: number[] = []) => verdict(name, args).action === 'SCMP_ACT_ALLOW';

const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
// What glibc passes for pthread_create and for fork().
const THREAD_FLAGS = 0x003d0f00;
const FORK_FLAGS = 0x01200011;

/**
 * Every x86_64 system call that Docker's default seccomp profile refuses to a container holding
 * none of the capabilities it keys on (moby profiles/seccomp/default.json), plus the calls it
 * only allows with argument filters. Our profile must refuse at least all of these.
 */
const DOCKER_DENIES_UNPRIVILEGED = [
  'acct', 'add_key', 'afs_syscall', 'bpf', 'chroot', 'clock_settime', 'create_module',
  'delete_module', 'fanotify_init', 'finit_module', 'fsconfig', 'fsmount', 'fsopen', 'fspick',
  'get_kernel_syms', 'get_mempolicy', 'getpmsg', 'init_module', 'ioperm', 'iopl', 'kcmp',
  'kexec_file_load', 'kexec_load', 'keyctl', 'lookup_dcookie', 'mbind', 'migrate_pages', 'mount',
  'mount_setattr', 'move_mount', 'move_pages', 'nfsservctl', 'open_by_handle_at', 'open_tree',
  'perf_event_open', 'pidfd_getfd', 'pivot_root', 'process_madvise', 'putpmsg', 'query_module',
  'quotactl', 'quotactl_fd', 'reboot', 'request_key', 'security', 'set_mempolicy',
  'set_mempolicy_home_node', 'setdomainname', 'sethostname', 'setns', 'settimeofday', 'swapoff',
  'swapon', 'syslog', '_sysctl', 'sysfs', 'tuxcall', 'umount2', 'unshare', 'uselib',
  'userfaultfd', 'ustat', 'vhangup', 'vserver',
];

describe('seccomp profile for the cell', () => {
  it('denies by default with EPERM, for the 64-bit ABIs only (32-bit calls are refused whole)', () => {
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(profile.defaultErrnoRet).toBe(EPERM);
    expect(profile.architectures).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64']);
  });

  it('refuses ptrace and every other way into a same-uid process', () => {
    for (const name of ['ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'pidfd_getfd', 'kcmp']) {
      expect(verdict(name)).toEqual({ action: 'SCMP_ACT_ERRNO', errno: EPERM });
    }
  });

  it('refuses mounts, namespaces, BPF, io_uring, keyrings, file handles and kernel loading', () => {
    for (const name of [
      'mount', 'umount2', 'fsopen', 'open_tree', 'move_mount', 'pivot_root', 'chroot',
      'unshare', 'setns', 'bpf', 'perf_event_open', 'userfaultfd',
      'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'keyctl', 'add_key', 'request_key',
      'open_by_handle_at', 'name_to_handle_at', 'init_module', 'finit_module', 'kexec_load', 'reboot',
      'settimeofday', 'clock_settime', 'adjtimex', 'iopl', 'ioperm', 'syslog', 'swapon', 'acct',
    ]) {
      expect(allowed(name)).toBe(false);
    }
  });

  it('refuses at least everything Docker\'s default profile refuses an unprivileged container', () => {
    const denied = deniedSyscalls();
    const missing = DOCKER_DENIES_UNPRIVILEGED.filter((n) => !denied.has(n));
    expect(missing).toEqual([]);
    for (const name of DOCKER_DENIES_UNPRIVILEGED) expect(allowed(name)).toBe(false);
  });

  it('allows the everyday calls Node and OpenClaw need', () => {
    for (const name of [
      'read', 'write', 'openat', 'close', 'mmap', 'mprotect', 'futex', 'epoll_wait', 'epoll_pwait',
      'execve', 'wait4', 'fork', 'vfork', 'kill', 'socketpair', 'connect', 'accept4', 'statx',
      'getrandom', 'rseq', 'prctl', 'arch_prctl', 'seccomp', 'mknodat', 'pidfd_open', 'memfd_create',
    ]) {
      expect(allowed(name)).toBe(true);
    }
  });

  it('allows clone for threads and processes but not with any namespace flag', () => {
    expect(CLONE_NAMESPACE_FLAGS).toBe(
      CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET,
    );
    expect(allowed('clone', [THREAD_FLAGS])).toBe(true);
    expect(allowed('clone', [FORK_FLAGS])).toBe(true);
    for (const ns of [CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET]) {
      expect(verdict('clone', [FORK_FLAGS | ns])).toEqual({ action: 'SCMP_ACT_ERRNO', errno: EPERM });
    }
    // The clone rule is conditional only: no unconditional rule may let clone through.
    const unconditional = profile.syscalls.filter((r) => !r.args?.length && r.action === 'SCMP_ACT_ALLOW');
    for (const r of unconditional) for (const n of CONDITIONAL_SYSCALLS) expect(r.names).not.toContain(n);
  });

  it('answers clone3 with ENOSYS so that libc falls back to the filtered clone', () => {
    expect(verdict('clone3')).toEqual({ action: 'SCMP_ACT_ERRNO', errno: ENOSYS });
  });

  it('allows only the personality values Docker allows', () => {
    for (const p of ALLOWED_PERSONALITIES) expect(allowed('personality', [p])).toBe(true);
    expect(allowed('personality', [0x0040000])).toBe(false); // ADDR_NO_RANDOMIZE
    expect(allowed('personality', [0x0400000])).toBe(false); // READ_IMPLIES_EXEC
  });

  it('allows sockets of every family but AF_VSOCK', () => {
    expect(allowed('socket', [2 /* AF_INET */])).toBe(true);
    expect(allowed('socket', [1 /* AF_UNIX */])).toBe(true);
    expect(allowed('socket', [10 /* AF_INET6 */])).toBe(true);
    expect(allowed('socket', [40 /* AF_VSOCK */])).toBe(false);
  });

  it('names only real x86_64 system calls, each exactly once', () => {
    const table = new Set(X86_64_SYSCALLS);
    expect(table.size).toBe(X86_64_SYSCALLS.length);
    expect(X86_64_SYSCALLS[0]).toBe('read');
    expect(X86_64_SYSCALLS).toContain('set_mempolicy_home_node');
    const named = profile.syscalls.flatMap((r) => r.names);
    expect(named.filter((n) => !table.has(n))).toEqual([]);
    const groups = CELL_SYSCALL_DENYLIST.flatMap((g) => g.names);
    expect(groups.filter((n) => !table.has(n))).toEqual([]);
    expect(new Set(groups).size).toBe(groups.length);
    for (const g of CELL_SYSCALL_DENYLIST) expect(g.reason.length).toBeGreaterThan(10);
  });

  it('partitions the table: every call is allowed, conditional or denied, and never two of them', () => {
    const allow = new Set(allowedSyscalls());
    const denied = deniedSyscalls();
    for (const name of X86_64_SYSCALLS) {
      const kinds = [allow.has(name), denied.has(name), CONDITIONAL_SYSCALLS.includes(name)].filter(Boolean);
      expect([name, kinds.length]).toEqual([name, 1]);
    }
    expect(allow.size + denied.size + CONDITIONAL_SYSCALLS.length).toBe(X86_64_SYSCALLS.length);
  });

  it('refuses calls the table does not know (newer kernels) by default', () => {
    expect(allowed('cachestat')).toBe(false);
    expect(allowed('no_such_call')).toBe(false);
  });

  it('serialises to valid JSON in Docker\'s format, compact for the API and indented for files', () => {
    const compact = cellSeccompProfileJson();
    expect(compact).not.toMatch(/\n/);
    const parsed = JSON.parse(compact) as SeccompProfile;
    expect(parsed).toEqual(profile);
    expect(JSON.parse(cellSeccompProfileFile())).toEqual(profile);
    for (const rule of parsed.syscalls) {
      expect(rule.names.length).toBeGreaterThan(0);
      expect(['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO']).toContain(rule.action);
      for (const a of rule.args ?? []) {
        expect(Number.isInteger(a.value) && a.value >= 0 && a.value <= 0xffffffff).toBe(true);
        expect(a.index).toBeGreaterThanOrEqual(0);
        expect(a.index).toBeLessThan(6);
      }
    }
    // The Engine API carries it inside a security option; keep it small.
    expect(compact.length).toBeLessThan(16 * 1024);
  });

  it('is deterministic', () => {
    expect(cellSeccompProfileJson()).toBe(cellSeccompProfileJson());
  });
});

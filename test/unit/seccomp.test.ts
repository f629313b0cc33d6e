import {
  AF_INET,
  AF_INET6,
  AF_NETLINK,
  AF_UNIX,
  ALLOWED_NETLINK_PROTOCOLS,
  ALLOWED_PERSONALITIES,
  ALLOWED_SOCKET_FAMILIES,
  CELL_SYSCALL_DENYLIST,
  CLONE_NAMESPACE_FLAGS,
  CONDITIONAL_SYSCALLS,
  ENOSYS,
  EPERM,
  NETLINK_ROUTE,
  X86_64_SYSCALLS,
  allowedSyscalls,
  cellSeccompProfile,
  cellSeccompProfileFile,
  cellSeccompProfileJson,
  deniedSyscalls,
  seccompVerdict,
  type SeccompProfile,
} from '../../infra/model/seccomp';

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
      'execve', 'wait4', 'fork', 'vfork', 'kill', 'connect', 'accept4', 'bind', 'listen', 'statx',
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

  describe('sockets: the families the jail uses, by exact value, and nothing else', () => {
    const SOCK_STREAM = 1;
    const SOCK_DGRAM = 2;
    const SOCK_RAW = 3;
    const SOCK_NONBLOCK_CLOEXEC = 0o4000 | 0o2000000;
    const rulesFor = (name: string) => profile.syscalls.filter((r) => r.names.includes(name));
    const refused = { action: 'SCMP_ACT_ERRNO', errno: EPERM };

    it('socket(): AF_UNIX, AF_INET, AF_INET6, and AF_NETLINK with NETLINK_ROUTE only', () => {
      expect([AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, NETLINK_ROUTE]).toEqual([1, 2, 10, 16, 0]);
      expect(ALLOWED_SOCKET_FAMILIES).toEqual([AF_UNIX, AF_INET, AF_INET6]);
      expect(ALLOWED_NETLINK_PROTOCOLS).toEqual([NETLINK_ROUTE]);
      // Exactly these rules name socket: allow-only, each an equality (never "all but", which
      // lets a family through with junk in the argument's upper 32 bits), no argument twice.
      expect(rulesFor('socket').map(({ names, action, args }) => ({ names, action, args }))).toEqual([
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1, op: 'SCMP_CMP_EQ' }] },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 10, op: 'SCMP_CMP_EQ' }] },
        {
          names: ['socket'], action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 16, op: 'SCMP_CMP_EQ' }, { index: 2, value: 0, op: 'SCMP_CMP_EQ' }],
        },
      ]);
      for (const rule of profile.syscalls) {
        const indexes = (rule.args ?? []).map((a) => a.index);
        expect(new Set(indexes).size).toBe(indexes.length);
      }
    });

    it('socket(): every other family is refused with EPERM, whatever the type or protocol', () => {
      const allowedFamilies = new Set([AF_UNIX, AF_INET, AF_INET6]);
      for (let family = 0; family < 64; family++) {
        for (const type of [SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_DGRAM | SOCK_NONBLOCK_CLOEXEC]) {
          for (const protocol of [0, 1, 6, 17]) {
            const v = verdict('socket', [family, type, protocol]);
            if (allowedFamilies.has(family) || (family === AF_NETLINK && protocol === 0)) expect([family, v]).toEqual([family, { action: 'SCMP_ACT_ALLOW' }]);
            else expect([family, v]).toEqual([family, refused]);
          }
        }
      }
      // Those named in the issue, one by one.
      const named = { AF_AX25: 3, AF_APPLETALK: 5, AF_NETROM: 6, AF_X25: 9, AF_ROSE: 11, AF_DECnet: 12, AF_KEY: 15, AF_PACKET: 17,
        AF_RDS: 21, AF_PPPOX: 24, AF_LLC: 26, AF_CAN: 29, AF_TIPC: 30, AF_BLUETOOTH: 31, AF_IEEE802154: 36, AF_ALG: 38,
        AF_NFC: 39, AF_VSOCK: 40, AF_QIPCRTR: 42, AF_SMC: 43, AF_XDP: 44, AF_MCTP: 45 };
      for (const [name, family] of Object.entries(named)) expect([name, verdict('socket', [family, SOCK_DGRAM, 0])]).toEqual([name, refused]);
    });

    it('socket(AF_NETLINK): NETLINK_ROUTE only (getifaddrs, getaddrinfo), not uevents, generic netlink, audit, ...', () => {
      expect(allowed('socket', [AF_NETLINK, SOCK_RAW, 0])).toBe(true);
      expect(allowed('socket', [AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK_CLOEXEC, 0])).toBe(true);
      for (let protocol = 1; protocol < 32; protocol++) {
        expect([protocol, verdict('socket', [AF_NETLINK, SOCK_RAW, protocol])]).toEqual([protocol, refused]);
      }
    });

    it('socket(): junk in the upper 32 bits of an argument (the kernel drops it) matches no rule', () => {
      const HIGH = 2 ** 32;
      for (const family of [AF_UNIX, AF_INET, 40 /* AF_VSOCK */, 17 /* AF_PACKET */]) {
        expect(verdict('socket', [HIGH + family, SOCK_STREAM, 0])).toEqual(refused);
      }
      expect(verdict('socket', [HIGH + AF_NETLINK, SOCK_RAW, 0])).toEqual(refused);
      expect(verdict('socket', [AF_NETLINK, SOCK_RAW, HIGH])).toEqual(refused);
    });

    it('socketpair(): AF_UNIX only (AF_TIPC implements it too)', () => {
      expect(rulesFor('socketpair').map(({ action, args }) => ({ action, args }))).toEqual([
        { action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_UNIX, op: 'SCMP_CMP_EQ' }] },
      ]);
      expect(allowed('socketpair', [AF_UNIX, SOCK_STREAM, 0])).toBe(true);
      for (const family of [0, AF_INET, AF_INET6, AF_NETLINK, 30 /* AF_TIPC */, 40]) {
        expect(verdict('socketpair', [family, SOCK_STREAM, 0])).toEqual(refused);
      }
    });

    it('the calls that take an existing socket stay allowed (they cannot create one of a new family)', () => {
      for (const name of ['connect', 'bind', 'listen', 'accept', 'accept4', 'sendto', 'recvfrom', 'sendmsg', 'recvmsg',
        'sendmmsg', 'recvmmsg', 'shutdown', 'getsockname', 'getpeername', 'setsockopt', 'getsockopt']) {
        expect([name, allowed(name)]).toEqual([name, true]);
      }
      // i386's socketcall and ipc multiplexers are not in the x86_64 table: 32-bit calls are
      // refused whole (the architectures above), so they are never reachable.
      expect(X86_64_SYSCALLS).not.toContain('socketcall');
      expect(X86_64_SYSCALLS).not.toContain('ipc');
      expect(profile.architectures).not.toContain('SCMP_ARCH_X86');
    });
  });

  it('refuses the SysV message queues (msg_msg, the heap-spray primitive), and keeps semaphores and shared memory', () => {
    for (const name of ['msgget', 'msgsnd', 'msgrcv', 'msgctl']) {
      expect([name, verdict(name, [0, 0o600])]).toEqual([name, { action: 'SCMP_ACT_ERRNO', errno: EPERM }]);
      expect(deniedSyscalls().has(name)).toBe(true);
    }
    for (const name of ['semget', 'semop', 'semctl', 'semtimedop', 'shmget', 'shmat', 'shmdt', 'shmctl']) expect(allowed(name)).toBe(true);
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

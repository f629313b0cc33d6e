// The cell's seccomp profile: Docker's default profile, tightened where the jail needs it.
//
// Built as "every syscall of the x86_64 table" minus a denylist, so that each refusal is one
// readable line with its reason, instead of an allowlist of 300 names nobody can review.
// Everything Docker's default profile refuses to an unprivileged container is refused here too;
// beyond that we refuse what Docker allows but the jail must not: above all ptrace and its
// relatives (Docker allows same-uid ptrace on kernels >= 4.8, and with no Yama LSM the prisoner
// could attach to the OpenClaw gateway, which holds the operator's token), io_uring, file
// handles, SysV message queues, and every socket family the jail does not use (AF_VSOCK: the
// jail's host may itself be a VM talking vsock to its host; the rest: each family is kernel code
// an unprivileged socket() reaches, or even loads as a module, and the classic home of exploits).
//
// Pure data and functions: no imports, no I/O. Apply the JSON with
// `--security-opt seccomp=<file>` (CLI) or `seccomp=<json>` (Engine API, @pulumi/docker).

export type SeccompAction = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO' | 'SCMP_ACT_KILL' | 'SCMP_ACT_LOG';
export type SeccompArch = 'SCMP_ARCH_X86_64' | 'SCMP_ARCH_X86' | 'SCMP_ARCH_X32' | 'SCMP_ARCH_AARCH64';
export type SeccompOp =
  | 'SCMP_CMP_NE' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_EQ'
  | 'SCMP_CMP_GE' | 'SCMP_CMP_GT' | 'SCMP_CMP_MASKED_EQ';

/** One argument test; all tests of a rule must hold (AND). For MASKED_EQ: (arg & value) == valueTwo. */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: SeccompOp;
}

export interface SeccompRule {
  names: string[];
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[];
  comment?: string;
}

/** The subset of Docker's seccomp profile format (moby/profiles/seccomp) that this profile uses. */
export interface SeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  architectures: SeccompArch[];
  syscalls: SeccompRule[];
}

export const EPERM = 1;
export const ENOSYS = 38;

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const NETLINK_ROUTE = 0;

/**
 * The only socket families any container of the jail may create (the profile is shared: cell,
 * gateway, warden, clamd, freshclam): local sockets, IPv4 and IPv6. Every other family is refused
 * with EPERM, the filter's own errno, which no kernel returns for a family it lacks (that is
 * EAFNOSUPPORT), so a refusal is visibly the filter's. Allowlisted by exact value: an int argument
 * with junk in its upper 32 bits matches no rule and is refused too.
 */
export const ALLOWED_SOCKET_FAMILIES: readonly number[] = [AF_UNIX, AF_INET, AF_INET6];

/**
 * AF_NETLINK only as NETLINK_ROUTE (protocol 0): glibc's getifaddrs (Node's os.networkInterfaces,
 * through libuv) and getaddrinfo's AI_ADDRCONFIG check read the interfaces and addresses over it.
 * The other protocols (generic netlink, sock_diag, xfrm, audit, netfilter, uevents, ...) are not
 * needed, and generic netlink alone fronts dozens of kernel subsystems.
 */
export const ALLOWED_NETLINK_PROTOCOLS: readonly number[] = [NETLINK_ROUTE];

/** Namespace flags of clone(2): NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET. */
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/**
 * personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and
 * 0xffffffff (query). Everything else (e.g. READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE) is refused.
 */
export const ALLOWED_PERSONALITIES: readonly number[] = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

export interface DenyGroup {
  reason: string;
  names: readonly string[];
}

/** Refused outright (EPERM). One group per reason. */
export const CELL_SYSCALL_DENYLIST: readonly DenyGroup[] = [
  { reason: 'reach into another process of the same uid (the gateway holds the operator token)',
    names: ['ptrace', 'process_vm_readv', 'process_vm_writev', 'process_madvise', 'pidfd_getfd', 'kcmp'] },
  { reason: 'namespaces: a user namespace hands out a full capability set, the door to most escapes',
    names: ['unshare', 'setns'] },
  { reason: 'reshape the filesystem view (old and new mount API)',
    names: ['mount', 'umount2', 'pivot_root', 'chroot', 'open_tree', 'move_mount', 'fsopen',
      'fsconfig', 'fsmount', 'fspick', 'mount_setattr'] },
  { reason: 'open files by handle, bypassing paths (the "shocker" container escape)',
    names: ['open_by_handle_at', 'name_to_handle_at'] },
  { reason: 'load or replace kernel code, reboot',
    names: ['init_module', 'finit_module', 'delete_module', 'create_module', 'query_module',
      'get_kernel_syms', 'kexec_load', 'kexec_file_load', 'reboot'] },
  { reason: 'kernel attack surface and exploit primitives: BPF, perf, userfaultfd',
    names: ['bpf', 'perf_event_open', 'userfaultfd'] },
  { reason: 'io_uring: large, bug-prone surface whose operations bypass this very filter',
    names: ['io_uring_setup', 'io_uring_enter', 'io_uring_register'] },
  { reason: 'kernel keyrings are not namespaced: they are shared with the host',
    names: ['add_key', 'request_key', 'keyctl'] },
  { reason: 'the clock is the host\'s; reading it (clock_gettime) stays allowed',
    names: ['settimeofday', 'clock_settime', 'clock_adjtime', 'adjtimex'] },
  { reason: 'raw port I/O and x86 segment tricks (LDT)',
    names: ['iopl', 'ioperm', 'modify_ldt'] },
  { reason: 'host administration: swap, accounting, quotas, kernel log, hostname, ttys',
    names: ['swapon', 'swapoff', 'acct', 'quotactl', 'quotactl_fd', 'syslog', 'vhangup',
      'sethostname', 'setdomainname', 'lookup_dcookie', 'fanotify_init'] },
  { reason: 'NUMA placement, including of other processes\' memory',
    names: ['mbind', 'set_mempolicy', 'get_mempolicy', 'set_mempolicy_home_node', 'move_pages',
      'migrate_pages'] },
  { reason: 'SysV message queues: nothing in the jail uses them, and msg_msg is the favourite heap-spray primitive of kernel exploits',
    names: ['msgget', 'msgsnd', 'msgrcv', 'msgctl'] },
  { reason: 'obsolete, or never implemented on x86_64',
    names: ['uselib', 'ustat', 'sysfs', '_sysctl', 'nfsservctl', 'getpmsg', 'putpmsg',
      'afs_syscall', 'tuxcall', 'security', 'vserver', 'epoll_ctl_old', 'epoll_wait_old'] },
];

/** Allowed only with the argument filters below; never part of the unconditional allowlist. */
export const CONDITIONAL_SYSCALLS: readonly string[] = ['clone', 'clone3', 'personality', 'socket', 'socketpair'];

function conditionalRules(): SeccompRule[] {
  return [
    {
      names: ['clone'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      comment: 'threads and processes yes, new namespaces no',
    },
    {
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: ENOSYS,
      comment: 'its flags live in memory seccomp cannot read; ENOSYS makes libc fall back to clone',
    },
    ...ALLOWED_PERSONALITIES.map<SeccompRule>((value) => ({
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
    })),
    ...ALLOWED_SOCKET_FAMILIES.map<SeccompRule>((value) => ({
      names: ['socket'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
    })),
    // One rule per protocol, each an AND of two different arguments (runc turns several tests of
    // one argument into an OR, so no rule here ever tests an argument twice).
    ...ALLOWED_NETLINK_PROTOCOLS.map<SeccompRule>((value) => ({
      names: ['socket'],
      action: 'SCMP_ACT_ALLOW',
      args: [
        { index: 0, value: AF_NETLINK, op: 'SCMP_CMP_EQ' },
        { index: 2, value, op: 'SCMP_CMP_EQ' },
      ],
      comment: 'netlink for the routing family only: interface and address lists',
    })),
    {
      names: ['socketpair'],
      action: 'SCMP_ACT_ALLOW',
      args: [{ index: 0, value: AF_UNIX, op: 'SCMP_CMP_EQ' }],
      comment: 'AF_UNIX only: socketpair would otherwise open AF_TIPC sockets around the socket rules',
    },
  ];
}

/** Every name the profile refuses outright. */
export function deniedSyscalls(): Set<string> {
  return new Set(CELL_SYSCALL_DENYLIST.flatMap((g) => g.names));
}

/** The unconditional allowlist: the x86_64 table minus the denylist and the conditional calls. */
export function allowedSyscalls(): string[] {
  const denied = deniedSyscalls();
  const conditional = new Set(CONDITIONAL_SYSCALLS);
  return X86_64_SYSCALLS.filter((n) => !denied.has(n) && !conditional.has(n));
}

/**
 * The cell's profile. Architectures: the 64-bit ABIs only. 32-bit (int 0x80 / x32) system
 * calls are refused as a whole, like any architecture the filter does not list: Node is 64-bit,
 * and the compat entry points are extra kernel surface (and i386's socketcall and ipc
 * multiplexers, whose socket family and msg* operation no filter can read, stay out of reach
 * with them: neither is in the x86_64 table). Syscalls newer than the table here
 * (Linux 6.1 UAPI) are refused too; runc answers them with ENOSYS so libc falls back.
 */
export function cellSeccompProfile(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
    syscalls: [{ names: allowedSyscalls(), action: 'SCMP_ACT_ALLOW' }, ...conditionalRules()],
  };
}

/** Compact JSON, as the Engine API's `seccomp=<json>` security option wants it. */
export function cellSeccompProfileJson(): string {
  return JSON.stringify(cellSeccompProfile());
}

/** Indented JSON, for a file handed to `docker run --security-opt seccomp=<file>`. */
export function cellSeccompProfileFile(): string {
  return `${JSON.stringify(cellSeccompProfile(), null, 2)}\n`;
}

export interface SeccompVerdict {
  action: SeccompAction;
  errno?: number;
}

function argMatches(a: SeccompArg, args: readonly number[]): boolean {
  const v = args[a.index] ?? 0;
  switch (a.op) {
    case 'SCMP_CMP_NE': return v !== a.value;
    case 'SCMP_CMP_LT': return v < a.value;
    case 'SCMP_CMP_LE': return v <= a.value;
    case 'SCMP_CMP_EQ': return v === a.value;
    case 'SCMP_CMP_GE': return v >= a.value;
    case 'SCMP_CMP_GT': return v > a.value;
    case 'SCMP_CMP_MASKED_EQ':
      // Bitwise on 32-bit ints would turn 0x80000000 negative; this arithmetic stays exact.
      return Number(BigInt(v) & BigInt(a.value)) === (a.valueTwo ?? 0);
  }
}

/**
 * What the profile does with one call, for tests and policy checks (a model of libseccomp's
 * evaluation: the first matching rule for the name wins, else the default action).
 */
export function seccompVerdict(
  profile: SeccompProfile,
  name: string,
  args: readonly number[] = [],
): SeccompVerdict {
  for (const rule of profile.syscalls) {
    if (!rule.names.includes(name)) continue;
    if (rule.args && !rule.args.every((a) => argMatches(a, args))) continue;
    return rule.action === 'SCMP_ACT_ERRNO'
      ? { action: rule.action, errno: rule.errnoRet ?? profile.defaultErrnoRet ?? EPERM }
      : { action: rule.action };
  }
  return profile.defaultAction === 'SCMP_ACT_ERRNO'
    ? { action: profile.defaultAction, errno: profile.defaultErrnoRet ?? EPERM }
    : { action: profile.defaultAction };
}

/**
 * System call names of the x86_64 table, in number order (0..450), from the Linux 6.1 UAPI
 * header asm/unistd_64.h. Regenerate with:
 *   grep -oP '^#define __NR_\K\w+(?= \d+)' /usr/include/x86_64-linux-gnu/asm/unistd_64.h
 */
export const X86_64_SYSCALLS: readonly string[] = [
  "read", "write", "open", "close", "stat", "fstat", "lstat", "poll", "lseek", "mmap", "mprotect",
  "munmap", "brk", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "ioctl", "pread64",
  "pwrite64", "readv", "writev", "access", "pipe", "select", "sched_yield", "mremap", "msync",
  "mincore", "madvise", "shmget", "shmat", "shmctl", "dup", "dup2", "pause", "nanosleep",
  "getitimer", "alarm", "setitimer", "getpid", "sendfile", "socket", "connect", "accept", "sendto",
  "recvfrom", "sendmsg", "recvmsg", "shutdown", "bind", "listen", "getsockname", "getpeername",
  "socketpair", "setsockopt", "getsockopt", "clone", "fork", "vfork", "execve", "exit", "wait4",
  "kill", "uname", "semget", "semop", "semctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
  "fcntl", "flock", "fsync", "fdatasync", "truncate", "ftruncate", "getdents", "getcwd", "chdir",
  "fchdir", "rename", "mkdir", "rmdir", "creat", "link", "unlink", "symlink", "readlink", "chmod",
  "fchmod", "chown", "fchown", "lchown", "umask", "gettimeofday", "getrlimit", "getrusage",
  "sysinfo", "times", "ptrace", "getuid", "syslog", "getgid", "setuid", "setgid", "geteuid",
  "getegid", "setpgid", "getppid", "getpgrp", "setsid", "setreuid", "setregid", "getgroups",
  "setgroups", "setresuid", "getresuid", "setresgid", "getresgid", "getpgid", "setfsuid",
  "setfsgid", "getsid", "capget", "capset", "rt_sigpending", "rt_sigtimedwait", "rt_sigqueueinfo",
  "rt_sigsuspend", "sigaltstack", "utime", "mknod", "uselib", "personality", "ustat", "statfs",
  "fstatfs", "sysfs", "getpriority", "setpriority", "sched_setparam", "sched_getparam",
  "sched_setscheduler", "sched_getscheduler", "sched_get_priority_max", "sched_get_priority_min",
  "sched_rr_get_interval", "mlock", "munlock", "mlockall", "munlockall", "vhangup", "modify_ldt",
  "pivot_root", "_sysctl", "prctl", "arch_prctl", "adjtimex", "setrlimit", "chroot", "sync",
  "acct", "settimeofday", "mount", "umount2", "swapon", "swapoff", "reboot", "sethostname",
  "setdomainname", "iopl", "ioperm", "create_module", "init_module", "delete_module",
  "get_kernel_syms", "query_module", "quotactl", "nfsservctl", "getpmsg", "putpmsg", "afs_syscall",
  "tuxcall", "security", "gettid", "readahead", "setxattr", "lsetxattr", "fsetxattr", "getxattr",
  "lgetxattr", "fgetxattr", "listxattr", "llistxattr", "flistxattr", "removexattr", "lremovexattr",
  "fremovexattr", "tkill", "time", "futex", "sched_setaffinity", "sched_getaffinity",
  "set_thread_area", "io_setup", "io_destroy", "io_getevents", "io_submit", "io_cancel",
  "get_thread_area", "lookup_dcookie", "epoll_create", "epoll_ctl_old", "epoll_wait_old",
  "remap_file_pages", "getdents64", "set_tid_address", "restart_syscall", "semtimedop",
  "fadvise64", "timer_create", "timer_settime", "timer_gettime", "timer_getoverrun",
  "timer_delete", "clock_settime", "clock_gettime", "clock_getres", "clock_nanosleep",
  "exit_group", "epoll_wait", "epoll_ctl", "tgkill", "utimes", "vserver", "mbind", "set_mempolicy",
  "get_mempolicy", "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify",
  "mq_getsetattr", "kexec_load", "waitid", "add_key", "request_key", "keyctl", "ioprio_set",
  "ioprio_get", "inotify_init", "inotify_add_watch", "inotify_rm_watch", "migrate_pages", "openat",
  "mkdirat", "mknodat", "fchownat", "futimesat", "newfstatat", "unlinkat", "renameat", "linkat",
  "symlinkat", "readlinkat", "fchmodat", "faccessat", "pselect6", "ppoll", "unshare",
  "set_robust_list", "get_robust_list", "splice", "tee", "sync_file_range", "vmsplice",
  "move_pages", "utimensat", "epoll_pwait", "signalfd", "timerfd_create", "eventfd", "fallocate",
  "timerfd_settime", "timerfd_gettime", "accept4", "signalfd4", "eventfd2", "epoll_create1",
  "dup3", "pipe2", "inotify_init1", "preadv", "pwritev", "rt_tgsigqueueinfo", "perf_event_open",
  "recvmmsg", "fanotify_init", "fanotify_mark", "prlimit64", "name_to_handle_at",
  "open_by_handle_at", "clock_adjtime", "syncfs", "sendmmsg", "setns", "getcpu",
  "process_vm_readv", "process_vm_writev", "kcmp", "finit_module", "sched_setattr",
  "sched_getattr", "renameat2", "seccomp", "getrandom", "memfd_create", "kexec_file_load", "bpf",
  "execveat", "userfaultfd", "membarrier", "mlock2", "copy_file_range", "preadv2", "pwritev2",
  "pkey_mprotect", "pkey_alloc", "pkey_free", "statx", "io_pgetevents", "rseq",
  "pidfd_send_signal", "io_uring_setup", "io_uring_enter", "io_uring_register", "open_tree",
  "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "pidfd_open", "clone3", "close_range",
  "openat2", "pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2", "mount_setattr",
  "quotactl_fd", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
  "memfd_secret", "process_mrelease", "futex_waitv", "set_mempolicy_home_node",
];

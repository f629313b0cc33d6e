/*
 * cellprobe: the prisoner's toolkit for clawjail's end-to-end attack tests.
 *
 * Each subcommand attempts one attack (some in several ways) and prints one JSON line per
 * attempt on stdout:
 *   {"attack":"mount","ok":false,"errno":"EPERM",...}
 * "ok":true means the attack WORKED. The exit status is 0 whenever the probe could run its
 * attempts (the verdict is in the JSON), 2 on a usage error.
 *
 * Every attempt is built to be harmless even where it succeeds (positive controls run it in
 * deliberately weak containers): what it mounts, creates or forks it removes again, it writes
 * back the hostname it read, and it only opens /proc/sysrq-trigger, never writes to it.
 *
 * Build: gcc -static -O2 -Wall -Wextra -o cellprobe cellprobe.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <linux/vm_sockets.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- output -------------------------------------------------------------------------- */

static const char *errname(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "EUNKNOWN";
}

static const char *signame(int sig) {
  const char *n = sigabbrev_np(sig);
  return n ? n : "?";
}

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

/*
 * One result line. ok: the attack worked. err: errno of the failure (0: none).
 * fmt: printf format of further JSON members, each starting with a comma, or NULL.
 */
static void report(const char *attack, int ok, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(const char *attack, int ok, int err, const char *fmt, ...) {
  printf("{\"attack\":");
  json_str(attack);
  printf(",\"ok\":%s", ok ? "true" : "false");
  if (err) {
    printf(",\"errno\":");
    json_str(errname(err));
  }
  if (fmt) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs(buf, stdout);
  }
  printf("}\n");
  fflush(stdout);
}

/* Formats a string as a JSON member into a static buffer (for report's extra). */
static const char *jstr(const char *key, const char *val) {
  static char buf[512];
  size_t o = (size_t)snprintf(buf, sizeof buf, ",\"%s\":\"", key);
  for (; *val && o + 8 < sizeof buf; val++) {
    unsigned char c = (unsigned char)*val;
    if (c == '"' || c == '\\') o += (size_t)snprintf(buf + o, sizeof buf - o, "\\%c", c);
    else if (c < 0x20) o += (size_t)snprintf(buf + o, sizeof buf - o, "\\u%04x", c);
    else buf[o++] = (char)c;
  }
  snprintf(buf + o, sizeof buf - o, "\"");
  return buf;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs fn in a child so that a successful namespace change cannot leak into later attempts.
 * Returns the child's errno (0: success), or -1 if the child could not be forked. */
static int in_child(int (*fn)(void)) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) _exit(fn() == 0 ? 0 : (errno & 0xff));
  int st;
  if (waitpid(pid, &st, 0) < 0) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

/* ---- attacks ------------------------------------------------------------------------- */

static int attack_mount(void) {
  const char *targets[] = {"/mnt", "/tmp/cellprobe-mnt", "/workspace/cellprobe-mnt"};
  for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
    const char *t = targets[i];
    int made = 0;
    if (i > 0) made = mkdir(t, 0700) == 0;
    if (mount("cellprobe", t, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m") == 0) {
      umount2(t, MNT_DETACH);
      report("mount", 1, 0, "%s", jstr("target", t));
    } else {
      int e = errno;
      report("mount", 0, e, "%s", jstr("target", t));
    }
    if (made) rmdir(t);
  }
  /* The new mount API is a separate door with its own syscalls. */
  long fd = syscall(SYS_fsopen, "tmpfs", 0);
  if (fd >= 0) {
    close((int)fd);
    report("mount-fsopen", 1, 0, NULL);
  } else {
    report("mount-fsopen", 0, errno, NULL);
  }
  return 0;
}

static int attack_mknod(void) {
  const char *dirs[] = {"/tmp", "/workspace", "/home/node"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    char path[256];
    snprintf(path, sizeof path, "%s/cellprobe-null", dirs[i]);
    unlink(path);
    if (mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0) {
      /* Created; on a nodev mount it still cannot be opened as a device. */
      int fd = open(path, O_WRONLY);
      int oe = fd < 0 ? errno : 0;
      if (fd >= 0) close(fd);
      unlink(path);
      char open_errno[64] = "";
      if (oe) snprintf(open_errno, sizeof open_errno, ",\"open_errno\":\"%s\"", errname(oe));
      report("mknod", 1, 0, "%s,\"opened\":%s%s", jstr("path", path), fd >= 0 ? "true" : "false",
             open_errno);
    } else {
      report("mknod", 0, errno, "%s", jstr("path", path));
    }
  }
  return 0;
}

static int attack_raw(void) {
  int fd = socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
  if (fd >= 0) {
    close(fd);
    report("raw-inet", 1, 0, NULL);
  } else {
    report("raw-inet", 0, errno, NULL);
  }
  fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd >= 0) {
    close(fd);
    report("raw-packet", 1, 0, NULL);
  } else {
    report("raw-packet", 0, errno, NULL);
  }
  return 0;
}

static int attack_vsock(void) {
  /* Creating the socket is the attack surface; nothing is connected or sent. */
  int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
  if (fd >= 0) {
    close(fd);
    report("vsock", 1, 0, NULL);
  } else {
    report("vsock", 0, errno, NULL);
  }
  return 0;
}

/* Socket families the jail does not use, with the (type, protocol) pairs that open them where
 * the kernel has them; every family is also tried with each type and protocol 0. */
struct sock_try {
  int type, protocol;
};
struct family {
  const char *name;
  int family;
  struct sock_try extra[4];
};
#define TRY_END {0, 0}
static const struct family FAMILIES[] = {
    {"ax25", 3, {TRY_END}},
    {"ipx", 4, {TRY_END}},
    {"appletalk", 5, {TRY_END}},
    {"netrom", 6, {TRY_END}},
    {"bridge", 7, {TRY_END}},
    {"atmpvc", 8, {TRY_END}},
    {"x25", 9, {TRY_END}},
    {"rose", 11, {TRY_END}},
    {"decnet", 12, {TRY_END}},
    {"netbeui", 13, {TRY_END}},
    {"security", 14, {TRY_END}},
    {"key", 15, {{SOCK_RAW, 2 /* PF_KEY_V2 */}, TRY_END}},
    {"packet", 17, {{SOCK_RAW, 0x0300 /* htons(ETH_P_ALL) */}, TRY_END}},
    {"ash", 18, {TRY_END}},
    {"econet", 19, {TRY_END}},
    {"atmsvc", 20, {TRY_END}},
    {"rds", 21, {TRY_END}},
    {"sna", 22, {TRY_END}},
    {"irda", 23, {TRY_END}},
    {"pppox", 24, {{SOCK_DGRAM, 1 /* PX_PROTO_OL2TP */}, TRY_END}},
    {"wanpipe", 25, {TRY_END}},
    {"llc", 26, {TRY_END}},
    {"ib", 27, {TRY_END}},
    {"mpls", 28, {TRY_END}},
    {"can", 29, {{SOCK_RAW, 1 /* CAN_RAW */}, {SOCK_DGRAM, 2 /* CAN_BCM */}, {SOCK_DGRAM, 6 /* CAN_ISOTP */}, {SOCK_DGRAM, 7 /* CAN_J1939 */}}},
    {"tipc", 30, {TRY_END}},
    {"bluetooth", 31, {{SOCK_RAW, 1 /* BTPROTO_HCI */}, {SOCK_STREAM, 3 /* BTPROTO_RFCOMM */}, {SOCK_SEQPACKET, 5 /* BTPROTO_SCO */}, TRY_END}},
    {"iucv", 32, {TRY_END}},
    {"rxrpc", 33, {{SOCK_DGRAM, 2 /* PF_INET */}, TRY_END}},
    {"isdn", 34, {TRY_END}},
    {"phonet", 35, {TRY_END}},
    {"ieee802154", 36, {TRY_END}},
    {"caif", 37, {TRY_END}},
    {"alg", 38, {TRY_END}},
    {"nfc", 39, {{SOCK_SEQPACKET, 1 /* NFC_SOCKPROTO_LLCP */}, TRY_END}},
    {"vsock", 40, {TRY_END}},
    {"kcm", 41, {TRY_END}},
    {"qipcrtr", 42, {TRY_END}},
    {"smc", 43, {{SOCK_STREAM, 1 /* SMCPROTO_SMC6 */}, TRY_END}},
    {"xdp", 44, {TRY_END}},
    {"mctp", 45, {TRY_END}},
};

/* Netlink protocols other than NETLINK_ROUTE, the one the jail needs. */
static const struct {
  const char *name;
  int protocol;
} NETLINK_PROTOCOLS[] = {
    {"usersock", 2}, {"sock_diag", 4}, {"nflog", 5}, {"xfrm", 6}, {"selinux", 7},
    {"iscsi", 8}, {"audit", 9}, {"fib_lookup", 10}, {"connector", 11}, {"netfilter", 12},
    {"kobject_uevent", 15}, {"generic", 16}, {"scsitransport", 18}, {"ecryptfs", 19},
    {"rdma", 20}, {"crypto", 21}, {"smc", 22},
};

static const char *type_name(int type) {
  switch (type) {
    case SOCK_STREAM: return "stream";
    case SOCK_DGRAM: return "dgram";
    case SOCK_RAW: return "raw";
    case SOCK_RDM: return "rdm";
    case SOCK_SEQPACKET: return "seqpacket";
    default: return "?";
  }
}

/* Runs socket(2) (raw syscall: family and protocol may carry bits libc would not pass) for each
 * try; on success closes the socket at once: creating it is the attack surface, nothing is bound,
 * connected or sent. Reports one line: ok if any try opened a socket, "tries" maps
 * "type/protocol" to "OK" or the errno name; "errno" is EPERM if any try was refused so (what
 * the filter answers), else the first try's. */
static void socket_tries(const char *attack, unsigned long family, const struct sock_try *tries,
                         size_t n, int pair) {
  char buf[900];
  size_t o = 0;
  int ok = 0, first = 0, eperm = 0;
  for (size_t i = 0; i < n; i++) {
    long rc;
    int sv[2];
    if (pair) rc = syscall(SYS_socketpair, family, tries[i].type, tries[i].protocol, sv);
    else rc = syscall(SYS_socket, family, tries[i].type, tries[i].protocol);
    int e = rc < 0 ? errno : 0;
    if (rc >= 0) {
      ok = 1;
      if (pair) {
        close(sv[0]);
        close(sv[1]);
      } else {
        close((int)rc);
      }
    } else {
      if (!first) first = e;
      if (e == EPERM) eperm = 1;
    }
    if (o + 64 < sizeof buf)
      o += (size_t)snprintf(buf + o, sizeof buf - o, "%s\"%s/%d\":\"%s\"", i ? "," : "",
                            type_name(tries[i].type), tries[i].protocol, rc >= 0 ? "OK" : errname(e));
  }
  report(attack, ok, ok ? 0 : (eperm ? EPERM : first), ",\"family\":%lu,\"tries\":{%s}",
         family & 0xffffffffUL, buf);
}

static int attack_families(void) {
  static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW, SOCK_RDM};
  const size_t ntypes = sizeof types / sizeof *types;
  for (size_t f = 0; f < sizeof FAMILIES / sizeof *FAMILIES; f++) {
    struct sock_try tries[16];
    size_t n = 0;
    for (size_t t = 0; t < ntypes; t++) tries[n++] = (struct sock_try){types[t], 0};
    for (size_t x = 0; x < 4 && FAMILIES[f].extra[x].type; x++) tries[n++] = FAMILIES[f].extra[x];
    char attack[64];
    snprintf(attack, sizeof attack, "socket-af-%s", FAMILIES[f].name);
    socket_tries(attack, (unsigned long)FAMILIES[f].family, tries, n, 0);
  }
  for (size_t p = 0; p < sizeof NETLINK_PROTOCOLS / sizeof *NETLINK_PROTOCOLS; p++) {
    struct sock_try tries[] = {{SOCK_RAW, NETLINK_PROTOCOLS[p].protocol},
                               {SOCK_DGRAM, NETLINK_PROTOCOLS[p].protocol}};
    char attack[64];
    snprintf(attack, sizeof attack, "socket-netlink-%s", NETLINK_PROTOCOLS[p].name);
    socket_tries(attack, AF_NETLINK, tries, 2, 0);
  }
  /* The kernel reads socket()'s family as an int: junk in the upper half of the register is
   * dropped, so a filter that compares all 64 bits must allow exact values, never "all but". */
  struct sock_try vs[] = {{SOCK_STREAM, 0}, {SOCK_SEQPACKET, 0}, {SOCK_DGRAM, 0}};
  socket_tries("socket-af-vsock-highbits", (1UL << 32) | AF_VSOCK, vs, 3, 0);
  struct sock_try ue[] = {{SOCK_RAW, 15}, {SOCK_DGRAM, 15}};
  socket_tries("socket-netlink-highbits", (1UL << 32) | AF_NETLINK, ue, 2, 0);
  /* socketpair makes sockets too: AF_TIPC implements it. */
  struct sock_try tp[] = {{SOCK_SEQPACKET, 0}, {SOCK_STREAM, 0}, {SOCK_DGRAM, 0}};
  socket_tries("socketpair-af-tipc", 30, tp, 3, 1);
  return 0;
}

static int attack_msgqueue(void) {
  /* A private queue: visible only in this IPC namespace, removed at once. */
  int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (id >= 0) {
    int rm = msgctl(id, IPC_RMID, NULL);
    report("msgget", 1, 0, ",\"removed\":%s", rm == 0 ? "true" : "false");
  } else {
    report("msgget", 0, errno, NULL);
  }
  return 0;
}

static int attack_chown(void) {
  if (chown("/etc/passwd", 1000, 1000) == 0) {
    int back = chown("/etc/passwd", 0, 0);
    report("chown", 1, 0, ",\"restored\":%s", back == 0 ? "true" : "false");
  } else {
    report("chown", 0, errno, "%s", jstr("path", "/etc/passwd"));
  }
  return 0;
}

static int attack_setuid(void) {
  uid_t before = getuid();
  if (setuid(0) == 0 && geteuid() == 0 && before != 0)
    report("setuid", 1, 0, ",\"uid\":%d", (int)getuid());
  else if (before == 0) report("setuid", 1, 0, ",\"uid\":0,\"already_root\":true");
  else report("setuid", 0, errno, ",\"uid\":%d", (int)getuid());
  gid_t gbefore = getgid();
  if (setgid(0) == 0 && getegid() == 0 && gbefore != 0)
    report("setgid", 1, 0, ",\"gid\":%d", (int)getgid());
  else if (gbefore == 0) report("setgid", 1, 0, ",\"gid\":0,\"already_root\":true");
  else report("setgid", 0, errno, ",\"gid\":%d", (int)getgid());
  return 0;
}

/* First readable mapping of pid, from /proc/pid/maps (same-uid processes may read it). */
static int first_mapping(pid_t pid, unsigned long *addr) {
  char path[64], line[512];
  snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int found = -1;
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[0] == 'r') {
      *addr = lo;
      found = 0;
      break;
    }
  }
  fclose(f);
  return found;
}

static int attack_ptrace(pid_t pid) {
  char pidbuf[32];
  snprintf(pidbuf, sizeof pidbuf, ",\"pid\":%d", (int)pid);

  if (ptrace(PTRACE_ATTACH, pid, NULL, NULL) == 0) {
    int st;
    waitpid(pid, &st, __WALL);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    report("ptrace-attach", 1, 0, "%s", pidbuf);
  } else {
    report("ptrace-attach", 0, errno, "%s", pidbuf);
  }

  if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) == 0) {
    /* A seized tracee must be stopped before it can be detached. */
    int st;
    ptrace(PTRACE_INTERRUPT, pid, NULL, NULL);
    waitpid(pid, &st, __WALL);
    ptrace(PTRACE_DETACH, pid, NULL, NULL);
    report("ptrace-seize", 1, 0, "%s", pidbuf);
  } else {
    report("ptrace-seize", 0, errno, "%s", pidbuf);
  }

  /* Where to read: the first readable mapping; if the maps file itself is closed to us, a
   * plausible address still tells whether /proc/pid/mem opens. */
  unsigned long addr = 0x400000;
  char buf[64];
  int have_maps = first_mapping(pid, &addr) == 0;
  int maps_errno = have_maps ? 0 : errno;

  struct iovec local = {buf, sizeof buf}, remote = {(void *)addr, sizeof buf};
  ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  if (n > 0) report("process_vm_readv", 1, 0, "%s,\"bytes\":%zd", pidbuf, n);
  else report("process_vm_readv", 0, errno, "%s", pidbuf);

  /* /proc/pid/maps, mem and environ are guarded by the kernel's ptrace access rules, which
   * seccomp cannot see: only a non-dumpable target is safe from a same-uid reader. */
  if (have_maps) report("proc-maps", 1, 0, "%s", pidbuf);
  else report("proc-maps", 0, maps_errno, "%s", pidbuf);

  char path[64];
  snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    report("proc-mem", 0, errno, "%s", pidbuf);
  } else {
    n = pread(fd, buf, sizeof buf, (off_t)addr);
    int e = n > 0 ? 0 : errno;
    close(fd);
    /* Opening is the privilege; a read at a guessed address may still miss. */
    report("proc-mem", 1, 0, "%s,\"bytes\":%zd%s%s%s", pidbuf, n, e ? ",\"read_errno\":\"" : "",
           e ? errname(e) : "", e ? "\"" : "");
  }

  /* The environment holds secrets passed with -e (e.g. OPENCLAW_GATEWAY_TOKEN). */
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  fd = open(path, O_RDONLY);
  if (fd < 0) {
    report("proc-environ", 0, errno, "%s", pidbuf);
  } else {
    char env[65536];
    n = read(fd, env, sizeof env - 1);
    int e = n >= 0 ? 0 : errno;
    close(fd);
    if (n > 0) {
      env[n] = 0;
      int vars = 0;
      for (ssize_t i = 0; i < n; i++) vars += env[i] == 0;
      report("proc-environ", 1, 0, "%s,\"bytes\":%zd,\"vars\":%d", pidbuf, n, vars);
    } else {
      report("proc-environ", 0, e ? e : EACCES, "%s", pidbuf);
    }
  }
  return 0;
}

static int try_create(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0755);
  if (fd >= 0) {
    close(fd);
    unlink(path);
    report("write-rootfs", 1, 0, "%s", jstr("path", path));
  } else {
    report("write-rootfs", 0, errno, "%s", jstr("path", path));
  }
  return 0;
}

static int attack_write_rootfs(void) {
  try_create("/usr/local/bin/cellprobe-x");
  try_create("/etc/cellprobe-x");
  try_create("/cellprobe-x");
  return 0;
}

static int attack_write_procsys(void) {
  /* Writes back the hostname the kernel already has: a success changes nothing. */
  struct utsname u;
  uname(&u);
  int fd = open("/proc/sys/kernel/hostname", O_WRONLY);
  if (fd < 0) {
    report("write-procsys", 0, errno, "%s", jstr("path", "/proc/sys/kernel/hostname"));
  } else {
    ssize_t n = write(fd, u.nodename, strlen(u.nodename));
    int e = n < 0 ? errno : 0;
    close(fd);
    report("write-procsys", n >= 0, e, "%s", jstr("path", "/proc/sys/kernel/hostname"));
  }
  /* Opening for writing is the privilege; no command byte is ever written. */
  fd = open("/proc/sysrq-trigger", O_WRONLY);
  if (fd < 0) {
    report("write-procsys", 0, errno, "%s", jstr("path", "/proc/sysrq-trigger"));
  } else {
    close(fd);
    report("write-procsys", 1, 0, "%s,\"opened_only\":true", jstr("path", "/proc/sysrq-trigger"));
  }
  return 0;
}

static int do_unshare_user(void) { return unshare(CLONE_NEWUSER); }
static int do_unshare_ns(void) { return unshare(CLONE_NEWNS); }
static int do_unshare_user_ns(void) {
  /* The classic two-step: a user namespace first grants CAP_SYS_ADMIN over a new mount ns. */
  if (unshare(CLONE_NEWUSER) != 0) return -1;
  if (unshare(CLONE_NEWNS) != 0) return -1;
  return mount("cellprobe", "/tmp", "tmpfs", 0, "size=1m");
}

static void report_child(const char *attack, int rc) {
  if (rc == 0) report(attack, 1, 0, NULL);
  else if (rc < 0) report(attack, 0, errno, ",\"stage\":\"fork\"");
  else report(attack, 0, rc, NULL);
}

static int attack_unshare(void) {
  report_child("unshare-user", in_child(do_unshare_user));
  report_child("unshare-mount", in_child(do_unshare_ns));
  report_child("unshare-user-then-mount", in_child(do_unshare_user_ns));

  /* clone(2) with a namespace flag, fork-style (no new stack: the child runs on a copy). */
  long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) {
    waitpid((pid_t)pid, NULL, 0);
    report("clone-newuser", 1, 0, NULL);
  } else {
    report("clone-newuser", 0, errno, NULL);
  }

  /* clone3 carries its flags in memory; profiles answer it with ENOSYS so libc falls back. */
  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.flags = CLONE_NEWUSER;
  ca.exit_signal = SIGCHLD;
  pid = syscall(SYS_clone3, &ca, sizeof ca);
  if (pid == 0) _exit(0);
  if (pid > 0) {
    waitpid((pid_t)pid, NULL, 0);
    report("clone3-newuser", 1, 0, NULL);
  } else {
    report("clone3-newuser", 0, errno, NULL);
  }
  return 0;
}

static int attack_caps(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) {
    report("caps", 0, errno, NULL);
    return 0;
  }
  char line[256];
  char eff[32] = "?", prm[32] = "?", bnd[32] = "?", amb[32] = "?", inh[32] = "?";
  int nnp = -1, seccomp = -1;
  while (fgets(line, sizeof line, f)) {
    sscanf(line, "CapEff: %31s", eff);
    sscanf(line, "CapPrm: %31s", prm);
    sscanf(line, "CapBnd: %31s", bnd);
    sscanf(line, "CapAmb: %31s", amb);
    sscanf(line, "CapInh: %31s", inh);
    sscanf(line, "NoNewPrivs: %d", &nnp);
    sscanf(line, "Seccomp: %d", &seccomp);
  }
  fclose(f);
  const char *all[] = {eff, prm, bnd, amb, inh};
  int any = 0;
  for (size_t i = 0; i < 5; i++) any |= strtoull(all[i], NULL, 16) != 0;
  /* ok: the process holds some capability, or could still gain privileges via execve. */
  report("caps", any || nnp != 1, 0,
         ",\"CapEff\":\"%s\",\"CapPrm\":\"%s\",\"CapBnd\":\"%s\","
         "\"CapAmb\":\"%s\",\"CapInh\":\"%s\","
         "\"NoNewPrivs\":%d,\"Seccomp\":%d,\"uid\":%d",
         eff, prm, bnd, amb, inh, nnp, seccomp, (int)getuid());
  return 0;
}

static int attack_forkbomb(double seconds, long max) {
  pid_t *kids = calloc((size_t)max, sizeof *kids);
  if (!kids) {
    report("forkbomb", 0, ENOMEM, NULL);
    return 0;
  }
  long n = 0;
  int err = 0;
  double t0 = now_s();
  while (n < max && now_s() - t0 < seconds) {
    pid_t p = fork();
    if (p == 0) {
      for (;;) pause();
    }
    if (p < 0) {
      err = errno;
      if (err == EAGAIN || err == ENOMEM) break;
      continue;
    }
    kids[n++] = p;
  }
  double took = now_s() - t0;
  for (long i = 0; i < n; i++) kill(kids[i], SIGKILL);
  long reaped = 0;
  for (long i = 0; i < n; i++)
    if (waitpid(kids[i], NULL, 0) == kids[i]) reaped++;
  free(kids);
  /* ok: nothing stopped the bomb before our own safety cap or the time ran out. */
  report("forkbomb", err == 0, err,
         ",\"children\":%ld,\"reaped\":%ld,\"seconds\":%.2f,\"cap\":%ld", n, reaped, took, max);
  return 0;
}

static int attack_memhog(long mb) {
  /* The hog runs in a child that volunteers for the OOM killer, so a limit that holds kills
   * the hog and not the OpenClaw gateway beside it; progress comes back through a pipe. */
  int fds[2];
  if (pipe(fds) != 0) {
    report("memhog", 0, errno, NULL);
    return 0;
  }
  pid_t pid = fork();
  if (pid < 0) {
    report("memhog", 0, errno, NULL);
    return 0;
  }
  if (pid == 0) {
    close(fds[0]);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY);
    if (fd >= 0) {
      ssize_t w = write(fd, "1000", 4);
      (void)w;
      close(fd);
    }
    long page = sysconf(_SC_PAGESIZE);
    for (long i = 0; i < mb; i++) {
      char *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) _exit(errno & 0xff);
      for (long o = 0; o < (1 << 20); o += page) p[o] = (char)(o | 1);
      int32_t done = (int32_t)(i + 1);
      if (write(fds[1], &done, sizeof done) != (ssize_t)sizeof done) _exit(EPIPE);
    }
    _exit(0);
  }
  close(fds[1]);
  int32_t done = 0, v;
  while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v) done = v;
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
    report("memhog", 1, 0, ",\"requested_mb\":%ld,\"touched_mb\":%d", mb, done);
  } else if (WIFSIGNALED(st)) {
    report("memhog", 0, 0, ",\"requested_mb\":%ld,\"touched_mb\":%d,\"signal\":\"%s\"", mb, done,
           signame(WTERMSIG(st)));
  } else {
    report("memhog", 0, WEXITSTATUS(st), ",\"requested_mb\":%ld,\"touched_mb\":%d", mb, done);
  }
  return 0;
}

/* Calls that should never reach the kernel from the cell; args are harmless or invalid, so
 * "reached" (any errno but EPERM/ENOSYS) means the filter let the call through. */
static void sweep_one(const char *name, long rc, int returns_fd) {
  int e = rc < 0 ? errno : 0;
  int reached = rc >= 0 || (e != EPERM && e != ENOSYS);
  char attack[64];
  snprintf(attack, sizeof attack, "syscall-%s", name);
  report(attack, reached, e, NULL);
  if (returns_fd && rc >= 0) close((int)rc);
}

static int attack_sweep(void) {
  sweep_one("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0), 1);
  sweep_one("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), 1);
  sweep_one("userfaultfd", syscall(SYS_userfaultfd, O_CLOEXEC), 1);
  sweep_one("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3, 0), 0);
  /* Keyring 0 does not exist: past the filter this fails with EINVAL and stores nothing. */
  sweep_one("add_key", syscall(SYS_add_key, "user", "cellprobe", "x", 1, 0), 0);
  sweep_one("io_uring_setup", syscall(SYS_io_uring_setup, 0, NULL), 1);
  sweep_one("open_by_handle_at", syscall(SYS_open_by_handle_at, -1, NULL, 0), 1);
  sweep_one("kcmp", syscall(SYS_kcmp, getpid(), getpid(), 0 /* KCMP_FILE */, 0, 0), 0);
  sweep_one("pidfd_getfd", syscall(SYS_pidfd_getfd, -1, 0, 0), 1);
  sweep_one("setns", syscall(SYS_setns, -1, 0), 0);
  sweep_one("init_module", syscall(SYS_init_module, NULL, 0, ""), 0);
  /* Flags 0x100 are undefined: past the capability check it fails with EINVAL, never unloads. */
  sweep_one("kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0x100), 0);
  sweep_one("iopl", syscall(SYS_iopl, 0), 0);
  sweep_one("syslog", syscall(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), 0);
  long old = syscall(SYS_personality, 0xffffffffUL);
  sweep_one("personality-addr-no-randomize", syscall(SYS_personality, 0x0040000), 0);
  if (old >= 0) syscall(SYS_personality, (unsigned long)old);
  sweep_one("chroot", syscall(SYS_chroot, "/nonexistent-cellprobe"), 0);
  /* Queue id -1 exists nowhere: past the filter these fail with EINVAL and touch nothing. */
  sweep_one("msgsnd", syscall(SYS_msgsnd, -1, NULL, 0, IPC_NOWAIT), 0);
  sweep_one("msgrcv", syscall(SYS_msgrcv, -1, NULL, 0, 0, IPC_NOWAIT), 0);
  sweep_one("msgctl", syscall(SYS_msgctl, -1, IPC_STAT, NULL), 0);
  return 0;
}

/* One system call through the 32-bit int 0x80 entry (i386 numbers and registers ebx, ecx, edx),
 * in a child: a seccomp filter that does not list the 32-bit architecture kills the caller
 * outright, so a death by signal is reported as blocked. fixup runs in the child on success
 * (closing what the call created). Reports ok if the call returned what want() accepts. */
static void compat32_call(const char *attack, long nr, long b, long c, long d, int (*want)(long, pid_t),
                          void (*fixup)(long)) {
  int fds[2];
  if (pipe(fds) != 0) {
    report(attack, 0, errno, NULL);
    return;
  }
  pid_t pid = fork();
  if (pid < 0) {
    report(attack, 0, errno, NULL);
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    long rc = nr;
    __asm__ volatile("int $0x80" : "+a"(rc) : "b"(b), "c"(c), "d"(d) : "memory", "r8", "r9", "r10", "r11");
    if (fixup && !(rc < 0 && rc > -4096)) fixup(rc);
    ssize_t w = write(fds[1], &rc, sizeof rc);
    _exit(w == (ssize_t)sizeof rc ? 0 : 1);
  }
  close(fds[1]);
  long rc = 0;
  ssize_t got = read(fds[0], &rc, sizeof rc);
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  if (got == (ssize_t)sizeof rc && want(rc, pid)) report(attack, 1, 0, ",\"rc\":%ld", rc);
  else if (got == (ssize_t)sizeof rc)
    report(attack, 0, rc < 0 && rc > -4096 ? (int)-rc : 0, ",\"rc\":%ld", rc);
  else if (WIFSIGNALED(st))
    report(attack, 0, 0, ",\"signal\":\"%s\"", signame(WTERMSIG(st)));
  else report(attack, 0, 0, ",\"status\":%d", st);
}

static int want_pid(long rc, pid_t pid) { return rc == (long)pid; }
static int want_nonneg(long rc, pid_t pid) { (void)pid; return rc >= 0; }
static void close_fd(long fd) { close((int)fd); }
static void remove_queue(long id) { msgctl((int)id, IPC_RMID, NULL); }

static int attack_compat32(void) {
  /* getpid through the 32-bit int 0x80 entry: the compat ABI is kernel surface of its own. */
  compat32_call("compat32", 20 /* __NR_getpid on i386 */, 0, 0, 0, want_pid, NULL);
  /* i386's multiplexers carry their real arguments in memory no filter can read: socketcall
   * hides socket()'s family (here AF_NETLINK/NETLINK_KOBJECT_UEVENT, refused to 64-bit
   * socket()), ipc hides msgget. The argument block must lie below 4 GiB for the 32-bit ABI. */
  uint32_t *args = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (args == MAP_FAILED) {
    report("compat32-socketcall", 0, errno, ",\"stage\":\"mmap\"");
  } else {
    args[0] = AF_NETLINK;
    args[1] = SOCK_DGRAM;
    args[2] = 15; /* NETLINK_KOBJECT_UEVENT */
    compat32_call("compat32-socketcall", 102 /* __NR_socketcall */, 1 /* SYS_SOCKET */,
                  (long)(uintptr_t)args, 0, want_nonneg, close_fd);
    munmap(args, 4096);
  }
  compat32_call("compat32-ipc-msgget", 117 /* __NR_ipc */, 13 /* MSGGET */, IPC_PRIVATE,
                IPC_CREAT | 0600, want_nonneg, remove_queue);
  return 0;
}

/* ---- main ---------------------------------------------------------------------------- */

static int usage(void) {
  fprintf(stderr,
          "usage: cellprobe COMMAND [ARG]\n"
          "  mount | mknod | raw | vsock | chown | setuid | ptrace PID | write-rootfs |\n"
          "  write-procsys | unshare | caps | forkbomb SECONDS [MAX] | memhog MB | sweep |\n"
          "  compat32 | families | msgqueue | all\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *cmd = argv[1];
  if (!strcmp(cmd, "mount")) return attack_mount();
  if (!strcmp(cmd, "mknod")) return attack_mknod();
  if (!strcmp(cmd, "raw")) return attack_raw();
  if (!strcmp(cmd, "vsock")) return attack_vsock();
  if (!strcmp(cmd, "chown")) return attack_chown();
  if (!strcmp(cmd, "setuid")) return attack_setuid();
  if (!strcmp(cmd, "write-rootfs")) return attack_write_rootfs();
  if (!strcmp(cmd, "write-procsys")) return attack_write_procsys();
  if (!strcmp(cmd, "unshare")) return attack_unshare();
  if (!strcmp(cmd, "caps")) return attack_caps();
  if (!strcmp(cmd, "sweep")) return attack_sweep();
  if (!strcmp(cmd, "compat32")) return attack_compat32();
  if (!strcmp(cmd, "families")) return attack_families();
  if (!strcmp(cmd, "msgqueue")) return attack_msgqueue();
  if (!strcmp(cmd, "ptrace")) {
    if (argc < 3) return usage();
    long pid = strtol(argv[2], NULL, 10);
    if (pid <= 0) return usage();
    return attack_ptrace((pid_t)pid);
  }
  if (!strcmp(cmd, "forkbomb")) {
    double secs = argc > 2 ? strtod(argv[2], NULL) : 5.0;
    long max = argc > 3 ? strtol(argv[3], NULL, 10) : 4096;
    if (secs <= 0 || max <= 0) return usage();
    return attack_forkbomb(secs, max);
  }
  if (!strcmp(cmd, "memhog")) {
    if (argc < 3) return usage();
    long mb = strtol(argv[2], NULL, 10);
    if (mb <= 0) return usage();
    return attack_memhog(mb);
  }
  if (!strcmp(cmd, "all")) {
    /* Everything that needs no argument and is quick. */
    attack_caps();
    attack_mount();
    attack_mknod();
    attack_raw();
    attack_vsock();
    attack_chown();
    attack_setuid();
    attack_write_rootfs();
    attack_write_procsys();
    attack_unshare();
    attack_sweep();
    attack_compat32();
    attack_families();
    attack_msgqueue();
    return 0;
  }
  return usage();
}

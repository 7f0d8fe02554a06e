/*
 * tap-airbyte-init: the first process of a connector's container.
 *
 *   tap-airbyte-init TOKEN PROGRAM [ARGS...]
 *
 * Runs PROGRAM as its child with the container's stdout and stderr (no copy: the child writes to
 * them directly, so back-pressure still reaches it), reaps it, then writes an end marker after the
 * child's last byte on stdout:
 *
 *   "\n" TOKEN " " EXIT_STATUS "\n"
 *
 * and stays alive until the tap acknowledges it (one byte, or end of file, on stdin). Before the
 * marker, every other process left in the container (a connector's background children) is killed
 * and reaped, as the connector's own exit would have done were it the first process: so the marker
 * is the last thing on stdout. While this
 * process lives the engine does not start its exit handling, which closes the container's output
 * streams two seconds after the exit whatever is still pending: so the tap reads every byte, and
 * knows it did when it sees the marker. The child's stdin is an empty pipe: the container's stdin
 * carries only the acknowledgement.
 *
 * No libc: raw system calls, so one static binary runs in any Linux image of its architecture,
 * FROM scratch included. Built by build.rs for the architecture the tap is built for.
 */

#if defined(__x86_64__)
#define NR_read 0
#define NR_write 1
#define NR_close 3
#define NR_execve 59
#define NR_exit_group 231
#define NR_wait4 61
#define NR_clone 56
#define NR_pipe2 293
#define NR_dup3 292
#define NR_getpid 39
#define NR_kill 62
#elif defined(__aarch64__)
#define NR_read 63
#define NR_write 64
#define NR_close 57
#define NR_execve 221
#define NR_exit_group 94
#define NR_wait4 260
#define NR_clone 220
#define NR_pipe2 59
#define NR_dup3 24
#define NR_getpid 172
#define NR_kill 129
#else
#error "tap-airbyte-init supports x86_64 and aarch64"
#endif

#define SIGCHLD 17
#define SIGKILL 9
#define O_CLOEXEC 02000000
#define EINTR 4
#define ENOENT 2

#if defined(__x86_64__)
static long sys(long n, long a, long b, long c, long d, long e) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}
__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "  xor %rbp, %rbp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call start_c\n"
        "  hlt\n");
#else
static long sys(long n, long a, long b, long c, long d, long e) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
    return x0;
}
__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  mov x0, sp\n"
        "  and sp, x0, #-16\n"
        "  bl start_c\n"
        "  brk #0\n");
#endif

static void quit(long code) {
    for (;;) sys(NR_exit_group, code, 0, 0, 0, 0);
}

static unsigned long len(const char *s) {
    unsigned long n = 0;
    while (s[n]) n++;
    return n;
}

/* Writes all of buf; gives up on an error other than EINTR (the reader is gone). */
static void write_all(int fd, const char *buf, unsigned long n) {
    while (n > 0) {
        long w = sys(NR_write, fd, (long)buf, (long)n, 0, 0);
        if (w == -EINTR) continue;
        if (w <= 0) return;
        buf += w;
        n -= (unsigned long)w;
    }
}

static void say(const char *a, const char *b) {
    write_all(2, "tap-airbyte-init: ", 18);
    write_all(2, a, len(a));
    write_all(2, b, len(b));
    write_all(2, "\n", 1);
}

/* execve PROGRAM, searching PATH (from the environment, else the usual default) when it has no '/'. */
static void exec_program(char **argv, char **envp) {
    const char *prog = argv[0];
    for (const char *p = prog; *p; p++) {
        if (*p == '/') {
            sys(NR_execve, (long)prog, (long)argv, (long)envp, 0, 0);
            return;
        }
    }
    const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (char **e = envp; *e; e++) {
        const char *v = *e;
        if (v[0] == 'P' && v[1] == 'A' && v[2] == 'T' && v[3] == 'H' && v[4] == '=') {
            path = v + 5;
            break;
        }
    }
    static char full[4096];
    unsigned long plen = len(prog);
    while (*path) {
        unsigned long n = 0;
        while (path[n] && path[n] != ':') n++;
        if (n + 1 + plen + 1 <= sizeof full) {
            unsigned long i = 0;
            for (; i < n; i++) full[i] = path[i];
            if (n == 0) full[i++] = '.';
            full[i++] = '/';
            for (unsigned long j = 0; j < plen; j++) full[i++] = prog[j];
            full[i] = 0;
            sys(NR_execve, (long)full, (long)argv, (long)envp, 0, 0);
        }
        path += n;
        if (*path == ':') path++;
    }
}

void start_c(long *sp) {
    long argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    if (argc < 3) {
        say("usage: tap-airbyte-init TOKEN PROGRAM [ARGS...]", "");
        quit(127);
    }
    const char *token = argv[1];
    int fds[2];
    if (sys(NR_pipe2, (long)fds, O_CLOEXEC, 0, 0, 0) < 0) {
        say("cannot create a pipe", "");
        quit(127);
    }
    long child = sys(NR_clone, SIGCHLD, 0, 0, 0, 0);
    if (child < 0) {
        say("cannot start ", argv[2]);
        quit(127);
    }
    if (child == 0) {
        /* The child's stdin: the read end of a pipe nobody writes to (end of file at once). */
        sys(NR_dup3, fds[0], 0, 0, 0, 0);
        exec_program(argv + 2, envp);
        say("cannot run ", argv[2]);
        quit(127);
    }
    sys(NR_close, fds[0], 0, 0, 0, 0);
    sys(NR_close, fds[1], 0, 0, 0, 0);

    /* Reap every child (orphans are re-parented to us) until the connector itself ends. */
    int status = 0;
    long code = 255;
    for (;;) {
        long r = sys(NR_wait4, -1, (long)&status, 0, 0, 0);
        if (r == -EINTR) continue;
        if (r < 0) break;
        if (r == child) {
            if ((status & 0x7f) == 0)
                code = (status >> 8) & 0xff;
            else
                code = 128 + (status & 0x7f);
            break;
        }
    }

    /* Other processes of the container (orphans the connector left) could still write to stdout
     * after the marker: end them, as the container's end would have. Only as the container's
     * first process, whose kill(-1) reaches its own PID namespace and nothing else. */
    if (sys(NR_getpid, 0, 0, 0, 0, 0) == 1) {
        sys(NR_kill, -1, SIGKILL, 0, 0, 0);
        for (;;) {
            long r = sys(NR_wait4, -1, (long)&status, 0, 0, 0);
            if (r == -EINTR) continue;
            if (r < 0) break; /* ECHILD: none left */
        }
    }

    char line[512];
    unsigned long n = 0;
    unsigned long tlen = len(token);
    if (tlen > 400) tlen = 400;
    line[n++] = '\n';
    for (unsigned long i = 0; i < tlen; i++) line[n++] = token[i];
    line[n++] = ' ';
    char digits[8];
    int d = 0;
    long c = code;
    do {
        digits[d++] = (char)('0' + c % 10);
        c /= 10;
    } while (c > 0);
    while (d > 0) line[n++] = digits[--d];
    line[n++] = '\n';
    write_all(1, line, n);

    /* Stay until the tap has read the marker: it writes one byte, or the engine closes stdin. */
    char ack;
    for (;;) {
        long r = sys(NR_read, 0, (long)&ack, 1, 0, 0);
        if (r != -EINTR) break;
    }
    quit(code);
}

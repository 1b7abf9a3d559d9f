/*
 * serve.c - `perfprobe serve --listen ADDR FILE|DIR...`: /metrics over
 * HTTP for timelines that are being written, so that Prometheus can scrape
 * a long-running traced program (docs/prometheus.md).
 *
 * Every scrape reads the files afresh: they are plain files the shim
 * appends to, so reading never blocks the program, and a last line still
 * being written is dropped by the reader.  A file that vanished or is
 * damaged is counted in perfprobe_file_errors and named in
 * perfprobe_file_error{file=...}, and the scrape goes on.
 *
 * The server is a few dozen lines over plain sockets: one route, GET
 * only, one client at a time (a scrape takes milliseconds), the request
 * read with a bound (8 KiB) and a timeout (5 s) so that a client that
 * stalls delays the next scrape by at most that.  libmicrohttpd would do
 * the same with a dependency and threads we do not need.
 */
#define _GNU_SOURCE
#include "openmetrics.h"
#include "sys/sys.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char serve_usage[] =
    "usage: perfprobe serve [--listen ADDR] [--label K=V]... FILE|DIR...\n"
    "\n"
    "Serves the figures of the timelines at http://ADDR/metrics, read afresh\n"
    "for every request, for Prometheus to scrape.  ADDR is HOST:PORT, :PORT or\n"
    "PORT; without a host (and by default, 127.0.0.1:9464) it listens on\n"
    "loopback only.  SIGINT or SIGTERM end it with status 0.\n";

static volatile sig_atomic_t stop_asked;

static void on_signal(int sig)
{
    (void)sig;
    stop_asked = 1;
    read_stop = 1;          /* a scrape reading an endless input ends too */
}

/* the listening socket for ADDR, or -1 after one line */
static int listen_on(const char *addr)
{
    char host[256] = "127.0.0.1", port[16];
    const char *colon = strrchr(addr, ':');
    if (colon) {
        size_t hl = (size_t)(colon - addr);
        if (hl) {
            if (addr[0] == '[' && hl >= 2 && addr[hl - 1] == ']')
                addr++, hl -= 2;              /* [::1]:9464 */
            if (hl >= sizeof host)
                return error("serve: --listen %s: the host is too long", addr), -1;
            memcpy(host, addr, hl);
            host[hl] = 0;
        }
        colon++;
    } else {
        colon = addr;
    }
    char *end;
    long p = strtol(colon, &end, 10);
    if (!*colon || *end || p < 0 || p > 65535)
        return error("serve: --listen %s: not HOST:PORT, :PORT or PORT", addr), -1;
    snprintf(port, sizeof port, "%ld", p);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai;
    int e = getaddrinfo(host, port, &hints, &ai);
    if (e)
        return error("serve: --listen %s: %s", addr, gai_strerror(e)), -1;
    int fd = sys_socket(ai->ai_family, SOCK_STREAM, 0), one = 1;
    if (fd >= 0)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
        error("serve: --listen %s: %s", addr, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* ---- one scrape -------------------------------------------------------------- */

struct scrape {
    int files, errors;
    char **bad;          /* the files that failed, and why */
    char **why;
};

static void file_counts(FILE *f, enum om_format fmt, void *arg)
{
    struct scrape *s = arg;
    om_family(f, fmt, "perfprobe_files", "gauge", NULL, "timeline files this scrape read");
    fprintf(f, "perfprobe_files %d\n", s->files);
    om_family(f, fmt, "perfprobe_file_errors", "gauge", NULL,
              "timeline files this scrape could not read (vanished or damaged)");
    fprintf(f, "perfprobe_file_errors %d\n", s->errors);
    om_family(f, fmt, "perfprobe_file_error", "gauge", NULL,
              "1 for each file that could not be read, with the reason");
    for (int i = 0; i < s->errors; i++) {
        fputs("perfprobe_file_error{file=\"", f);
        for (const char *p = s->bad[i]; *p; p++)
            fprintf(f, *p == '"' || *p == '\\' ? "\\%c" : *p == '\n' ? "\\n" : "%c", *p);
        fputs("\",reason=\"", f);
        for (const char *p = s->why[i]; *p; p++)
            fprintf(f, *p == '"' || *p == '\\' ? "\\%c" : *p == '\n' ? " " : "%c", *p);
        fputs("\"} 1\n", f);
    }
}

static void add_file(char ***list, int *n, const char *path)
{
    *list = realloc(*list, (size_t)(*n + 1) * sizeof **list);
    (*list)[(*n)++] = strdup(path);
}

/* the body of /metrics; *LEN its length.  Errors of the reader are kept
 * as reasons (not printed: a scrape a second would flood the terminal);
 * *LAST_ERRORS changes print one line when the count changes. */
static char *scrape(char **paths, int np, const struct om_labels *ls, enum om_format fmt,
                    size_t *len, int *last_errors)
{
    struct scrape s = {0};
    char **files = NULL;
    int nf = 0;
    for (int i = 0; i < np; i++) {
        struct stat st;
        if (stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            DIR *d = opendir(paths[i]);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                size_t l = strlen(e->d_name);
                if (l > 6 && !strcmp(e->d_name + l - 6, ".jsonl")) {
                    char full[4096];
                    snprintf(full, sizeof full, "%s/%s", paths[i], e->d_name);
                    add_file(&files, &nf, full);
                }
            }
            if (d)
                closedir(d);
        } else {
            add_file(&files, &nf, paths[i]);
        }
    }
    struct run *all = NULL;
    int nr = 0;
    for (int i = 0; i < nf; i++) {
        /* the reader says what is wrong on stderr: catch it as the reason */
        char *msg = NULL;
        size_t ml = 0;
        FILE *saved = stderr, *m = open_memstream(&msg, &ml);
        stderr = m;
        struct run *part;
        int k = runs_read(1, &files[i], &part);
        stderr = saved;
        fclose(m);
        s.files++;
        if (k < 0) {
            s.bad = realloc(s.bad, (size_t)(s.errors + 1) * sizeof *s.bad);
            s.why = realloc(s.why, (size_t)(s.errors + 1) * sizeof *s.why);
            s.bad[s.errors] = files[i];
            files[i] = NULL;
            if (ml && msg[ml - 1] == '\n')
                msg[ml - 1] = 0;
            s.why[s.errors++] = msg;
            continue;
        }
        free(msg);
        all = realloc(all, (size_t)(nr + k) * sizeof *all);
        memcpy(all + nr, part, (size_t)k * sizeof *all);
        free(part);
        nr += k;
    }
    char *body = NULL;
    FILE *f = open_memstream(&body, len);
    om_write(f, all, nr, ls, fmt, file_counts, &s);
    fclose(f);
    if (s.errors != *last_errors && !stop_asked)
        for (int i = 0; i < s.errors; i++)
            fprintf(stderr, "%s (serve goes on)\n", s.why[i]);
    *last_errors = s.errors;
    for (int i = 0; i < nr; i++)
        run_free(&all[i]);
    free(all);
    for (int i = 0; i < s.errors; i++) {
        free(s.bad[i]);
        free(s.why[i]);
    }
    free(s.bad);
    free(s.why);
    for (int i = 0; i < nf; i++)
        free(files[i]);
    free(files);
    return body;
}

/* ---- HTTP ---------------------------------------------------------------------- */

static void reply(int fd, const char *status, const char *type, const char *body, size_t len,
                  int head)
{
    char h[512];
    int hl = snprintf(h, sizeof h,
                      "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n", status, type, len);
    size_t off = 0;
    while (off < (size_t)hl) {
        ssize_t w = send(fd, h + off, (size_t)hl - off, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
    for (off = 0; !head && off < len;) {
        ssize_t w = send(fd, body + off, len - off, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        off += (size_t)w;
    }
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

enum { REQ_MAX = 8192, REQ_TIMEOUT_S = 5 };

static void handle(int fd, char **paths, int np, const struct om_labels *ls, int *last_errors)
{
    char req[REQ_MAX + 1] = "";
    size_t have = 0;
    double deadline = now_s() + REQ_TIMEOUT_S;
    while (!strstr(req, "\r\n\r\n") && !strstr(req, "\n\n")) {
        if (have == REQ_MAX) {
            const char *m = "request too large\n";
            reply(fd, "431 Request Header Fields Too Large", "text/plain", m, strlen(m), 0);
            return;
        }
        int left = (int)((deadline - now_s()) * 1000);
        struct pollfd p = {fd, POLLIN, 0};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            return;                              /* a stalled client: drop it */
        ssize_t r = recv(fd, req + have, REQ_MAX - have, 0);
        if (r <= 0)
            return;
        have += (size_t)r;
        req[have] = 0;
    }
    char method[16] = "", target[1024] = "";
    if (sscanf(req, "%15s %1023s", method, target) != 2) {
        reply(fd, "400 Bad Request", "text/plain", "bad request\n", 12, 0);
        return;
    }
    int head = !strcmp(method, "HEAD");
    if (strcmp(method, "GET") && !head) {
        reply(fd, "405 Method Not Allowed", "text/plain", "GET only\n", 9, 0);
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q = 0;
    if (!strcmp(target, "/")) {
        const char *m = "perfprobe serve: the metrics are at /metrics\n";
        reply(fd, "200 OK", "text/plain; charset=utf-8", m, strlen(m), head);
        return;
    }
    if (strcmp(target, "/metrics")) {
        reply(fd, "404 Not Found", "text/plain", "not found\n", 10, head);
        return;
    }
    /* OpenMetrics when the scraper asks for it (Prometheus does), else 0.0.4 */
    char *accept = strcasestr(req, "\naccept:");
    char *eol = accept ? strchr(accept + 1, '\n') : NULL;
    int om = 0;
    if (accept) {
        char save = eol ? *eol : 0;
        if (eol)
            *eol = 0;
        om = strstr(accept, "application/openmetrics-text") != NULL;
        if (eol)
            *eol = save;
    }
    size_t len;
    char *body = scrape(paths, np, ls, om ? OM_OPENMETRICS : OM_TEXT_004, &len, last_errors);
    reply(fd, "200 OK",
          om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
             : "text/plain; version=0.0.4; charset=utf-8", body, len, head);
    free(body);
}

int cmd_serve(int argc, char **argv)
{
    /* files come and go in a directory: every series names its pid, so
     * that a second file does not rename the first one's series */
    struct om_labels ls = {.pid_always = 1};
    const char *addr = "127.0.0.1:9464";
    char **paths = calloc((size_t)argc, sizeof *paths);
    int np = 0, rc = EXIT_USAGE;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(serve_usage, stdout);
            rc = EXIT_OK;
            goto out;
        } else if (!strcmp(a, "--listen") && i + 1 < argc) {
            addr = argv[++i];
        } else if (!strcmp(a, "--label") && i + 1 < argc) {
            if (om_label_add(&ls, "serve", argv[++i]))
                goto out;
        } else if (a[0] == '-' && a[1]) {
            fputs(serve_usage, stderr);
            error("serve: unknown option '%s'%s", a,
                  !strcmp(a, "--listen") || !strcmp(a, "--label") ? " (missing its value)" : "");
            goto out;
        } else {
            paths[np++] = argv[i];
        }
    }
    if (!np) {
        fputs(serve_usage, stderr);
        error("serve: no FILE or DIR");
        goto out;
    }
    int lfd = listen_on(addr);
    if (lfd < 0)
        goto out;
    struct sigaction sa = {.sa_handler = on_signal};   /* no SA_RESTART: poll returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[128] = "?", port[16] = "?";
    if (getsockname(lfd, (struct sockaddr *)&ss, &sl) == 0)
        getnameinfo((struct sockaddr *)&ss, sl, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
    fprintf(stderr, "perfprobe: serving http://%s%s%s:%s/metrics\n", strchr(host, ':') ? "[" : "",
            host, strchr(host, ':') ? "]" : "", port);
    int last_errors = 0;
    while (!stop_asked) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 1000) <= 0)
            continue;                       /* EINTR or a second gone: the flag decides */
        int cfd = sys_accept(lfd);
        if (cfd < 0)
            continue;
        struct timeval tv = {REQ_TIMEOUT_S, 0};
        setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        handle(cfd, paths, np, &ls, &last_errors);
        close(cfd);
    }
    close(lfd);
    rc = EXIT_OK;
out:
    for (int i = 0; i < ls.n; i++)
        free((char *)ls.key[i]);
    free(paths);
    return rc;
}

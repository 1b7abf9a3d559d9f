/*
 * push.c - `perfprobe push URL FILE|DIR [--job NAME] [--label K=V]...`:
 * a finished run's figures to a Prometheus Pushgateway, so that a CI job
 * (which Prometheus cannot scrape: it is gone by then) still lands in
 * Prometheus.  docs/prometheus.md.
 *
 * HTTP through libcurl: timeouts, redirects, proxies from the environment
 * and TLS are its business, not ours.  PUT to /metrics/job/NAME/K/V...: the
 * group is the job and the labels, and a PUT replaces what that group
 * held, so a second push of the same branch is not mixed with the first.
 * The body is the text format 0.0.4: the Pushgateway (1.5) parses that or
 * protobuf, not OpenMetrics.
 */
#define _GNU_SOURCE
#include "openmetrics.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static const char push_usage[] =
    "usage: perfprobe push URL FILE|DIR... [--job NAME] [--label K=V]...\n"
    "\n"
    "PUTs the figures of the timelines (as report --openmetrics has them, in the\n"
    "text format 0.0.4) to the Pushgateway at URL, in the group\n"
    "/metrics/job/NAME/K/V... (NAME: perfprobe by default).  It replaces what\n"
    "the group held.  Connect timeout 5 s, 30 s in all; status 2 when the\n"
    "gateway cannot be reached or answers an error.\n";

/* VALUE as a path segment: percent-encoded, or K@base64/VALUE (URL-safe
 * alphabet) when it holds a '/' or is empty, as the Pushgateway wants */
static void segment(FILE *f, const char *key, const char *value)
{
    if (!*value || strchr(value, '/')) {
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        fprintf(f, "/%s@base64/", key);
        const unsigned char *s = (const unsigned char *)value;
        size_t n = strlen(value);
        if (!n)
            fputc('=', f);     /* an empty value: "=" is what the gateway documents */
        for (size_t i = 0; i < n; i += 3) {
            unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
                         (i + 2 < n ? s[i + 2] : 0);
            fputc(b64[v >> 18 & 63], f);
            fputc(b64[v >> 12 & 63], f);
            fputc(i + 1 < n ? b64[v >> 6 & 63] : '=', f);
            fputc(i + 2 < n ? b64[v & 63] : '=', f);
        }
        return;
    }
    fprintf(f, "/%s/", key);
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p))
            fputc(*p, f);
        else
            fprintf(f, "%%%02X", *p);
    }
}

static size_t keep_reply(char *data, size_t size, size_t n, void *arg)
{
    char *reply = arg;
    size_t have = strlen(reply), take = size * n;
    if (have + take > 200)
        take = have < 200 ? 200 - have : 0;
    memcpy(reply + have, data, take);
    reply[have + take] = 0;
    return size * n;
}

int cmd_push(int argc, char **argv)
{
    struct om_labels ls = {0};
    const char *url = NULL, *job = "perfprobe";
    char **files = calloc((size_t)argc, sizeof *files);
    int n = 0, rc = EXIT_USAGE;
    char *body = NULL, *path = NULL;
    size_t body_len = 0, path_len = 0;
    struct run *runs = NULL;
    int nr = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(push_usage, stdout);
            rc = EXIT_OK;
            goto out;
        } else if (!strcmp(a, "--job") && i + 1 < argc) {
            job = argv[++i];
        } else if (!strcmp(a, "--label") && i + 1 < argc) {
            if (om_label_add(&ls, "push", argv[++i]))
                goto out;
        } else if (a[0] == '-' && a[1]) {
            fputs(push_usage, stderr);
            error("push: unknown option '%s'%s", a,
                  !strcmp(a, "--job") || !strcmp(a, "--label") ? " (missing its value)" : "");
            goto out;
        } else if (!url) {
            url = a;
        } else {
            files[n++] = argv[i];
        }
    }
    if (!url || !n) {
        fputs(push_usage, stderr);
        error("push: %s", !url ? "no URL" : "no FILE");
        goto out;
    }
    if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
        error("push: '%s' is not an http:// or https:// URL", url);
        goto out;
    }
    if (!*job) {
        error("push: --job must not be empty");
        goto out;
    }
    nr = runs_read(n, files, &runs);
    if (nr < 0)
        goto out;

    FILE *bf = open_memstream(&body, &body_len);
    om_write(bf, runs, nr, &ls, OM_TEXT_004, NULL, NULL);
    fclose(bf);
    FILE *pf = open_memstream(&path, &path_len);
    size_t ul = strlen(url);
    fprintf(pf, "%.*s/metrics", (int)(ul - (url[ul - 1] == '/')), url);
    segment(pf, "job", job);
    for (int i = 0; i < ls.n; i++)
        segment(pf, ls.key[i], ls.value[i]);
    fclose(pf);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        error("push: libcurl would not start");
        goto out;
    }
    CURL *c = curl_easy_init();
    char curl_err[CURL_ERROR_SIZE] = "", reply[256] = "";
    struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: text/plain; version=0.0.4; charset=utf-8");
    curl_easy_setopt(c, CURLOPT_URL, path);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_reply);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, reply);
    CURLcode cr = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (cr != CURLE_OK) {
        error("push: %s: %s", url, curl_err[0] ? curl_err : curl_easy_strerror(cr));
    } else if (status < 200 || status > 299) {
        for (char *p = reply; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        error("push: %s answered HTTP %ld%s%s", url, status, reply[0] ? ": " : "", reply);
    } else {
        rc = EXIT_OK;
    }
    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);
    curl_global_cleanup();
out:
    for (int i = 0; i < nr; i++)
        run_free(&runs[i]);
    free(runs);
    for (int i = 0; i < ls.n; i++)
        free((char *)ls.key[i]);
    free(files);
    free(body);
    free(path);
    return rc;
}

/*
 * svg.c - a small SVG chart writer, and the HTML page around it.
 *
 * Why our own writer and not a charting library: the charts are few and
 * simple (lines, stacked bands, bars, markers), and the data is large (a
 * 10-minute run is 60,000 samples).  Drawing in C lets us downsample to
 * what the pixels can show (the minimum and maximum of each pixel column,
 * so no peak is lost) before anything is written, so the file stays small
 * and the SVG output, which must work without a script (CI artefacts,
 * READMEs), is the same drawing the HTML page shows.  The page adds about
 * 80 lines of plain JavaScript that read the drawing back for hover and
 * zoom; nothing is loaded from the network.  docs/pictures.md has the
 * measured sizes and times.
 *
 * Every chart is an <svg class="pp-chart"> in pixel coordinates.  Its
 * data-* attributes carry the data range and the plot rectangle, and every
 * series is a <path class="pp-series"> whose points the script inverts
 * back into values for the hover read-out.  A band (stacked part) is its
 * top edge forward then its bottom edge backward, the same number of
 * points each way, so the script can take their difference.
 */
#define _GNU_SOURCE
#include "draw/draw.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const palette[] = {"#4e79a7", "#e15759", "#59a14f", "#f28e2b", "#b07aa1",
                                      "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"};

const char *run_color(int i)
{
    return palette[(unsigned)i % (sizeof palette / sizeof *palette)];
}

void xml_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if ((unsigned char)*s < 0x20)
                fputc(' ', f);         /* control characters are not XML */
            else
                fputc(*s, f);
        }
    }
}

/* ---- numbers --------------------------------------------------------------------- */

/* V with at most PREC decimals, trailing zeros dropped; from 1e15 on in
 * exponent notation (read/fmt.c), which %f would write in hundreds of digits */
static void trim_num(char *buf, size_t n, double v, int prec)
{
    fmt_fixed(buf, n, prec, v, 0);
    if (strchr(buf, '.') && !strchr(buf, 'e')) {
        char *e = buf + strlen(buf) - 1;
        while (*e == '0')
            *e-- = 0;
        if (*e == '.')
            *e = 0;
    }
}

static int prec_for(double v)
{
    v = fabs(v);
    return v >= 100 ? 0 : v >= 10 ? 1 : 2;
}

void fmt_unit(char *buf, size_t n, enum axis_unit u, double v)
{
    char num[64];
    const char *suffix = "";
    double a = fabs(v);
    switch (u) {
    case AX_BYTES:
        if (a >= 1024.0 * 1024 * 1024) { v /= 1024.0 * 1024 * 1024; suffix = " GiB"; }
        else if (a >= 1024.0 * 1024) { v /= 1024.0 * 1024; suffix = " MiB"; }
        else if (a >= 1024) { v /= 1024; suffix = " KiB"; }
        else suffix = " B";
        break;
    case AX_NS:
        if (a >= 1e9) { v /= 1e9; suffix = " s"; }
        else if (a >= 1e6) { v /= 1e6; suffix = " ms"; }
        else if (a >= 1e3) { v /= 1e3; suffix = " µs"; }
        else suffix = " ns";
        break;
    case AX_SEC:
        if (a >= 120) { v /= 60; suffix = " min"; }
        else if (a >= 1 || a == 0) suffix = " s";
        else if (a >= 1e-3) { v *= 1e3; suffix = " ms"; }
        else { v *= 1e6; suffix = " µs"; }
        break;
    case AX_PCT: suffix = "%"; break;
    case AX_RATE:
    case AX_COUNT:
        if (a >= 1e9) { v /= 1e9; suffix = "G"; }
        else if (a >= 1e6) { v /= 1e6; suffix = "M"; }
        else if (a >= 1e4) { v /= 1e3; suffix = "k"; }
        if (u == AX_RATE) {
            trim_num(num, sizeof num, v, prec_for(v));
            snprintf(buf, n, "%s%s/s", num, suffix);
            return;
        }
        break;
    case AX_NONE: break;
    }
    trim_num(num, sizeof num, v, prec_for(v));
    snprintf(buf, n, "%s%s", num, suffix);
}

/* Nice tick step for a range: 1, 2 or 5 times a power of ten, in the axis's
 * display unit (a byte axis ticks at round MiB, not round bytes). */
static double unit_scale(enum axis_unit u, double span)
{
    if (u == AX_BYTES)
        return span >= 4.0 * 1024 * 1024 * 1024 ? 1024.0 * 1024 * 1024
             : span >= 4.0 * 1024 * 1024 ? 1024.0 * 1024 : span >= 4096 ? 1024 : 1;
    return 1;
}

static double nice_step(double span, int want)
{
    if (!(span > 0))
        return 1;
    double raw = span / want, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* ---- coordinates ------------------------------------------------------------------ */

static double map(double v, double a, double b, int log, double p0, double len)
{
    if (log) {
        v = v > 0 ? log10(v) : log10(a);
        a = log10(a);
        b = log10(b);
    }
    return p0 + (b > a ? (v - a) / (b - a) : 0.5) * len;
}

static double X(const struct chart *c, double t)
{
    return map(t, c->x0, c->x1, c->logx, c->px, c->pw);
}

static double Y(const struct chart *c, double v)
{
    double y = c->py + c->ph - (map(v, c->y0, c->y1, c->logy, 0, c->ph));
    return y < c->py - 4 ? c->py - 4 : y;   /* clamp runaway values to the frame */
}

/* ---- a chart ------------------------------------------------------------------------ */

void chart_begin(struct chart *c, FILE *f, int html, const char *id, const char *title,
                 int x, int y, int w, int h)
{
    memset(c, 0, sizeof *c);
    c->f = f;
    c->html = html;
    c->w = w;
    c->h = h;
    c->px = 76;
    c->py = 30;
    c->pw = w - c->px - 170;               /* the legend sits on the right */
    c->ph = h - c->py - 34;
    c->res = html ? c->pw * 2 : c->pw;     /* the page keeps more detail for zooming */
    fprintf(f, "<svg class=\"pp-chart\" id=\"");
    xml_text(f, id);
    fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\"", w, h, w, h);
    if (!html)
        fprintf(f, " x=\"%d\" y=\"%d\"", x, y);
    fprintf(f, " font-family=\"sans-serif\" font-size=\"11\">\n");
    fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", w, h);
    fprintf(f, "<text class=\"pp-title\" x=\"%d\" y=\"18\" font-size=\"13\" font-weight=\"bold\">",
            c->px);
    xml_text(f, title);
    fprintf(f, "</text>\n");
}

void chart_axes(struct chart *c, double x0, double x1, double y0, double y1,
                enum axis_unit xu, enum axis_unit yu, int logx, int logy)
{
    FILE *f = c->f;
    /* a bound past the largest double (a figure of 1e308 with a margin
     * added) is held at it: the tick loops below end, the points map */
    x0 = fmax(fmin(x0, DBL_MAX), -DBL_MAX);
    x1 = fmax(fmin(x1, DBL_MAX), -DBL_MAX);
    y0 = fmax(fmin(y0, DBL_MAX), -DBL_MAX);
    y1 = fmax(fmin(y1, DBL_MAX), -DBL_MAX);
    if (!(x1 > x0))
        x1 = x0 + 1;
    if (!(y1 > y0))
        y1 = y0 + 1;
    c->x0 = x0; c->x1 = x1; c->y0 = y0; c->y1 = y1;
    c->xu = xu; c->yu = yu; c->logx = logx; c->logy = logy;
    c->zoom = xu == AX_SEC && !logx;
    /* the attributes the page's script reads the chart back with */
    fprintf(f, "<g class=\"pp-frame\" data-x0=\"%.9g\" data-x1=\"%.9g\" data-y0=\"%.9g\" "
            "data-y1=\"%.9g\" data-px=\"%d\" data-py=\"%d\" data-pw=\"%d\" data-ph=\"%d\" "
            "data-xu=\"%d\" data-yu=\"%d\" data-logy=\"%d\" data-logx=\"%d\" data-zoom=\"%d\">\n",
            x0, x1, y0, y1, c->px, c->py, c->pw, c->ph, xu, yu, logy, logx, c->zoom);
    static int clip_seq;
    c->clip = ++clip_seq;
    fprintf(f, "<defs><clipPath id=\"pp-clip%d\"><rect x=\"%d\" y=\"%d\" width=\"%d\" "
            "height=\"%d\"/></clipPath></defs>\n", c->clip, c->px, c->py - 4, c->pw, c->ph + 4);
    /* y grid and labels */
    char lab[64];
    fprintf(f, "<g class=\"pp-yaxis\" fill=\"#555\" text-anchor=\"end\">\n");
    if (logy) {
        for (double d = pow(10, floor(log10(y0))); d <= y1 * 1.0001 && isfinite(d); d *= 10) {
            if (d < y0 * 0.9999)
                continue;
            double yy = Y(c, d);
            fmt_unit(lab, sizeof lab, yu, d);
            fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                    "<text x=\"%d\" y=\"%.1f\">%s</text>\n", c->px, c->px + c->pw, yy, yy,
                    c->px - 5, yy + 4, lab);
        }
    } else {
        double sc = unit_scale(yu, y1 - y0), step = nice_step((y1 - y0) / sc, 5) * sc;
        if (yu == AX_COUNT && step < 1)
            step = 1;                      /* no half occurrences */
        for (double d = ceil(y0 / step) * step; d <= y1 + step * 1e-9 && isfinite(d); d += step) {
            double yy = Y(c, d);
            fmt_unit(lab, sizeof lab, yu, fabs(d) < step * 1e-9 ? 0 : d);
            fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                    "<text x=\"%d\" y=\"%.1f\">%s</text>\n", c->px, c->px + c->pw, yy, yy,
                    c->px - 5, yy + 4, lab);
        }
    }
    fprintf(f, "</g>\n<g class=\"pp-xaxis\" fill=\"#555\" text-anchor=\"middle\">\n");
    if (logx) {
        for (double d = pow(10, floor(log10(x0))); d <= x1 * 1.0001 && isfinite(d); d *= 10) {
            if (d < x0 * 0.9999)
                continue;
            fmt_unit(lab, sizeof lab, xu, d);
            fprintf(f, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", X(c, d), c->py + c->ph + 15, lab);
        }
    } else if (xu != AX_NONE) {
        /* time ticks in one unit for the whole axis, chosen by its span */
        double span = x1 - x0, sc = 1;
        const char *suf = "";
        if (xu == AX_SEC) {
            sc = span >= 300 ? 60 : span >= 2 ? 1 : 1e-3;
            suf = span >= 300 ? " min" : span >= 2 ? " s" : " ms";
        }
        double step = nice_step(span / sc, 8) * sc;
        for (double d = ceil(x0 / step) * step; d <= x1 + step * 1e-9 && isfinite(d); d += step) {
            if (xu == AX_SEC) {
                char num[48];
                trim_num(num, sizeof num, fabs(d) < step * 1e-9 ? 0 : d / sc, 3);
                snprintf(lab, sizeof lab, "%s%s", num, suf);
            } else {
                fmt_unit(lab, sizeof lab, xu, fabs(d) < step * 1e-9 ? 0 : d);
            }
            fprintf(f, "<text x=\"%.1f\" y=\"%d\">%s</text>\n", X(c, d), c->py + c->ph + 15, lab);
        }
    }
    fprintf(f, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
            "stroke=\"#999\"/>\n", c->px, c->py, c->pw, c->ph);
    fprintf(f, "<g class=\"pp-plot\" clip-path=\"url(#pp-clip%d)\"><g class=\"pp-data\">\n",
            c->clip);
}

static void legend_add(struct chart *c, const char *name, const char *color, int area)
{
    if (c->nlegend < CHART_LEGEND_MAX) {
        c->legend[c->nlegend].name = name;
        c->legend[c->nlegend].color = color;
        c->legend[c->nlegend].area = area;
        c->nlegend++;
    }
}

static void series_open(struct chart *c, const char *name, const char *kind)
{
    fprintf(c->f, "<path class=\"pp-series pp-%s\" data-name=\"", kind);
    xml_text(c->f, name);
    fprintf(c->f, "\" d=\"");
}

/* Downsampling: the points of bucket b are reduced to its first point, its
 * minimum and its maximum (in time order) and its last point, so a line
 * keeps every peak and every valley the pixels can show. */
struct pt { double x, y; };

static size_t reduce(const struct chart *c, const double *t, const double *v, size_t n,
                     struct pt *out)
{
    size_t m = 0, i = 0;
    double bw = (double)c->pw / c->res;
    while (i < n) {
        if (isnan(v[i]) || isnan(t[i])) {
            out[m++] = (struct pt){NAN, NAN};
            i++;
            continue;
        }
        double x = X(c, t[i]);
        long b = (long)floor((x - c->px) / bw);
        size_t j = i, lo = i, hi = i;
        while (j + 1 < n && !isnan(v[j + 1]) && !isnan(t[j + 1]) &&
               (long)floor((X(c, t[j + 1]) - c->px) / bw) == b) {
            j++;
            if (v[j] < v[lo]) lo = j;
            if (v[j] > v[hi]) hi = j;
        }
        size_t keep[4] = {i, lo < hi ? lo : hi, lo < hi ? hi : lo, j};
        for (int k = 0; k < 4; k++) {
            if (k && keep[k] == keep[k - 1])
                continue;
            out[m++] = (struct pt){X(c, t[keep[k]]), Y(c, v[keep[k]])};
        }
        i = j + 1;
    }
    return m;
}

void chart_line(struct chart *c, const char *name, const char *color,
                const double *t, const double *v, size_t n, int flags)
{
    struct pt *p = malloc((n * 4 + 1) * sizeof *p);
    size_t m = reduce(c, t, v, n, p);
    series_open(c, name, "line");
    int pen = 0;
    double lasty = 0;
    for (size_t i = 0; i < m; i++) {
        if (isnan(p[i].x)) {
            pen = 0;
            continue;
        }
        /* a step holds the last value until the next point: a sample the
         * shim did not write was unchanged */
        if (pen && (flags & LINE_STEP) && p[i].y != lasty)
            fprintf(c->f, "L%.1f %.1f", p[i].x, lasty);
        fprintf(c->f, "%c%.1f %.1f", pen ? 'L' : 'M', p[i].x, p[i].y);
        lasty = p[i].y;
        pen = 1;
    }
    fprintf(c->f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s "
            "vector-effect=\"non-scaling-stroke\"/>\n", color,
            (flags & LINE_DASHED) ? " stroke-dasharray=\"5 3\"" : "");
    free(p);
    legend_add(c, name, color, 0);
}

size_t chart_thin(const struct chart *c, const double *t, const double *key, size_t n,
                  size_t *keep)
{
    size_t m = 0, i = 0;
    double bw = (double)c->pw / c->res;
    while (i < n) {
        long b = (long)floor((X(c, t[i]) - c->px) / bw);
        size_t j = i, hi = i;
        while (j + 1 < n && (long)floor((X(c, t[j + 1]) - c->px) / bw) == b)
            if (key[++j] > key[hi])
                hi = j;
        keep[m++] = i;                 /* first, highest and last of the bucket */
        if (hi != i && hi != j)
            keep[m++] = hi;
        if (j != i)
            keep[m++] = j;
        i = j + 1;
    }
    return m;
}

void chart_area(struct chart *c, const char *name, const char *color,
                const double *t, const double *lo, const double *hi, size_t n)
{
    series_open(c, name, "area");
    for (size_t k = 0; k < n; k++)
        fprintf(c->f, "%c%.1f %.1f", k ? 'L' : 'M', X(c, t[k]), Y(c, hi[k]));
    for (size_t k = n; k-- > 0;)
        fprintf(c->f, "L%.1f %.1f", X(c, t[k]), Y(c, lo[k]));
    fprintf(c->f, "Z\" fill=\"%s\" fill-opacity=\"0.55\" stroke=\"none\"/>\n", color);
    legend_add(c, name, color, 1);
}

void chart_vmark(struct chart *c, double t, const char *label, const char *color, int row)
{
    double x = X(c, t);
    fprintf(c->f, "<line class=\"pp-probe\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" "
            "stroke=\"%s\" stroke-dasharray=\"2 2\" vector-effect=\"non-scaling-stroke\"/>\n",
            x, x, c->py, c->py + c->ph, color);
    /* labels live outside the zoomed group (text must not stretch): the
     * script moves them by their data-t */
    int right = x > c->px + c->pw - 70;     /* near the right edge: label on the left */
    fprintf(c->f, "</g><g class=\"pp-labels\"><text class=\"pp-probe-label\" data-t=\"%.9g\" "
            "x=\"%.1f\" y=\"%d\" fill=\"%s\" font-size=\"10\"%s>", t, right ? x - 2 : x + 2,
            c->py + 11 + 11 * (row % 4), color, right ? " text-anchor=\"end\"" : "");
    xml_text(c->f, label);
    fprintf(c->f, "</text></g><g class=\"pp-data\">\n");
}

void chart_dot(struct chart *c, double t, double v, const char *label, const char *color,
               int below)
{
    double x = X(c, t), y = Y(c, v);
    int right = x > c->px + c->pw * 0.7;
    fprintf(c->f, "</g><g class=\"pp-labels\"><g class=\"pp-peak\" data-t=\"%.9g\" "
            "data-y=\"%.1f\"><circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"%s\" stroke=\"#fff\"/>"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" font-weight=\"bold\" fill=\"%s\" "
            "text-anchor=\"%s\">", t, y, x, y, color, right ? x - 7 : x + 7,
            below || y < c->py + 12 ? y + 14 : y - 5, color, right ? "end" : "start");
    xml_text(c->f, label);
    fprintf(c->f, "</text></g></g><g class=\"pp-data\">\n");
}

void chart_bars(struct chart *c, const char *name, const char *color,
                const char *const *labels, const double *v, int n)
{
    double bw = (double)c->pw / (n ? n : 1);
    series_open(c, name, "bar");
    for (int i = 0; i < n; i++) {
        double y = Y(c, v[i]), base = c->py + c->ph;
        fprintf(c->f, "M%.1f %.1fH%.1fV%.1fH%.1fZ", c->px + i * bw + bw * 0.15, base,
                c->px + i * bw + bw * 0.85, y, c->px + i * bw + bw * 0.15);
    }
    fprintf(c->f, "\" fill=\"%s\"/>\n", color);
    fprintf(c->f, "</g><g class=\"pp-labels\">");
    char lab[64];
    for (int i = 0; i < n; i++) {
        fmt_unit(lab, sizeof lab, c->yu, v[i]);
        fprintf(c->f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%s"
                "</text><text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">",
                c->px + (i + 0.5) * bw, Y(c, v[i]) - 3, lab, c->px + (i + 0.5) * bw,
                c->py + c->ph + 15);
        xml_text(c->f, labels[i]);
        fprintf(c->f, "</text>");
    }
    fprintf(c->f, "</g><g class=\"pp-data\">\n");
    legend_add(c, name, color, 1);
}

void chart_rects(struct chart *c, const char *name, const char *color, const double *x0,
                 const double *x1, const double *v, size_t n)
{
    series_open(c, name, "bar");
    double base = c->py + c->ph;
    for (size_t i = 0; i < n; i++) {
        double a = X(c, x0[i]), b = X(c, x1[i]);
        if (b - a < 1)
            b = a + 1;                     /* a bucket is at least a pixel wide */
        fprintf(c->f, "M%.1f %.1fH%.1fV%.1fH%.1fZ", a, base, b, Y(c, v[i]), a);
    }
    fprintf(c->f, "\" fill=\"%s\"/>\n", color);
    legend_add(c, name, color, 1);
}

void chart_points(struct chart *c, const char *name, const char *color,
                  const double *x, const double *v, size_t n)
{
    series_open(c, name, "line");
    int pen = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            pen = 0;
            continue;
        }
        fprintf(c->f, "%c%.1f %.1f", pen ? 'L' : 'M', X(c, x[i]), Y(c, v[i]));
        pen = 1;
    }
    fprintf(c->f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", color);
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            fprintf(c->f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n",
                    X(c, x[i]), Y(c, v[i]), color);
    legend_add(c, name, color, 0);
}

void chart_end(struct chart *c)
{
    FILE *f = c->f;
    fprintf(f, "</g></g>\n<g class=\"pp-legend\">\n");
    int lx = c->px + c->pw + 12;
    for (int i = 0; i < c->nlegend; i++) {
        int ly = c->py + 6 + i * 16;
        if (c->legend[i].area)
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"10\" fill=\"%s\" "
                    "fill-opacity=\"0.7\"/>", lx, ly - 4, c->legend[i].color);
        else
            fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" "
                    "stroke-width=\"2\"/>", lx, lx + 14, ly + 1, ly + 1, c->legend[i].color);
        fprintf(f, "<text x=\"%d\" y=\"%d\">", lx + 19, ly + 5);
        xml_text(f, c->legend[i].name);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</g></g></svg>\n");
}

/* ---- the HTML page ------------------------------------------------------------------- */

void html_begin(FILE *f, const char *title)
{
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>");
    xml_text(f, title);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;margin:16px;color:#222;max-width:1200px}\n"
          "h1{font-size:20px}h2{font-size:16px;margin-top:22px}\n"
          "table{border-collapse:collapse;font-size:13px}\n"
          "td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #ddd}\n"
          "td:first-child,th:first-child{text-align:left}\n"
          ".pp-chart{display:block;margin:6px 0;cursor:crosshair}\n"
          "#pp-tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.95);"
          "border:1px solid #888;padding:4px 7px;font-size:12px;display:none;white-space:pre}\n"
          ".note{color:#666;font-size:12px}\n"
          "</style></head><body>\n", f);
}

/* The script: hover shows the values of every series at the pointer's
 * time; dragging across a time chart zooms every time chart to that span;
 * a double click zooms out.  It reads the charts back from their data-*
 * attributes and path points, and marks the page with #pp-ready only when
 * it ran to the end without an exception. */
static const char script[] =
"<div id=\"pp-tip\"></div>\n<script>\n"
"(function(){\n"
"'use strict';\n"
"var tip=document.getElementById('pp-tip');\n"
"function num(e,k){return parseFloat(e.getAttribute('data-'+k));}\n"
"function fmt(u,v){var a=Math.abs(v),s='';\n"
" function r(x){return (Math.abs(x)>=100?x.toFixed(0):Math.abs(x)>=10?x.toFixed(1):x.toFixed(2));}\n"
" if(u==1){var k=['B','KiB','MiB','GiB','TiB'],i=0;while(a>=1024&&i<4){a/=1024;v/=1024;i++;}return r(v)+' '+k[i];}\n"
" if(u==2){if(a>=120)return r(v/60)+' min';if(a>=1||a==0)return r(v)+' s';if(a>=1e-3)return r(v*1e3)+' ms';return r(v*1e6)+' µs';}\n"
" if(u==3)return r(v)+'%';\n"
" if(u==5){if(a>=1e9)return r(v/1e9)+' s';if(a>=1e6)return r(v/1e6)+' ms';if(a>=1e3)return r(v/1e3)+' µs';return r(v)+' ns';}\n"
" if(u==4)s='/s';\n"
" if(a>=1e9)return r(v/1e9)+'G'+s;if(a>=1e6)return r(v/1e6)+'M'+s;if(a>=1e4)return r(v/1e3)+'k'+s;return r(v)+s;}\n"
"var charts=[];\n"
"[].forEach.call(document.querySelectorAll('svg.pp-chart'),function(svg){\n"
" var fr=svg.querySelector('.pp-frame');if(!fr)return;\n"
" var c={svg:svg,fr:fr,x0:num(fr,'x0'),x1:num(fr,'x1'),y0:num(fr,'y0'),y1:num(fr,'y1'),\n"
"  px:num(fr,'px'),py:num(fr,'py'),pw:num(fr,'pw'),ph:num(fr,'ph'),xu:num(fr,'xu'),yu:num(fr,'yu'),\n"
"  logy:num(fr,'logy'),logx:num(fr,'logx'),zoom:num(fr,'zoom'),series:[]};\n"
" c.a=c.x0;c.b=c.x1;\n"
" [].forEach.call(fr.querySelectorAll('path.pp-series'),function(p){\n"
"  var n=(p.getAttribute('d').match(/-?[0-9.]+/g)||[]).map(Number),xs=[],ys=[];\n"
"  for(var i=0;i+1<n.length;i+=2){xs.push(n[i]);ys.push(n[i+1]);}\n"
"  var area=p.classList.contains('pp-area');\n"
"  if(area){var h=xs.length/2;c.series.push({name:p.getAttribute('data-name'),xs:xs.slice(0,h),ys:ys.slice(0,h),lo:ys.slice(h).reverse()});}\n"
"  else if(!p.classList.contains('pp-bar'))c.series.push({name:p.getAttribute('data-name'),xs:xs,ys:ys});\n"
" });\n"
" charts.push(c);\n"
"});\n"
"function inv(c,y){var f=(c.py+c.ph-y)/c.ph;if(c.logy){var a=Math.log10(c.y0),b=Math.log10(c.y1);return Math.pow(10,a+f*(b-a));}return c.y0+f*(c.y1-c.y0);}\n"
"function X0(c,t){return c.px+(t-c.x0)/(c.x1-c.x0)*c.pw;}\n"
"function near(xs,x){var lo=0,hi=xs.length-1;if(hi<0)return -1;while(lo<hi){var m=(lo+hi)>>1;if(xs[m]<x)lo=m+1;else hi=m;}\n"
" if(lo>0&&Math.abs(xs[lo-1]-x)<Math.abs(xs[lo]-x))lo--;return lo;}\n"
"function tnow(c,ev){var r=c.svg.getBoundingClientRect(),x=(ev.clientX-r.left)*c.svg.viewBox.baseVal.width/r.width;\n"
" return {x:x,t:c.a+(x-c.px)/c.pw*(c.b-c.a)};}\n"
"function ticks(c){var g=c.fr.querySelector('.pp-xaxis');if(!g||c.logx||!c.zoom)return;\n"
" while(g.firstChild)g.removeChild(g.firstChild);\n"
" var span=c.b-c.a,sc=span>=300?60:span>=2?1:span>=2e-3?1e-3:1e-6,suf=span>=300?' min':span>=2?' s':span>=2e-3?' ms':' µs';\n"
" var raw=span/sc/8,p=Math.pow(10,Math.floor(Math.log10(raw))),m=raw/p,st=(m<1.5?1:m<3.5?2:m<7.5?5:10)*p*sc;\n"
" for(var d=Math.ceil(c.a/st)*st;d<=c.b+st*1e-9;d+=st){var t=document.createElementNS('http://www.w3.org/2000/svg','text');\n"
"  t.setAttribute('x',(c.px+(d-c.a)/span*c.pw).toFixed(1));t.setAttribute('y',c.py+c.ph+15);t.textContent=parseFloat((d/sc).toPrecision(6))+suf;g.appendChild(t);}}\n"
"function zoom(a,b){charts.forEach(function(c){if(!c.zoom)return;c.a=a;c.b=b;\n"
" var k=(c.x1-c.x0)/(b-a),tx=c.px-k*X0(c,a);\n"
" [].forEach.call(c.fr.querySelectorAll('.pp-data'),function(g){g.setAttribute('transform','matrix('+k+',0,0,1,'+tx+',0)');});\n"
" [].forEach.call(c.fr.querySelectorAll('[data-t]'),function(el){var x=c.px+(num(el,'t')-a)/(b-a)*c.pw;\n"
"  if(el.tagName=='text')el.setAttribute('x',(el.getAttribute('text-anchor')=='end'?x-2:x+2).toFixed(1));\n"
"  else{var ci=el.querySelector('circle'),tx2=el.querySelector('text');ci.setAttribute('cx',x.toFixed(1));tx2.setAttribute('x',(x+7).toFixed(1));tx2.setAttribute('text-anchor','start');}});\n"
" ticks(c);});}\n"
"charts.forEach(function(c){\n"
" var sel=null,band=null;\n"
" c.svg.addEventListener('mousemove',function(ev){var p=tnow(c,ev);\n"
"  if(sel!==null&&band){var l=Math.min(sel.x,p.x),r=Math.max(sel.x,p.x);band.setAttribute('x',l);band.setAttribute('width',r-l);}\n"
"  if(p.x<c.px||p.x>c.px+c.pw||!c.series.length){tip.style.display='none';return;}\n"
"  var lines=[c.logx?fmt(0,Math.pow(10,Math.log10(c.x0)+(p.x-c.px)/c.pw*(Math.log10(c.x1)-Math.log10(c.x0)))):fmt(c.xu,p.t)];\n"
"  var x0=c.logx?p.x:X0(c,p.t);\n"
"  c.series.forEach(function(s){var i=near(s.xs,x0);if(i<0||Math.abs(s.xs[i]-x0)>c.pw/8)return;\n"
"   var v=inv(c,s.ys[i]);if(s.lo)v-=inv(c,s.lo[i]);lines.push(s.name+': '+fmt(c.yu,v));});\n"
"  tip.textContent=lines.join('\\n');tip.style.display='block';\n"
"  tip.style.left=(ev.pageX+14)+'px';tip.style.top=(ev.pageY+10)+'px';});\n"
" c.svg.addEventListener('mouseleave',function(){tip.style.display='none';});\n"
" if(!c.zoom)return;\n"
" c.svg.addEventListener('mousedown',function(ev){ev.preventDefault();sel=tnow(c,ev);\n"
"  band=document.createElementNS('http://www.w3.org/2000/svg','rect');band.setAttribute('y',c.py);band.setAttribute('height',c.ph);\n"
"  band.setAttribute('fill','rgba(80,120,200,.2)');band.setAttribute('x',sel.x);band.setAttribute('width',0);c.svg.appendChild(band);});\n"
" c.svg.addEventListener('mouseup',function(ev){if(sel===null)return;var p=tnow(c,ev);\n"
"  if(band)c.svg.removeChild(band);band=null;var a=Math.min(sel.t,p.t),b=Math.max(sel.t,p.t);sel=null;\n"
"  if(Math.abs(b-a)>(c.b-c.a)/200)zoom(Math.max(a,c.x0),Math.min(b,c.x1));});\n"
" c.svg.addEventListener('dblclick',function(){zoom(c.x0,c.x1);});\n"
"});\n"
"var done=document.createElement('div');done.id='pp-ready';done.setAttribute('data-charts',charts.length);\n"
"done.style.display='none';\n"
/* #pp-selftest: drive a zoom and a hover with synthetic events, and record
 * what they did, so that a headless browser can check the interaction */
"if(location.hash=='#pp-selftest'&&charts.length){var c=charts[0],r=c.svg.getBoundingClientRect(),k=r.width/c.svg.viewBox.baseVal.width;\n"
" var ev=function(type,x){c.svg.dispatchEvent(new MouseEvent(type,{clientX:r.left+x*k,clientY:r.top+(c.py+c.ph/2)*k,bubbles:true}));};\n"
" ev('mousedown',c.px+c.pw*0.25);ev('mousemove',c.px+c.pw*0.75);ev('mouseup',c.px+c.pw*0.75);ev('mousemove',c.px+c.pw*0.5);\n"
" done.setAttribute('data-zoom',c.a.toPrecision(6)+' '+c.b.toPrecision(6));done.setAttribute('data-tip',tip.textContent);}\n"
"document.body.appendChild(done);\n"
"})();\n"
"</script>\n";

void html_end(FILE *f)
{
    fputs(script, f);
    fputs("</body></html>\n", f);
}

/*
 * draw.h - the commands that draw runs as pictures (tools/draw/): a small
 * SVG chart writer and the series the commands pull out of a struct run.
 *
 *   svg.c    the chart writer and the HTML page around the charts
 *   plot.c   `perfprobe plot`: a timeline as an HTML page or an SVG file
 *   trace.c  `perfprobe trace`: Chrome trace-event JSON for Perfetto
 *   scale.c  `perfprobe scale`: a program over input sizes, drawn with -o
 *   watch.c  `perfprobe watch` and `run --live`: the live terminal view
 *   flame.c  `perfprobe flame`: allocation sites as folded stacks, the
 *            input of flame graph drawers
 *   cpu_flame.c  `flame --cpu`: CPU samples as folded stacks
 *
 * A floor above the reader (read/read.h) and under the front end
 * (perfprobe.c, run.c); it calls nothing in report/ or export/.  Inside
 * the room, scale.c, trace.c and watch.c use plot.c (main_run,
 * run_offset) and svg.c, and plot.c uses svg.c.
 *
 * The writer draws one chart at a time into a FILE as an <svg> element in
 * pixel coordinates.  A static SVG report is several charts nested in one
 * root <svg>; the HTML report puts each chart inline in the page and adds a
 * small script (svg.c, html_script) that reads the charts back from the DOM
 * for hover and zoom, so the data is written once, as the drawing.
 */
#ifndef PP_DRAW_H
#define PP_DRAW_H

#include "read/read.h"

#include <stddef.h>

/* ---- svg.c ------------------------------------------------------------------- */

/* how an axis labels its numbers */
enum axis_unit { AX_NONE, AX_BYTES, AX_SEC, AX_PCT, AX_RATE, AX_NS, AX_COUNT };

#define CHART_LEGEND_MAX 32

struct chart {
    FILE *f;
    int html;               /* hover/zoom attributes for the page's script */
    int w, h;               /* the whole chart, pixels */
    int px, py, pw, ph;     /* the plot area inside it */
    double x0, x1, y0, y1;  /* data range */
    int logx, logy;
    enum axis_unit xu, yu;
    int zoom;               /* a time chart: zooms with the others */
    int res;                /* buckets across the plot for downsampling */
    int clip;               /* the clip path's number */
    int nlegend;
    struct { const char *name, *color; int area; } legend[CHART_LEGEND_MAX];
};

/* Opens chart ID at (X, Y) of an enclosing SVG (ignored in HTML). */
void chart_begin(struct chart *c, FILE *f, int html, const char *id, const char *title,
                 int x, int y, int w, int h);
/* Sets the data range and draws the axes; call once, after chart_begin. */
void chart_axes(struct chart *c, double x0, double x1, double y0, double y1,
                enum axis_unit xu, enum axis_unit yu, int logx, int logy);
/* A line through (t[i], v[i]), downsampled to the min and max of each
 * bucket of c->res buckets; NaN values break the line.  FLAGS: */
enum { LINE_DASHED = 1, LINE_STEP = 2 };
void chart_line(struct chart *c, const char *name, const char *color,
                const double *t, const double *v, size_t n, int flags);
/* Indices of the points worth drawing: per bucket, the one with the
 * largest KEY (and the first and the last point); returns the count. */
size_t chart_thin(const struct chart *c, const double *t, const double *key, size_t n,
                  size_t *keep);
/* A filled band between lo[i] and hi[i] (a stacked part), every point. */
void chart_area(struct chart *c, const char *name, const char *color,
                const double *t, const double *lo, const double *hi, size_t n);
/* A labelled vertical marker at time t (a probe). */
void chart_vmark(struct chart *c, double t, const char *label, const char *color, int row);
/* A labelled dot (a peak). */
void chart_dot(struct chart *c, double t, double v, const char *label, const char *color,
               int below);
/* Vertical bars over categories 0..n-1 (labels under them). */
void chart_bars(struct chart *c, const char *name, const char *color,
                const char *const *labels, const double *v, int n);
/* Bars from x0[i] to x1[i], of height v[i] (a histogram). */
void chart_rects(struct chart *c, const char *name, const char *color, const double *x0,
                 const double *x1, const double *v, size_t n);
/* Points joined by a line, with dots: small series on a log axis (scale). */
void chart_points(struct chart *c, const char *name, const char *color,
                  const double *x, const double *v, size_t n);
void chart_end(struct chart *c);

/* "12 MiB", "1.5 s", "80 %", "3.2 µs": a number for an axis or a label */
void fmt_unit(char *buf, size_t n, enum axis_unit u, double v);
/* text escaped for XML */
void xml_text(FILE *f, const char *s);
/* the page around the charts: head with style, and the closing script */
void html_begin(FILE *f, const char *title);
void html_end(FILE *f);
/* the colour of the I-th run in an overlay */
const char *run_color(int i);

/* ---- plot.c ---------------------------------------------------------------------- */

/* seconds from the earliest start to this run's start, when the runs are
 * processes of one tree (aligned on wall-clock time); else 0 */
double run_offset(const struct run *runs, int n, int i);
/* the run a command shows from runs that may hold several process images:
 * the main process, as run_main chooses it (0 when it cannot) */
int main_run(const struct run *runs, int n);
/* `perfprobe plot FILE|DIR... -o OUT.html|OUT.svg` */
int cmd_plot(int argc, char **argv);

/* ---- trace.c, scale.c, watch.c, flame.c: the other commands ------------------ */

/* `perfprobe trace FILE|DIR... -o trace.json` */
int cmd_trace(int argc, char **argv);
/* `perfprobe scale --values V1,V2,... [-n RUNS] [-o OUT] -- CMD ARGS...` */
int cmd_scale(int argc, char **argv);
/* `perfprobe watch FILE` */
int cmd_watch(int argc, char **argv);
/* The live view of `run --live`: follows the timeline of process CHILD
 * (written to PATTERN as in PERFPROBE_OUTPUT, or the default name when
 * NULL) until it exits; returns its wait status. */
int watch_child(int child, const char *pattern);
/* `perfprobe flame [--by alloc|live|peak|leaked] [-o OUT.folded] FILE` */
int cmd_flame(int argc, char **argv);

/* cpu_flame.c: `flame --cpu FILE` (flame.c hands it ARGV) */
int cpu_flame(int argc, char **argv);

#endif

/*
 * draw.h - what the picture commands share (plot.c, svg.c, trace.c,
 * scale.c, watch.c): a small SVG chart writer and the series they pull
 * out of a struct run.
 *
 * The writer draws one chart at a time into a FILE as an <svg> element in
 * pixel coordinates.  A static SVG report is several charts nested in one
 * root <svg>; the HTML report puts each chart inline in the page and adds a
 * small script (svg.c, html_script) that reads the charts back from the DOM
 * for hover and zoom, so the data is written once, as the drawing.
 */
#ifndef PP_DRAW_H
#define PP_DRAW_H

#include "cli.h"

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

#endif

/*
 * mend.h - mending a timeline's damaged lines in place (mend.c), for `run`.
 */
#ifndef PP_MEND_H
#define PP_MEND_H

/* the complete lines of the timeline PATH that are not JSON (a record cut
 * short by a kill, alone or with the next record glued after it) mended in
 * place, the file keeping its size: how many were rewritten, or -1 (not a
 * timeline of this user's, or a write failed) */
long timeline_mend(const char *path);

#endif

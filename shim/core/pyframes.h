/*
 * pyframes.h - where CPython keeps what pyframes.c reads, per minor version
 * (x86-64, release builds, the GIL build).  One table, included by
 * pyframes.c and by tests/python/offsets.c, which prints the same offsets
 * from each installed version's own headers (offsetof) so that t0900
 * compares the two.
 *
 * Sources (CPython at the version's tag): Include/cpython/pystate.h
 * (PyThreadState: frame 3.8-3.10, cframe 3.11-3.12, current_frame 3.13;
 * _PyCFrame.current_frame), Include/cpython/frameobject.h (3.8-3.10
 * PyFrameObject: f_back, f_code, f_lasti), Include/internal/pycore_frame.h
 * (3.11+ _PyInterpreterFrame: previous, f_code / f_executable, prev_instr /
 * instr_ptr, owner, is_entry in 3.11), Include/cpython/code.h (PyCodeObject:
 * co_filename, co_name, co_qualname 3.11+, co_firstlineno, co_lnotab
 * 3.8-3.9 / co_linetable 3.10+, co_code_adaptive 3.11+),
 * Include/cpython/unicodeobject.h (PyASCIIObject, PyCompactUnicodeObject).
 * 3.13 and later publish the frame, code and thread offsets themselves in
 * _PyRuntime.debug_offsets (_Py_DebugOffsets, Include/internal/
 * pycore_runtime.h); pyframes.c takes them from there when the cookie and
 * version match, the table's row being the fallback and the check.
 */
#ifndef PP_PYFRAMES_H
#define PP_PYFRAMES_H

struct pp_py_layout {
    int minor;
    int ts_frame;       /* PyThreadState: frame (3.8-3.10), cframe (3.11-3.12), current_frame */
    int cf_current;     /* _PyCFrame.current_frame (3.11-3.12), else -1 */
    int fr_back, fr_code, fr_lasti;             /* PyFrameObject, 3.8-3.10 */
    int if_previous, if_code, if_instr, if_owner, if_entry;   /* _PyInterpreterFrame, 3.11+ */
    int co_filename, co_name, co_qualname, co_firstlineno, co_linetable, co_code;
    int u_ascii_size, u_compact_size, u_utf8;   /* sizeof PyASCIIObject, PyCompactUnicodeObject */
    int owned_by_cstack;                        /* FRAME_OWNED_BY_CSTACK, 3.12+ */
    /* finding another thread's state (the CPU sampler, from outside):
     * _PyRuntime.interpreters.head, PyInterpreterState next and its first
     * thread (tstate_head 3.8-3.10, threads.head after), PyThreadState next,
     * interp, thread_id (pthread_self), native_thread_id (3.11+, else -1) */
    int rt_interp_head, is_next, is_threads, ts_next, ts_interp, ts_thread_id, ts_native_id;
    /* _PyRuntime._finalizing (finalizing 3.8): the state of the thread
     * that finalizes, set before it frees the others' */
    int rt_finalizing;
};

#define PP_PY_LAYOUTS \
    {8, 24, -1, 24, 32, 104, -1, -1, -1, -1, -1, 104, 112, -1, 40, 120, -1, 48, 72, 56, -1, 32, 0, 8, 8, 16, 176, -1, 16}, \
    {9, 24, -1, 24, 32, 104, -1, -1, -1, -1, -1, 104, 112, -1, 40, 120, -1, 48, 72, 56, -1, 32, 0, 8, 8, 16, 176, -1, 16}, \
    {10, 24, -1, 24, 32, 96, -1, -1, -1, -1, -1, 104, 112, -1, 40, 120, -1, 48, 72, 56, -1, 32, 0, 8, 8, 16, 176, -1, 16}, \
    {11, 56, 8, -1, -1, -1, 48, 32, 56, 69, 68, 112, 120, 128, 72, 136, 184, 48, 72, 56, -1, 40, 0, 16, 8, 16, 152, 160, 24}, \
    {12, 56, 0, -1, -1, -1, 8, 0, 56, 70, -1, 112, 120, 128, 68, 136, 192, 40, 56, 48, 3, 40, 0, 72, 8, 16, 136, 144, 24}, \
    {13, 72, -1, -1, -1, -1, 8, 0, 56, 70, -1, 112, 120, 128, 68, 136, 200, 40, 56, 48, 3, 632, 7264, 7344, 8, 16, 152, 160, 608},

/* where _Py_DebugOffsets (3.13) keeps the offsets above */
#define PP_PY_DBG_VERSION        8
#define PP_PY_DBG_FREE_THREADED  16
#define PP_PY_DBG_TS_FRAME       184
#define PP_PY_DBG_IF_PREVIOUS    232
#define PP_PY_DBG_IF_CODE        240
#define PP_PY_DBG_IF_INSTR       248
#define PP_PY_DBG_IF_OWNER       264
#define PP_PY_DBG_CO_FILENAME    280
#define PP_PY_DBG_CO_NAME        288
#define PP_PY_DBG_CO_QUALNAME    296
#define PP_PY_DBG_CO_LINETABLE   304
#define PP_PY_DBG_CO_FIRSTLINENO 312
#define PP_PY_DBG_CO_CODE        344
#define PP_PY_DBG_RT_INTERP_HEAD 40
#define PP_PY_DBG_IS_NEXT        64
#define PP_PY_DBG_IS_THREADS     72
#define PP_PY_DBG_TS_NEXT        168
#define PP_PY_DBG_TS_INTERP      176
#define PP_PY_DBG_TS_THREAD_ID   192
#define PP_PY_DBG_TS_NATIVE_ID   200
#define PP_PY_DBG_RT_FINALIZING  32

#endif

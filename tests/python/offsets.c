/*
 * offsets.c - prints, from one CPython version's own headers, the offsets
 * that shim/pyframes.c keeps in its table for that version, in the order
 * of struct pp_py_layout (shim/core/pyframes.h), with those the CPU
 * sampler uses to find another thread's state.  Built with -DPP_TABLE it
 * prints the table's row instead; t0900 builds both against each installed
 * version's headers and compares them.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#else
#include <internal/pycore_frame.h>
#endif
#if PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_runtime.h>
#include <internal/pycore_interp.h>
#else
#include <internal/pycore_pystate.h>
#endif
#ifdef PP_TABLE
#include "pyframes.h"
#endif

#define OFF(t, f) ((int)offsetof(t, f))

int main(void)
{
    int ts_frame = -1, cf_current = -1, fr_back = -1, fr_code = -1, fr_lasti = -1;
    int if_previous = -1, if_code = -1, if_instr = -1, if_owner = -1, if_entry = -1;
    int co_qualname = -1, co_code = -1, owned_by_cstack = -1, ts_native_id = -1;
#if PY_VERSION_HEX < 0x030B0000
    int is_threads = OFF(PyInterpreterState, tstate_head);
#else
    int is_threads = OFF(PyInterpreterState, threads.head);
    ts_native_id = OFF(PyThreadState, native_thread_id);
#endif
#if PY_VERSION_HEX < 0x030B0000
    ts_frame = OFF(PyThreadState, frame);
    fr_back = OFF(PyFrameObject, f_back);
    fr_code = OFF(PyFrameObject, f_code);
    fr_lasti = OFF(PyFrameObject, f_lasti);
#else
    co_qualname = OFF(PyCodeObject, co_qualname);
    co_code = OFF(PyCodeObject, co_code_adaptive);
    if_previous = OFF(_PyInterpreterFrame, previous);
    if_owner = OFF(_PyInterpreterFrame, owner);
#if PY_VERSION_HEX < 0x030D0000
    ts_frame = OFF(PyThreadState, cframe);
    cf_current = OFF(_PyCFrame, current_frame);
    if_code = OFF(_PyInterpreterFrame, f_code);
    if_instr = OFF(_PyInterpreterFrame, prev_instr);
#else
    ts_frame = OFF(PyThreadState, current_frame);
    if_code = OFF(_PyInterpreterFrame, f_executable);
    if_instr = OFF(_PyInterpreterFrame, instr_ptr);
#endif
#if PY_VERSION_HEX < 0x030C0000
    if_entry = OFF(_PyInterpreterFrame, is_entry);
#else
    owned_by_cstack = FRAME_OWNED_BY_CSTACK;
#endif
#endif
#if PY_VERSION_HEX < 0x030A0000
    int co_linetable = OFF(PyCodeObject, co_lnotab);
#else
    int co_linetable = OFF(PyCodeObject, co_linetable);
#endif
    int row[] = {PY_MINOR_VERSION, ts_frame, cf_current, fr_back, fr_code, fr_lasti,
                 if_previous, if_code, if_instr, if_owner, if_entry,
                 OFF(PyCodeObject, co_filename), OFF(PyCodeObject, co_name), co_qualname,
                 OFF(PyCodeObject, co_firstlineno), co_linetable, co_code,
                 (int)sizeof(PyASCIIObject), (int)sizeof(PyCompactUnicodeObject),
                 OFF(PyCompactUnicodeObject, utf8), owned_by_cstack,
                 OFF(_PyRuntimeState, interpreters.head), OFF(PyInterpreterState, next),
                 is_threads, OFF(PyThreadState, next), OFF(PyThreadState, interp),
                 OFF(PyThreadState, thread_id), ts_native_id,
#if PY_VERSION_HEX < 0x03090000
                 OFF(_PyRuntimeState, finalizing)};
#else
                 OFF(_PyRuntimeState, _finalizing)};
#endif
    /* what pyframes.c also assumes of every version */
    if (OFF(PyObject, ob_type) != 8 || OFF(PyVarObject, ob_size) != 16 ||
        OFF(PyBytesObject, ob_sval) != 32 || OFF(PyASCIIObject, length) != 16 ||
        OFF(PyASCIIObject, state) != 32)
        printf("object header differs\n");
#ifdef PP_TABLE
    static const struct pp_py_layout rows[] = {PP_PY_LAYOUTS};
    const struct pp_py_layout *t = NULL;
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        if (rows[i].minor == PY_MINOR_VERSION)
            t = &rows[i];
    if (!t)
        return 1;
    int trow[] = {t->minor, t->ts_frame, t->cf_current, t->fr_back, t->fr_code, t->fr_lasti,
                  t->if_previous, t->if_code, t->if_instr, t->if_owner, t->if_entry,
                  t->co_filename, t->co_name, t->co_qualname, t->co_firstlineno,
                  t->co_linetable, t->co_code, t->u_ascii_size, t->u_compact_size, t->u_utf8,
                  t->owned_by_cstack, t->rt_interp_head, t->is_next, t->is_threads, t->ts_next,
                  t->ts_interp, t->ts_thread_id, t->ts_native_id, t->rt_finalizing};
    memcpy(row, trow, sizeof row);
#endif
    for (size_t i = 0; i < sizeof row / sizeof *row; i++)
        printf("%d%c", row[i], i + 1 < sizeof row / sizeof *row ? ' ' : '\n');
#if PY_VERSION_HEX >= 0x030D0000
#ifdef PP_TABLE
    printf("threads %d %d %d %d %d %d %d %d\n", PP_PY_DBG_RT_INTERP_HEAD, PP_PY_DBG_IS_NEXT,
           PP_PY_DBG_IS_THREADS, PP_PY_DBG_TS_NEXT, PP_PY_DBG_TS_INTERP, PP_PY_DBG_TS_THREAD_ID,
           PP_PY_DBG_TS_NATIVE_ID, PP_PY_DBG_RT_FINALIZING);
    printf("debug %d %d %d %d %d %d %d %d %d %d %d %d %d\n", PP_PY_DBG_VERSION,
           PP_PY_DBG_FREE_THREADED, PP_PY_DBG_TS_FRAME, PP_PY_DBG_IF_PREVIOUS, PP_PY_DBG_IF_CODE,
           PP_PY_DBG_IF_INSTR, PP_PY_DBG_IF_OWNER, PP_PY_DBG_CO_FILENAME, PP_PY_DBG_CO_NAME,
           PP_PY_DBG_CO_QUALNAME, PP_PY_DBG_CO_LINETABLE, PP_PY_DBG_CO_FIRSTLINENO,
           PP_PY_DBG_CO_CODE);
#else
    printf("threads %d %d %d %d %d %d %d %d\n", OFF(_Py_DebugOffsets, runtime_state.interpreters_head),
           OFF(_Py_DebugOffsets, interpreter_state.next),
           OFF(_Py_DebugOffsets, interpreter_state.threads_head),
           OFF(_Py_DebugOffsets, thread_state.next), OFF(_Py_DebugOffsets, thread_state.interp),
           OFF(_Py_DebugOffsets, thread_state.thread_id),
           OFF(_Py_DebugOffsets, thread_state.native_thread_id),
           OFF(_Py_DebugOffsets, runtime_state.finalizing));
    printf("debug %d %d %d %d %d %d %d %d %d %d %d %d %d\n", OFF(_Py_DebugOffsets, version),
           OFF(_Py_DebugOffsets, free_threaded), OFF(_Py_DebugOffsets, thread_state.current_frame),
           OFF(_Py_DebugOffsets, interpreter_frame.previous),
           OFF(_Py_DebugOffsets, interpreter_frame.executable),
           OFF(_Py_DebugOffsets, interpreter_frame.instr_ptr),
           OFF(_Py_DebugOffsets, interpreter_frame.owner),
           OFF(_Py_DebugOffsets, code_object.filename), OFF(_Py_DebugOffsets, code_object.name),
           OFF(_Py_DebugOffsets, code_object.qualname), OFF(_Py_DebugOffsets, code_object.linetable),
           OFF(_Py_DebugOffsets, code_object.firstlineno),
           OFF(_Py_DebugOffsets, code_object.co_code_adaptive));
#endif
#endif
    return 0;
}

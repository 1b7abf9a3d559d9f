/*
 * offsets.c - prints, from one CPython version's own headers, the offsets
 * that shim/pyframes.c keeps in its table for that version, in the order
 * of struct pp_py_layout (shim/pyframes.h); t0900 compiles it against each
 * installed version's headers and compares with the table.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <stddef.h>
#include <stdio.h>
#if PY_VERSION_HEX < 0x030B0000
#include <frameobject.h>
#else
#include <internal/pycore_frame.h>
#endif
#if PY_VERSION_HEX >= 0x030D0000
#include <internal/pycore_runtime.h>
#endif

#define OFF(t, f) ((int)offsetof(t, f))

int main(void)
{
    int ts_frame = -1, cf_current = -1, fr_back = -1, fr_code = -1, fr_lasti = -1;
    int if_previous = -1, if_code = -1, if_instr = -1, if_owner = -1, if_entry = -1;
    int co_qualname = -1, co_code = -1, owned_by_cstack = -1;
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
    printf("%d.%d ts_frame=%d cf_current=%d fr_back=%d fr_code=%d fr_lasti=%d "
           "if_previous=%d if_code=%d if_instr=%d if_owner=%d if_entry=%d "
           "co_filename=%d co_name=%d co_qualname=%d co_firstlineno=%d co_linetable=%d "
           "co_code=%d u_ascii_size=%d u_compact_size=%d u_utf8=%d owned_by_cstack=%d "
           "bytes_size=%d bytes_data=%d ob_type=%d\n",
           PY_MAJOR_VERSION, PY_MINOR_VERSION, ts_frame, cf_current, fr_back, fr_code, fr_lasti,
           if_previous, if_code, if_instr, if_owner, if_entry, OFF(PyCodeObject, co_filename),
           OFF(PyCodeObject, co_name), co_qualname, OFF(PyCodeObject, co_firstlineno),
           co_linetable, co_code, (int)sizeof(PyASCIIObject), (int)sizeof(PyCompactUnicodeObject),
           OFF(PyCompactUnicodeObject, utf8), owned_by_cstack, OFF(PyVarObject, ob_size),
           OFF(PyBytesObject, ob_sval), OFF(PyObject, ob_type));
#if PY_VERSION_HEX >= 0x030D0000
    printf("debug cookie=%d version=%d free_threaded=%d ts_current_frame=%d if_previous=%d "
           "if_executable=%d if_instr_ptr=%d if_owner=%d co_filename=%d co_name=%d "
           "co_qualname=%d co_linetable=%d co_firstlineno=%d co_code_adaptive=%d\n",
           OFF(_Py_DebugOffsets, cookie), OFF(_Py_DebugOffsets, version),
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
    return 0;
}

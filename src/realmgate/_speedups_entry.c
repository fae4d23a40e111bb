/* realmgate._speedups: lane_entry, Verifier.verify's path for a token never seen
 * (overview: _speedups.c).
 *
 * Verifier.verify's own Python around fast_verify (is the lane current, has the doorkeeper
 * seen the token, is FINE logging on) was about 45 bytecodes, 0.5-0.6 us per token of the
 * 1-1.5 us the verifier added to an HS256 floor (benchmark machine, 2026-12-04). Here it is
 * one call; verify keeps every other case in Python. */
#include "_speedups.h"

static PyObject *LANE, *SNAPSHOT, *TOKEN_CACHE, *MAPPER;
PyObject *UNHANDLED;

/* Whether verifier.<name> is item i of lane: 1 yes, 0 no (or no such attribute). */
static int current(PyObject *verifier, PyObject *name, PyObject *lane, Py_ssize_t i) {
    PyObject *value = PyObject_GetAttr(verifier, name);
    if (value == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(value); /* compared by identity only; the verifier keeps it alive */
    return value == PyTuple_GET_ITEM(lane, i);
}

const char lane_entry_doc[] =
"lane_entry(verifier, token)\n"
"\n"
"UNHANDLED when Verifier.verify must take its usual way (not an exact str, the lane not\n"
"current or off, a token the doorkeeper may have seen: the cache is asked first). Else\n"
"fast_verify's answer for the lane's state: an accepted Decision (when FINE logging is\n"
"known off), (decision,) when it must be logged, None (the reference decides), or\n"
"(snapshot, front) for the Python stages after the signature (realmgate.lane.after_front).";

PyObject *lane_entry(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "lane_entry(verifier, token) takes 2 arguments");
        return NULL;
    }
    PyObject *verifier = args[0], *token = args[1];
    if (!PyUnicode_CheckExact(token)) return Py_NewRef(UNHANDLED);
    PyObject *lane = PyObject_GetAttr(verifier, LANE);
    if (lane == NULL) {
        PyErr_Clear();
        return Py_NewRef(UNHANDLED);
    }
    PyObject *result = NULL;
    if (!PyTuple_CheckExact(lane) || PyTuple_GET_SIZE(lane) != 4) goto unhandled;
    PyObject *state = PyTuple_GET_ITEM(lane, 3);
    if (!PyTuple_CheckExact(state) || PyTuple_GET_SIZE(state) != S_SIZE) goto unhandled;
    if (!current(verifier, SNAPSHOT, lane, 0) || !current(verifier, TOKEN_CACHE, lane, 1) ||
        !current(verifier, MAPPER, lane, 2))
        goto unhandled;
    int fresh = unseen(PyTuple_GET_ITEM(state, S_DOORKEEPER), token);
    if (fresh != 1) {
        PyErr_Clear();
        goto unhandled;
    }
    PyObject *call[2] = {token, state};
    PyObject *front = fast_verify(module, call, 2);
    if (front == NULL || front == Py_None) {
        result = front;
    } else if ((PyObject *)Py_TYPE(front) == PyTuple_GET_ITEM(state, S_DECISION_TYPE)) {
        PyObject *log_cache = PyTuple_GET_ITEM(state, S_LOG_CACHE);
        PyObject *logged = PyDict_CheckExact(log_cache)
                               ? PyDict_GetItemWithError(log_cache, PyTuple_GET_ITEM(state, S_FINE))
                               : NULL;
        PyErr_Clear();
        if (logged == Py_False) {
            result = front;
        } else {
            result = PyTuple_Pack(1, front);
            Py_DECREF(front);
        }
    } else {
        result = PyTuple_Pack(2, PyTuple_GET_ITEM(lane, 0), front);
        Py_DECREF(front);
    }
    Py_DECREF(lane);
    return result;
unhandled:
    Py_DECREF(lane);
    return Py_NewRef(UNHANDLED);
}

int init_entry_names(void) {
    if (LANE != NULL) return 0;
    LANE = PyUnicode_InternFromString("_lane");
    SNAPSHOT = PyUnicode_InternFromString("_snapshot");
    TOKEN_CACHE = PyUnicode_InternFromString("token_cache");
    MAPPER = PyUnicode_InternFromString("_mapper");
    UNHANDLED = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (!LANE || !SNAPSHOT || !TOKEN_CACHE || !MAPPER || !UNHANDLED) return -1;
    return 0;
}

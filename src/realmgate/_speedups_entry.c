/* realmgate._speedups: lane_entry, Verifier.verify's path for a token never seen
 * (overview: _speedups.c).
 *
 * Verifier.verify's own Python around fast_verify (is the lane current, has the doorkeeper
 * seen the token, is FINE logging on) was about 45 bytecodes: 0.6 us per HS256 token in a
 * hot loop (4.40 us through verify against 3.80 us calling fast_verify from a one-line
 * function; benchmark machine, 2026-12-04). Here it is one call; verify keeps every other
 * case in Python. */
#include "_speedups.h"

#include <stddef.h>

static PyObject *LANE, *TOKEN_CACHE;
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

/* lane_entry's answer for (verifier, token): a new reference, or NULL with an error set. */
static PyObject *enter(PyObject *verifier, PyObject *token) {
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
    /* The verifier resets _lane whenever its snapshot or mapper changes (and remakes it
     * checked against both); only the cache, a public attribute, is compared here. */
    if (!current(verifier, TOKEN_CACHE, lane, 1)) goto unhandled;
    int fresh = unseen(PyTuple_GET_ITEM(state, S_DOORKEEPER), token);
    if (fresh != 1) {
        PyErr_Clear();
        goto unhandled;
    }
    PyObject *call[2] = {token, state};
    PyObject *front = fast_verify(NULL, call, 2);
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

PyObject *lane_entry(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "lane_entry(verifier, token) takes 2 arguments");
        return NULL;
    }
    return enter(args[0], args[1]);
}

/* ---- FastMethod: Verifier.verify without an interpreter frame -------------------------- */

/* verify(token) is how nearly every caller asks; as a Python method around lane_entry its
 * frame still cost 0.28 us per HS256 token in a hot loop (3.75 against 3.47 us; benchmark
 * machine, 2026-12-04), 1 100 instructions per RS256 token (cachegrind). FastMethod wraps
 * the Python method: a call of exactly (verifier, token) asks lane_entry, and hands what it
 * cannot finish to the functions given at construction,
 * ``usual(verifier, token, None, False, None)`` and ``entered(verifier, token, None, None,
 * answer)``: what the Python verify calls for the same answers. Any other call goes to the
 * Python method itself. A method descriptor: ``verifier.verify(token)`` calls it with the
 * verifier as first argument, without making a bound method. */
typedef struct {
    PyObject_HEAD
    PyObject *function; /* the Python verify */
    PyObject *usual;    /* the function for UNHANDLED: usual(verifier, token, ...) */
    PyObject *entered;  /* the function for the other answers */
    PyObject *decision; /* the Decision type */
    vectorcallfunc vectorcall;
} FastMethod;

static PyObject *fastmethod_call(PyObject *callable, PyObject *const *args, size_t nargsf,
                                 PyObject *kwnames) {
    FastMethod *self = (FastMethod *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 2 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0))
        return PyObject_Vectorcall(self->function, args, nargsf, kwnames);
    PyObject *verifier = args[0], *token = args[1];
    PyObject *answer = enter(verifier, token);
    if (answer == NULL || Py_TYPE(answer) == (PyTypeObject *)self->decision) return answer;
    PyObject *result;
    if (answer == UNHANDLED) {
        PyObject *call[5] = {verifier, token, Py_None, Py_False, Py_None};
        result = PyObject_Vectorcall(self->usual, call, 5, NULL);
    } else {
        PyObject *call[5] = {verifier, token, Py_None, Py_None, answer};
        result = PyObject_Vectorcall(self->entered, call, 5, NULL);
    }
    Py_DECREF(answer);
    return result;
}

static PyObject *fastmethod_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *function, *usual, *entered, *decision;
    if (!PyArg_ParseTuple(args, "OOOO!:FastMethod", &function, &usual, &entered, &PyType_Type,
                          &decision))
        return NULL;
    if (!PyCallable_Check(function) || !PyCallable_Check(usual) || !PyCallable_Check(entered)) {
        PyErr_SetString(PyExc_TypeError, "FastMethod: the functions must be callable");
        return NULL;
    }
    FastMethod *self = (FastMethod *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->function = Py_NewRef(function);
    self->usual = Py_NewRef(usual);
    self->entered = Py_NewRef(entered);
    self->decision = Py_NewRef(decision);
    self->vectorcall = fastmethod_call;
    return (PyObject *)self;
}

static PyObject *fastmethod_get(PyObject *self, PyObject *obj, PyObject *type) {
    if (obj == NULL || obj == Py_None) return Py_NewRef(self);
    return PyMethod_New(self, obj);
}

static int fastmethod_traverse(FastMethod *self, visitproc visit, void *arg) {
    Py_VISIT(self->function);
    Py_VISIT(self->usual);
    Py_VISIT(self->entered);
    Py_VISIT(self->decision);
    return 0;
}

static int fastmethod_clear(FastMethod *self) {
    Py_CLEAR(self->function);
    Py_CLEAR(self->usual);
    Py_CLEAR(self->entered);
    Py_CLEAR(self->decision);
    return 0;
}

static void fastmethod_dealloc(FastMethod *self) {
    PyObject_GC_UnTrack(self);
    fastmethod_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* __doc__, __name__, __qualname__, __module__, __annotations__ are the wrapped function's;
 * __wrapped__ is the function (inspect.signature and help() follow it). */
static PyObject *fastmethod_getattro(PyObject *self, PyObject *name) {
    PyObject *found = PyObject_GenericGetAttr(self, name);
    if (found != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError)) return found;
    PyErr_Clear();
    if (PyUnicode_CompareWithASCIIString(name, "__wrapped__") == 0)
        return Py_NewRef(((FastMethod *)self)->function);
    return PyObject_GetAttr(((FastMethod *)self)->function, name);
}

static PyObject *fastmethod_doc(FastMethod *self, void *closure) {
    return PyObject_GetAttrString(self->function, "__doc__");
}

static PyObject *fastmethod_repr(FastMethod *self) {
    return PyUnicode_FromFormat("<FastMethod %R>", self->function);
}

static PyGetSetDef fastmethod_getset[] = {
    {"__doc__", (getter)fastmethod_doc, NULL, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject FastMethodType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "realmgate._speedups.FastMethod",
    .tp_basicsize = sizeof(FastMethod),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_vectorcall_offset = offsetof(FastMethod, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = fastmethod_new,
    .tp_descr_get = fastmethod_get,
    .tp_getattro = fastmethod_getattro,
    .tp_getset = fastmethod_getset,
    .tp_traverse = (traverseproc)fastmethod_traverse,
    .tp_clear = (inquiry)fastmethod_clear,
    .tp_dealloc = (destructor)fastmethod_dealloc,
    .tp_repr = (reprfunc)fastmethod_repr,
};

int init_entry_names(void) {
    if (LANE != NULL) return 0;
    LANE = PyUnicode_InternFromString("_lane");
    TOKEN_CACHE = PyUnicode_InternFromString("token_cache");
    UNHANDLED = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (!LANE || !TOKEN_CACHE || !UNHANDLED) return -1;
    return 0;
}

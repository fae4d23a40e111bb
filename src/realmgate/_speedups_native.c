/* realmgate._speedups: NativeVerify, a prepared signature check without a Python frame
 * (overview: _speedups.c).
 *
 * signature.prepare_verifier binds a key and an algorithm once; for RSA, RSA-PSS and EdDSA
 * the bound callable is only "call the key's verify, InvalidSignature means False". As a
 * Python closure that is one interpreter frame and a try block per token: 660 of the
 * instructions an RS256 token cost over the floor (cachegrind, 2026-12-04). This type is the
 * same callable as a C object: the reference pipeline and the fast lane call it through
 * vectorcall exactly as they called the closure. */
#include "_speedups.h"

#include <stddef.h>

typedef struct {
    PyObject_HEAD
    PyObject *method;   /* the key's bound verify(signature, message, *extra) */
    PyObject *extra;    /* a tuple: the arguments after the message (padding, hash) */
    PyObject *invalid;  /* the exception class meaning "did not verify" */
    Py_ssize_t length;  /* the signature length required (else False), or -1 */
    vectorcallfunc vectorcall;
} NativeVerify;

#define MAX_EXTRA 4

static PyObject *native_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                   PyObject *kwnames) {
    NativeVerify *self = (NativeVerify *)callable;
    if (PyVectorcall_NARGS(nargsf) != 2 || (kwnames != NULL && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "NativeVerify(message, signature) takes 2 arguments");
        return NULL;
    }
    PyObject *message = args[0], *signature = args[1];
    if (self->length >= 0) {
        Py_ssize_t size = PyObject_Size(signature);
        if (size < 0) return NULL;
        if (size != self->length) Py_RETURN_FALSE;
    }
    PyObject *call[2 + MAX_EXTRA];
    Py_ssize_t extra = PyTuple_GET_SIZE(self->extra);
    call[0] = signature;
    call[1] = message;
    for (Py_ssize_t i = 0; i < extra; i++) call[2 + i] = PyTuple_GET_ITEM(self->extra, i);
    PyObject *result = PyObject_Vectorcall(self->method, call, 2 + extra, NULL);
    if (result == NULL) {
        if (!PyErr_ExceptionMatches(self->invalid)) return NULL;
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    Py_DECREF(result);
    Py_RETURN_TRUE;
}

static PyObject *native_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *method, *extra, *invalid;
    Py_ssize_t length = -1;
    static char *keywords[] = {"method", "extra", "invalid", "length", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO!O|n:NativeVerify", keywords, &method,
                                     &PyTuple_Type, &extra, &invalid, &length))
        return NULL;
    if (!PyCallable_Check(method) || PyTuple_GET_SIZE(extra) > MAX_EXTRA ||
        !PyExceptionClass_Check(invalid) || length < -1) {
        PyErr_SetString(PyExc_TypeError,
                        "NativeVerify(method, extra, invalid, length=-1): a callable, a tuple of "
                        "at most 4, an exception class, a length >= -1");
        return NULL;
    }
    NativeVerify *self = (NativeVerify *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->method = Py_NewRef(method);
    self->extra = Py_NewRef(extra);
    self->invalid = Py_NewRef(invalid);
    self->length = length;
    self->vectorcall = native_vectorcall;
    return (PyObject *)self;
}

static int native_traverse(NativeVerify *self, visitproc visit, void *arg) {
    Py_VISIT(self->method);
    Py_VISIT(self->extra);
    Py_VISIT(self->invalid);
    return 0;
}

static int native_clear(NativeVerify *self) {
    Py_CLEAR(self->method);
    Py_CLEAR(self->extra);
    Py_CLEAR(self->invalid);
    return 0;
}

static void native_dealloc(NativeVerify *self) {
    PyObject_GC_UnTrack(self);
    native_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *native_repr(NativeVerify *self) {
    return PyUnicode_FromFormat("<NativeVerify %R>", self->method);
}

PyTypeObject NativeVerifyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "realmgate._speedups.NativeVerify",
    .tp_doc = PyDoc_STR(
        "NativeVerify(method, extra, invalid, length=-1)(message, signature) -> bool\n\n"
        "True when method(signature, message, *extra) returns, False when it raises\n"
        "``invalid`` (or when length >= 0 and len(signature) differs); anything else it\n"
        "raises propagates."),
    .tp_basicsize = sizeof(NativeVerify),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(NativeVerify, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = native_new,
    .tp_traverse = (traverseproc)native_traverse,
    .tp_clear = (inquiry)native_clear,
    .tp_dealloc = (destructor)native_dealloc,
    .tp_repr = (reprfunc)native_repr,
};

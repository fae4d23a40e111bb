/*
 * realmgate._speedups: the verifier's fast lane for unique tokens, in C (issue 5).
 *
 * Why C: with every check done in Python, a unique token cost 13.9 us against a 2.0 us
 * HMAC floor (6.8x) and 34 us against a 20 us RSA floor (1.7x) on the benchmark machine
 * (2-core EPYC, CPython 3.11, 2026-11-23); a minimal hand-written Python verifier with the
 * same strict parse still needed 5 us over the floor, and mypyc-compiling the pipeline only
 * reached 5.5x for HS256. The targets are 3x and 1.25x. benchmarks/results-*.md has the
 * figures with this module.
 *
 * What it does: the accept-only front half of the pipeline - strict split and base64url
 * decode, the strict JSON parse of the claims, the issuer's definition, the algorithm
 * allow-list, the key lookup and signature (through the Python callables the reference
 * prepared), and the claim checks of claims.compile_claims. It never refuses: whenever a
 * token is not certainly fine (any malformed byte, an unknown header, a failed check, a
 * Python error) it returns None and the pure-Python pipeline (realmgate.verifier) decides
 * and explains. So a bug here can only make it accept less, as long as everything it does
 * accept the reference accepts identically; tests/test_speedups.py proves that agreement
 * differentially, and fuzz/atheris_speedups.py fuzzes it. The JSON parser is as strict as
 * realmgate.jsonparse (no duplicate names, no NaN, no lone surrogates, depth <= 32, strict
 * UTF-8) and declines, rather than converts, integers of 19 or more characters.
 *
 * Files: this one (the module, and the parts exposed for the differential tests and the
 * fuzzer), _speedups_split.c (split, base64url), _speedups_json.c (the JSON parser),
 * _speedups_claims.c (the claim checks), _speedups_lane.c (fast_verify),
 * _speedups_accept.c (its stages after the claims),
 * _speedups_rules.c (RuleIndex, its mapping-rule table), _speedups_doorkeeper.c (the cache's
 * doorkeeper), _speedups_native.c (NativeVerify, the prepared signature check),
 * _speedups_entry.c (lane_entry, Verifier.verify's unique-token path); _speedups.h
 * declares what they share.
 */
#include "_speedups.h"

/* ---- the parts, exposed for the differential tests and the fuzzer ------------------------ */

PyDoc_STRVAR(split_compact_doc,
"split_compact(token, max_bytes) -> (header_segment, signing_input, payload, signature) | None");

static PyObject *split_compact(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "split_compact takes 2 arguments");
        return NULL;
    }
    Py_ssize_t max_bytes = PyLong_AsSsize_t(args[1]);
    if (max_bytes == -1 && PyErr_Occurred()) return NULL;
    Split split = {0};
    int got = split_token(args[0], max_bytes, &split);
    if (got <= 0) {
        if (got == 0) Py_RETURN_NONE;
        return NULL;
    }
    PyObject *result = Py_BuildValue(
        "(y#y#OO)", (const char *)split.text, split.header_end, (const char *)split.text,
        split.payload_end, split.payload, split.signature);
    Py_DECREF(split.payload);
    Py_DECREF(split.signature);
    return result;
}

PyDoc_STRVAR(loads_strict_doc, "loads_strict(data: bytes) -> dict | None");

static PyObject *loads_strict(PyObject *module, PyObject *data) {
    if (!PyBytes_Check(data)) {
        PyErr_SetString(PyExc_TypeError, "loads_strict takes bytes");
        return NULL;
    }
    PyObject *object =
        loads_object((const unsigned char *)PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
    if (object == NULL && !PyErr_Occurred()) Py_RETURN_NONE;
    return object;
}

PyDoc_STRVAR(check_claims_doc,
"check_claims(claims, now, skew, max_age, check_aud, expected, required) -> float | None");

static PyObject *check_claims(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 7 || !PyDict_Check(args[0]) || !PyTuple_Check(args[6]) ||
        (args[5] != Py_None && !PyAnySet_Check(args[5]))) {
        PyErr_SetString(PyExc_TypeError, "check_claims: bad arguments");
        return NULL;
    }
    double now = PyFloat_AsDouble(args[1]);
    if (now == -1.0 && PyErr_Occurred()) return NULL;
    double skew = PyFloat_AsDouble(args[2]);
    if (skew == -1.0 && PyErr_Occurred()) return NULL;
    int check_aud = PyObject_IsTrue(args[4]);
    if (check_aud < 0) return NULL;
    double exp = 0;
    int valid = claims_ok(args[0], now, skew, args[3], check_aud, args[5], args[6], &exp);
    if (valid < 0) return NULL;
    if (!valid) Py_RETURN_NONE;
    return PyFloat_FromDouble(exp);
}

PyDoc_STRVAR(vector_base64_doc,
"vector_base64(enable=None) -> bool: whether base64url decodes 32 characters at a time (AVX2);\n"
"True or False switches it (on only where the CPU has AVX2). For the tests and benchmarks.");

static PyObject *vector_base64_switch(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs > 1) {
        PyErr_SetString(PyExc_TypeError, "vector_base64 takes at most 1 argument");
        return NULL;
    }
    int enable = -1;
    if (nargs == 1 && args[0] != Py_None) {
        enable = PyObject_IsTrue(args[0]);
        if (enable < 0) return NULL;
    }
    return PyBool_FromLong(vector_base64(enable));
}

static PyMethodDef methods[] = {
    {"fast_verify", (PyCFunction)(void (*)(void))fast_verify, METH_FASTCALL, fast_verify_doc},
    {"lane_entry", (PyCFunction)(void (*)(void))lane_entry, METH_FASTCALL, lane_entry_doc},
    {"doorkeeper_admit", (PyCFunction)(void (*)(void))doorkeeper_admit, METH_FASTCALL,
     doorkeeper_admit_doc},
    {"doorkeeper_unseen", (PyCFunction)(void (*)(void))doorkeeper_unseen, METH_FASTCALL,
     doorkeeper_unseen_doc},
    {"split_compact", (PyCFunction)(void (*)(void))split_compact, METH_FASTCALL,
     split_compact_doc},
    {"loads_strict", (PyCFunction)loads_strict, METH_O, loads_strict_doc},
    {"check_claims", (PyCFunction)(void (*)(void))check_claims, METH_FASTCALL, check_claims_doc},
    {"vector_base64", (PyCFunction)(void (*)(void))vector_base64_switch, METH_FASTCALL,
     vector_base64_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "realmgate._speedups",
    "The verifier's fast lane for unique tokens (accept-only; see _speedups.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    const uint32_t one = 1;
    if (*(const unsigned char *)&one != 1) { /* the doorkeeper's counters are little-endian */
        PyErr_SetString(PyExc_ImportError, "realmgate._speedups needs a little-endian CPU");
        return NULL;
    }
    init_b64();
    if (init_claim_names() < 0 || init_accept_names() < 0 || init_entry_names() < 0) return NULL;
    if (PyType_Ready(&NativeVerifyType) < 0 || PyType_Ready(&FastMethodType) < 0 ||
        PyType_Ready(&RuleIndexType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
    if (PyModule_AddObjectRef(module, "NativeVerify", (PyObject *)&NativeVerifyType) < 0 ||
        PyModule_AddObjectRef(module, "FastMethod", (PyObject *)&FastMethodType) < 0 ||
        PyModule_AddObjectRef(module, "RuleIndex", (PyObject *)&RuleIndexType) < 0 ||
        PyModule_AddObjectRef(module, "UNHANDLED", UNHANDLED) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}

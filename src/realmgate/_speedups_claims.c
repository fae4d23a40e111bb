/* realmgate._speedups: the claim checks (overview: _speedups.c). */
#include "_speedups.h"

/* ---- claim checks (claims.compile_claims) ------------------------------------------------ */

/* 1 and *out set: an int or float (never bool); 0: anything else. Ints beyond 2**53 are
 * beyond MAX_NUMERIC_DATE, so their rounding to double never changes a comparison. */
static int number_of(PyObject *value, double *out) {
    if (PyFloat_CheckExact(value)) {
        *out = PyFloat_AS_DOUBLE(value);
        return 1;
    }
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow) {
            *out = overflow > 0 ? HUGE_VAL : -HUGE_VAL;
        } else {
            if (v == -1 && PyErr_Occurred()) {
                PyErr_Clear();
                return 0;
            }
            *out = (double)v;
        }
        return 1;
    }
    return 0;
}

static inline int in_range(double v) { return v >= 0 && v <= MAX_NUMERIC_DATE; }

PyObject *NAMES[N_COUNT];


/* 1: valid, *exp_out set; 0: not certainly valid; -1: error. */
int claims_ok(PyObject *claims, double now, double skew, PyObject *max_age_obj,
                     int check_aud, PyObject *expected, PyObject *required, double *exp_out) {
    for (int i = N_ISS; i <= N_JTI; i++) {
        PyObject *v = get(claims, i);
        if (v != NULL && !PyUnicode_CheckExact(v)) return 0;
    }
    double max_age = 0;
    int has_max_age = max_age_obj != Py_None;
    if (has_max_age) {
        if (!PyFloat_Check(max_age_obj) && !PyLong_Check(max_age_obj)) return 0;
        max_age = PyFloat_AsDouble(max_age_obj);
        if (max_age == -1.0 && PyErr_Occurred()) return -1;
    }
    PyObject *exp_obj = get(claims, N_EXP), *nbf_obj = get(claims, N_NBF);
    PyObject *iat_obj = get(claims, N_IAT);
    double exp, nbf, iat;
    if (exp_obj == NULL || !number_of(exp_obj, &exp)) return 0;
    if (exp_obj && nbf_obj && iat_obj && PyLong_CheckExact(exp_obj) &&
        PyLong_CheckExact(nbf_obj) && PyLong_CheckExact(iat_obj) && now + skew > MAX_NUMERIC_DATE)
        return 0; /* the reference's all-int path declines here (year 9999) */
    if (!in_range(exp) || !(now - skew < exp)) return 0;
    if (nbf_obj != NULL) {
        if (!number_of(nbf_obj, &nbf) || !in_range(nbf) || nbf > now + skew) return 0;
    }
    if (iat_obj == NULL) {
        if (has_max_age) return 0;
    } else {
        if (!number_of(iat_obj, &iat) || !in_range(iat) || iat > now + skew || iat > exp) return 0;
        if (has_max_age && !(now - iat <= max_age + skew)) return 0;
    }
    if (check_aud) {
        PyObject *aud = get(claims, N_AUD);
        if (aud != NULL && aud != Py_None) {
            if (PyUnicode_CheckExact(aud)) {
                if (expected != Py_None) {
                    int found = PySet_Contains(expected, aud);
                    if (found < 0) return -1;
                    if (!found) return 0;
                }
            } else if (PyList_CheckExact(aud) && PyList_GET_SIZE(aud) > 0) {
                Py_ssize_t n = PyList_GET_SIZE(aud);
                for (Py_ssize_t i = 0; i < n; i++)
                    if (!PyUnicode_CheckExact(PyList_GET_ITEM(aud, i))) return 0;
                if (expected != Py_None) {
                    int any = 0;
                    for (Py_ssize_t i = 0; i < n && !any; i++) {
                        any = PySet_Contains(expected, PyList_GET_ITEM(aud, i));
                        if (any < 0) return -1;
                    }
                    if (!any) return 0;
                }
            } else {
                return 0;
            }
        } else if (expected != Py_None) {
            return 0;
        }
    }
    Py_ssize_t count = PyTuple_GET_SIZE(required);
    for (Py_ssize_t i = 0; i < count; i++) {
        int present = PyDict_Contains(claims, PyTuple_GET_ITEM(required, i));
        if (present <= 0) return present;
    }
    *exp_out = exp;
    return 1;
}

int init_claim_names(void) {
    static const char *const names[N_COUNT] = {"iss", "sub", "jti", "exp", "nbf", "iat", "aud"};
    for (int i = 0; i < N_COUNT; i++) {
        if (NAMES[i] == NULL && (NAMES[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return -1;
    }
    return 0;
}

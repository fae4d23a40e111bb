/*
 * realmgate._speedups: what its source files share (see _speedups.c for the overview).
 *
 * _speedups_split.c: strict compact-JWS split and base64url;
 * _speedups_json.c: the strict JSON-object parser;
 * _speedups_claims.c: the claim checks of claims.compile_claims;
 * _speedups_lane.c: the fast lane (fast_verify);
 * _speedups_accept.c: its stages after the claims (accept_token);
 * _speedups_rules.c: its identity-mapping rule lookups;
 * _speedups_doorkeeper.c: the verified-token cache's doorkeeper;
 * _speedups_native.c: NativeVerify, a prepared signature check as a C callable;
 * _speedups_entry.c: lane_entry, Verifier.verify's unique-token path;
 * _speedups.c: the module, and the parts exposed for the tests and the fuzzer.
 */
#ifndef REALMGATE_SPEEDUPS_H
#define REALMGATE_SPEEDUPS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 32
#define MAX_NUMBER_CHARS 64
#define MAX_KEYS_TRIED 8
#define MAX_NUMERIC_DATE 253402300799.0
#define STACK_STRING 512

/* Shared between the files only: never exported from the module's shared object. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

typedef struct {
    const unsigned char *text;
    Py_ssize_t length;
    Py_ssize_t header_end;  /* index of the first '.' */
    Py_ssize_t payload_end; /* index of the second '.' */
    PyObject *payload;
    PyObject *signature;
} Split;

/* 1: split and decoded; 0: not for the fast lane; -1: error (exception set). */
int split_token(PyObject *token, Py_ssize_t max_bytes, Split *out);
void init_b64(void);
/* Whether base64url uses the AVX2 blocks; enable 0 or 1 switches them (on only where the
 * CPU has AVX2), -1 only asks. */
int vector_base64(int enable);

/* A new dict, or NULL: with an exception set for a real error (memory), without one when
 * the input is refused or declined. */
PyObject *loads_object(const unsigned char *data, Py_ssize_t n);

enum { N_ISS, N_SUB, N_JTI, N_EXP, N_NBF, N_IAT, N_AUD, N_COUNT };
extern PyObject *NAMES[N_COUNT];

/* Borrowed; NULL when absent (a lookup of an exact dict with str keys cannot fail). */
static inline PyObject *get(PyObject *claims, int name) {
    return PyDict_GetItemWithError(claims, NAMES[name]);
}

int init_claim_names(void);

/* 1: valid, *exp_out set; 0: not certainly valid; -1: error. */
int claims_ok(PyObject *claims, double now, double skew, PyObject *max_age_obj, int check_aud,
              PyObject *expected, PyObject *required, double *exp_out);

/* A RuleIndex's rule (and its local user) for a plain user name, or the first of
 * ``order``: 1 (borrowed from the index), 0 (none), -1 (an error set). See
 * _speedups_rules.c. */
extern PyTypeObject RuleIndexType;
int indexed_rule(PyObject *index, PyObject *user, PyObject *realm, PyObject *any,
                 PyObject **rule, PyObject **local_user);
int indexed_first_rule(PyObject *index, PyObject *order, PyObject **rule,
                       PyObject **local_user);

/* 1: token seen before; 0: marked now; -1: a bad state (see _speedups_doorkeeper.c). */
int admit(PyObject *state, PyObject *token);
/* 1: certainly never marked; 0: maybe marked; -1: a bad state or an error. */
int unseen(PyObject *state, PyObject *token);

PyObject *fast_verify(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *doorkeeper_admit(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
PyObject *doorkeeper_unseen(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
extern const char doorkeeper_unseen_doc[];
extern const char fast_verify_doc[];
extern const char doorkeeper_admit_doc[];
int init_accept_names(void);

/* A new instance of a tuple subclass (ParsedJWS, Decision, LaneRecord) holding items,
 * made as tuple.__new__(type, items) makes it (tuple_subtype_new: tp_alloc, then the items)
 * without the two argument tuples of calling it. fast_verify checks type is a tuple
 * subclass, which is always garbage-collected, so tp_alloc tracks it. */
static inline PyObject *new_tuple_of(PyObject *type, PyObject *const *items, Py_ssize_t n) {
    PyTypeObject *tuple_type = (PyTypeObject *)type;
    PyObject *made = tuple_type->tp_alloc(tuple_type, n);
    if (made == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(made, i, Py_NewRef(items[i]));
    return made;
}

/* The stages after the claims for a token whose signature verified (_speedups_accept.c):
 * a new Decision, or NULL (no exception left set) wherever the Python stages must decide. */
PyObject *accept_token(PyObject *token, PyObject *state, PyObject *finish, PyObject *claims,
                       PyObject *iss, PyObject *alg, PyObject *kid, PyObject *lookup,
                       PyObject *failed, PyObject *key, double exp, double now);
extern PyTypeObject NativeVerifyType;
extern PyTypeObject FastMethodType;

/* The lane's state tuple, as realmgate.lane.build_state makes it (read by lane_entry too). */
enum { S_MAX_BYTES, S_HEADER_CACHE, S_ISSUERS, S_CLOCK, S_PARSED_TYPE, S_DECISION_TYPE,
       S_RECORD_TYPE, S_SELECTOR, S_TRACE_LEVEL, S_DOORKEEPER, S_LAST, S_LOG_CACHE, S_FINE,
       S_SIZE };

PyObject *lane_entry(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
extern const char lane_entry_doc[];
extern PyObject *UNHANDLED;
int init_entry_names(void);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif

/* realmgate._speedups: the fast lane (overview: _speedups.c). */
#include "_speedups.h"

/* ---- the fast lane ------------------------------------------------------------------------ */

enum { E_PLAN, E_ALGORITHMS, E_KEYS, E_SKEW, E_MAX_AGE, E_CHECK_AUD, E_EXPECTED, E_REQUIRED,
       E_FINISH, E_KEYS_MEMO, E_LAST_KEYS, E_SIZE };
/* S_LAST: the state's list [header segment, header, iss, entry] of the last token accepted
 * that far; E_LAST_KEYS: an issuer's list [header, keys] of its last static key answer.
 * Consecutive tokens of an issuer share them, so the usual token needs neither a bytes
 * object for its header segment, nor hashing it, its iss or a (kid, alg, x5t) tuple. */
enum { L_SEGMENT, L_HEADER, L_ISS, L_ENTRY, L_SIZE };
enum { K_HEADER, K_KEYS, K_SIZE };


/* Tries the usable (key, verify) pairs in order, as compiled.check_signature does.
 * 1: *key is the key that verified (borrowed from usable); 0: every key was tried and none
 * verified; -1: declined (a callable raised, which the reference re-raises: cleared). In
 * cases 1 and 0, *failed is a new tuple of the keys that did not verify, in order. */
static int verifying_key(PyObject *usable, PyObject *message, PyObject *signature,
                         PyObject **key, PyObject **failed) {
    Py_ssize_t n = PyTuple_GET_SIZE(usable), count = 0;
    if (n > MAX_KEYS_TRIED) n = MAX_KEYS_TRIED;
    PyObject *tried[MAX_KEYS_TRIED]; /* borrowed from usable, which the caller holds */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = PyTuple_GET_ITEM(usable, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) goto declined;
        PyObject *args[2] = {message, signature};
        PyObject *verified = PyObject_Vectorcall(PyTuple_GET_ITEM(pair, 1), args, 2, NULL);
        if (verified == NULL) goto declined;
        int ok = PyObject_IsTrue(verified);
        Py_DECREF(verified);
        if (ok < 0) goto declined;
        if (ok) {
            *key = PyTuple_GET_ITEM(pair, 0);
            break;
        }
        tried[count++] = PyTuple_GET_ITEM(pair, 0);
    }
    *failed = PyTuple_New(count); /* none: the shared empty tuple, no allocation */
    if (*failed == NULL) goto declined;
    for (Py_ssize_t i = 0; i < count; i++) PyTuple_SET_ITEM(*failed, i, Py_NewRef(tried[i]));
    return *key != NULL;
declined:
    *key = NULL;
    PyErr_Clear();
    return -1;
}

/* list[i], list[j] = a, b (both lists of the lane's state, which only C writes). */
static void remember(PyObject *list, Py_ssize_t i, PyObject *a, Py_ssize_t j, PyObject *b) {
    PyObject *old_a = PyList_GET_ITEM(list, i), *old_b = PyList_GET_ITEM(list, j);
    PyList_SET_ITEM(list, i, Py_NewRef(a));
    PyList_SET_ITEM(list, j, Py_NewRef(b));
    Py_XDECREF(old_a);
    Py_XDECREF(old_b);
}

/* Whether str a equals str b, for the compact ASCII strings the lane meets; 0 (not known)
 * for any other kind, which then takes the dict lookup. */
static inline int same_ascii(PyObject *a, PyObject *b) {
    return PyUnicode_CheckExact(a) && PyUnicode_CheckExact(b) && PyUnicode_IS_COMPACT_ASCII(a) &&
           PyUnicode_IS_COMPACT_ASCII(b) && PyUnicode_GET_LENGTH(a) == PyUnicode_GET_LENGTH(b) &&
           memcmp(PyUnicode_1BYTE_DATA(a), PyUnicode_1BYTE_DATA(b),
                  (size_t)PyUnicode_GET_LENGTH(a)) == 0;
}

/* The slow halves of fast_verify, out of line and marked cold: the usual token never runs
 * them, and keeping them apart keeps its path through the function in fewer cache lines
 * (RSA's code evicts it between two tokens). */
#define COLD __attribute__((cold, noinline))

/* A header segment the lane's last-header list does not hold: the header cache's entry
 * (remembered) as a new reference, or NULL (not cached, or an error set). */
COLD static PyObject *cached_header(PyObject *header_cache, PyObject *last, const Split *split) {
    PyObject *segment = PyBytes_FromStringAndSize((const char *)split->text, split->header_end);
    if (segment == NULL) return NULL;
    PyObject *header = Py_XNewRef(PyDict_GetItemWithError(header_cache, segment));
    if (header != NULL) remember(last, L_SEGMENT, segment, L_HEADER, header);
    Py_DECREF(segment);
    return header;
}

/* The issuer's key answer for a header its last-keys list does not hold: the static memo
 * (remembered), else PreparedKeys.get. 1: *keys (new), or *keys NULL and *failed the
 * exception the lookup raised (an unknown kid, unavailable remote keys: handed back, not
 * retried, since a second lookup could answer differently); 0: declined; -1: an error. */
COLD static int looked_up_keys(PyObject *entry, PyObject *memo, PyObject *last_keys,
                               PyObject *header, PyObject **keys, PyObject **failed) {
    PyObject *alg = PyTuple_GET_ITEM(header, 1), *kid = PyTuple_GET_ITEM(header, 2);
    PyObject *x5t = PyTuple_GET_ITEM(header, 3);
    if (PyDict_CheckExact(memo) && PyList_CheckExact(last_keys) &&
        PyList_GET_SIZE(last_keys) == K_SIZE) {
        PyObject *memo_key = PyTuple_Pack(3, kid, alg, x5t);
        if (memo_key == NULL) return -1;
        *keys = Py_XNewRef(PyDict_GetItemWithError(memo, memo_key));
        Py_DECREF(memo_key);
        if (*keys == NULL && PyErr_Occurred()) return -1;
        if (*keys != NULL) {
            remember(last_keys, K_HEADER, header, K_KEYS, *keys);
            return 1;
        }
    }
    PyObject *lookup_args[3] = {kid, alg, x5t};
    *keys = PyObject_Vectorcall(PyTuple_GET_ITEM(entry, E_KEYS), lookup_args, 3, NULL);
    if (*keys != NULL) return 1;
    if (!PyErr_ExceptionMatches(PyExc_Exception)) return -1;
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (value != NULL && traceback != NULL) PyException_SetTraceback(value, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    if (value == NULL) return 0;
    *failed = value;
    return 1;
}

/* fast_verify's answer for the Python stages: (plan, parsed, lookup, failed, key, exp,
 * now), or NULL with an error set. */
COLD static PyObject *front_of(PyObject *parsed_type, const Split *split, PyObject *header,
                               PyObject *claims, PyObject *message, PyObject *entry,
                               PyObject *lookup, PyObject *failed, PyObject *key, double exp,
                               double now) {
    PyObject *raw = PyBytes_FromStringAndSize((const char *)split->text, split->length);
    if (raw == NULL) return NULL;
    PyObject *fields[11] = {PyTuple_GET_ITEM(header, 0), claims, message, split->signature,
                            PyTuple_GET_ITEM(header, 1), PyTuple_GET_ITEM(header, 2),
                            PyTuple_GET_ITEM(header, 3), PyTuple_GET_ITEM(header, 4),
                            split->payload, raw, PyTuple_GET_ITEM(header, 5)};
    PyObject *parsed = new_tuple_of(parsed_type, fields, 11);
    Py_DECREF(raw);
    if (parsed == NULL) return NULL;
    PyObject *result = Py_BuildValue("(OOOOOdd)", PyTuple_GET_ITEM(entry, E_PLAN), parsed,
                                     lookup, failed ? failed : Py_None, key, exp, now);
    Py_DECREF(parsed);
    return result;
}

const char fast_verify_doc[] =
"fast_verify(token, state)\n"
"\n"
"The accepted Decision; or the token's (plan, parsed, lookup, failed, key, exp, now) when\n"
"its claims hold and its signature was checked but the Python stages must go on (key None:\n"
"no usable key verified it, after trying them all; with lookup None too: ``failed`` is\n"
"what the key lookup raised); or None when the reference pipeline must decide. ``state``\n"
"is realmgate.lane.build_state's.";

PyObject *fast_verify(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyTuple_CheckExact(args[1]) || PyTuple_GET_SIZE(args[1]) != S_SIZE) {
        PyErr_SetString(PyExc_TypeError, "fast_verify(token, state): bad arguments");
        return NULL;
    }
    PyObject *token = args[0], *state = args[1];
    PyObject *header_cache = PyTuple_GET_ITEM(state, S_HEADER_CACHE);
    PyObject *issuers = PyTuple_GET_ITEM(state, S_ISSUERS);
    PyObject *parsed_type = PyTuple_GET_ITEM(state, S_PARSED_TYPE);
    Py_ssize_t max_bytes = PyLong_AsSsize_t(PyTuple_GET_ITEM(state, S_MAX_BYTES));
    if (max_bytes == -1 && PyErr_Occurred()) return NULL;
    if (!PyDict_CheckExact(header_cache) || !PyDict_CheckExact(issuers)) {
        PyErr_SetString(PyExc_TypeError, "fast_verify: bad state");
        return NULL;
    }
    PyObject *last = PyTuple_GET_ITEM(state, S_LAST);
    if (!PyList_CheckExact(last) || PyList_GET_SIZE(last) != L_SIZE) {
        PyErr_SetString(PyExc_TypeError, "fast_verify: bad state");
        return NULL;
    }
    for (int i = S_PARSED_TYPE; i <= S_RECORD_TYPE; i++) {
        PyObject *type = PyTuple_GET_ITEM(state, i);
        if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &PyTuple_Type)) {
            PyErr_SetString(PyExc_TypeError, "fast_verify: bad state types");
            return NULL;
        }
    }
    Split split = {0};
    int got = split_token(token, max_bytes, &split);
    if (got <= 0) {
        if (got == 0) Py_RETURN_NONE;
        return NULL;
    }
    PyObject *result = NULL, *message = NULL, *claims = NULL, *keys = NULL;
    PyObject *failed = NULL, *header = NULL, *entry = NULL;
    /* Owned, not borrowed: the callables below run Python code, which may clear the cache. */
    PyObject *last_segment = PyList_GET_ITEM(last, L_SEGMENT);
    if (PyBytes_CheckExact(last_segment) && PyBytes_GET_SIZE(last_segment) == split.header_end &&
        memcmp(PyBytes_AS_STRING(last_segment), split.text, (size_t)split.header_end) == 0) {
        header = Py_NewRef(PyList_GET_ITEM(last, L_HEADER));
    } else {
        header = cached_header(header_cache, last, &split);
        if (header == NULL) goto decline_or_error;
    }
    /* (header, alg, kid, x5t, header_b64, ignored): a header with ignored key-locating
     * members, or any other shape, goes the reference way (its trace says so). */
    if (!PyTuple_CheckExact(header) || PyTuple_GET_SIZE(header) != 6) goto decline;
    PyObject *ignored = PyTuple_GET_ITEM(header, 5);
    if (!PyTuple_CheckExact(ignored) || PyTuple_GET_SIZE(ignored) != 0) goto decline;
    PyObject *alg = PyTuple_GET_ITEM(header, 1), *kid = PyTuple_GET_ITEM(header, 2);

    claims = loads_object((const unsigned char *)PyBytes_AS_STRING(split.payload),
                          PyBytes_GET_SIZE(split.payload));
    if (claims == NULL) goto decline_or_error;
    PyObject *iss = get(claims, N_ISS);
    if (iss == NULL || !PyUnicode_CheckExact(iss)) goto decline;
    if (same_ascii(iss, PyList_GET_ITEM(last, L_ISS))) {
        entry = Py_NewRef(PyList_GET_ITEM(last, L_ENTRY));
    } else {
        entry = Py_XNewRef(PyDict_GetItemWithError(issuers, iss));
        if (entry == NULL) goto decline_or_error;
        remember(last, L_ISS, iss, L_ENTRY, entry);
    }
    if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) < E_SIZE) goto decline;
    int allowed = PySet_Contains(PyTuple_GET_ITEM(entry, E_ALGORITHMS), alg);
    if (allowed <= 0) goto decline_or_error;

    PyObject *now_obj = PyObject_CallNoArgs(PyTuple_GET_ITEM(state, S_CLOCK));
    if (now_obj == NULL) goto decline_clear;
    double now = PyFloat_AsDouble(now_obj);
    Py_DECREF(now_obj);
    if (now == -1.0 && PyErr_Occurred()) goto decline_clear;
    double skew = PyFloat_AsDouble(PyTuple_GET_ITEM(entry, E_SKEW));
    if (skew == -1.0 && PyErr_Occurred()) goto decline_clear;
    double exp = 0;
    int valid = claims_ok(claims, now, skew, PyTuple_GET_ITEM(entry, E_MAX_AGE),
                          PyObject_IsTrue(PyTuple_GET_ITEM(entry, E_CHECK_AUD)),
                          PyTuple_GET_ITEM(entry, E_EXPECTED), PyTuple_GET_ITEM(entry, E_REQUIRED),
                          &exp);
    if (valid <= 0) goto decline_clear;

    message = PyBytes_FromStringAndSize((const char *)split.text, split.payload_end);
    if (message == NULL) goto error;
    PyObject *lookup = Py_None, *key = Py_None, *memo = PyTuple_GET_ITEM(entry, E_KEYS_MEMO);
    PyObject *last_keys = PyTuple_GET_ITEM(entry, E_LAST_KEYS);
    if (PyDict_CheckExact(memo) && PyList_CheckExact(last_keys) &&
        PyList_GET_SIZE(last_keys) == K_SIZE) {
        /* PreparedKeys.get's answers for a static key source, which never change: the
         * same header (kid, alg, x5t) as the last token's has the same answer. */
        if (PyList_GET_ITEM(last_keys, K_HEADER) == header)
            keys = Py_NewRef(PyList_GET_ITEM(last_keys, K_KEYS));
    }
    if (keys == NULL) {
        int looked = looked_up_keys(entry, memo, last_keys, header, &keys, &failed);
        if (looked < 0) goto error;
        if (looked == 0) goto decline_clear;
    }
    if (keys != NULL) {
        if (!PyTuple_CheckExact(keys) || PyTuple_GET_SIZE(keys) != 2 ||
            !PyTuple_CheckExact(PyTuple_GET_ITEM(keys, 1)))
            goto decline;
        PyObject *usable = PyTuple_GET_ITEM(keys, 1), *verified = NULL;
        if (PyTuple_GET_SIZE(usable) == 0) goto decline; /* the reference explains */
        if (verifying_key(usable, message, split.signature, &verified, &failed) < 0)
            goto decline;
        lookup = PyTuple_GET_ITEM(keys, 0);
        if (verified != NULL) { /* NULL: a bad signature, refused without verifying again */
            key = verified;
            PyObject *finish = PyTuple_GET_ITEM(entry, E_FINISH);
            if (finish != Py_None) {
                result = accept_token(token, state, finish, claims, iss, alg, kid, lookup,
                                      failed, key, exp, now);
                if (result != NULL) goto done;
            }
        }
    }
    result = front_of(parsed_type, &split, header, claims, message, entry, lookup, failed,
                      key, exp, now);
    goto done;

decline_or_error:
    if (PyErr_Occurred()) goto error;
decline:
    result = Py_NewRef(Py_None);
    goto done;
decline_clear:
    PyErr_Clear();
    result = Py_NewRef(Py_None);
    goto done;
error:
    result = NULL;
done:
    Py_XDECREF(split.payload);
    Py_XDECREF(split.signature);
    Py_XDECREF(claims);
    Py_XDECREF(keys);
    Py_XDECREF(message);
    Py_XDECREF(failed);
    Py_XDECREF(header);
    Py_XDECREF(entry);
    return result;
}

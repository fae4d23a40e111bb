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
enum { F_DEFINITION, F_CLIENT_ID, F_USER_CLAIM, F_REALM, F_REALM_CLAIM, F_REALM_SOURCE,
       F_MAPPER, F_MATCH, F_MAPPER_CLOCK, F_LOOKUP_ORDER, F_ANY, F_CHECKER, F_FIND,
       F_CHECKER_CLOCK, F_SIZE };

static PyObject *SOURCE_DEFINITION, *SOURCE_ISS, *LABEL, *LOCAL_USER, *FIND_KWNAMES, *STATUS_OK;
static PyObject *FRESH, *INDEX;

/* ``owner.fresh`` (mapping.IdentityMapper, revocation.RevocationChecker): (until, view). 1
 * and *view a new reference to it while clock() < until (lane_now when clock is the lane's
 * own); 0 when the owner must be asked through its Python method (a refresh is due, the
 * registry is failing, anything odd). */
static int fresh_view(PyObject *owner, PyObject *clock, PyObject *lane_clock, double lane_now,
                      PyObject **view) {
    PyObject *fresh = PyObject_GetAttr(owner, FRESH);
    if (fresh == NULL || !PyTuple_CheckExact(fresh) || PyTuple_GET_SIZE(fresh) != 2) goto stale;
    double until = PyFloat_AsDouble(PyTuple_GET_ITEM(fresh, 0));
    if (until == -1.0 && PyErr_Occurred()) goto stale;
    double now = lane_now; /* the same clock read a moment ago: not asked again */
    if (clock != lane_clock) {
        PyObject *now_obj = PyObject_CallNoArgs(clock);
        if (now_obj == NULL) goto stale;
        now = PyFloat_AsDouble(now_obj);
        Py_DECREF(now_obj);
    }
    if ((now == -1.0 && PyErr_Occurred()) || !(now < until)) goto stale;
    *view = fresh;
    return 1;
stale:
    Py_XDECREF(fresh);
    PyErr_Clear();
    return 0;
}

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

/* A new instance of a tuple subclass (ParsedJWS, Decision, LaneRecord) holding items,
 * made as tuple.__new__(type, items) makes it (tuple_subtype_new: tp_alloc, then the items)
 * without the two argument tuples of calling it. fast_verify checks type is a tuple
 * subclass, which is always garbage-collected, so tp_alloc tracks it. */
static PyObject *new_tuple_of(PyObject *type, PyObject *const *items, Py_ssize_t n) {
    PyTypeObject *tuple_type = (PyTypeObject *)type;
    PyObject *made = tuple_type->tp_alloc(tuple_type, n);
    if (made == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(made, i, Py_NewRef(items[i]));
    return made;
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

static inline int nonempty_str(PyObject *value) {
    return value != NULL && PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > 0;
}

/* The stages after the claims (acceptance.accept) for a token whose signature verified:
 * the revocation list, the realm, the identity mapping, the accepted Decision. A new
 * Decision, or NULL (no exception left set) wherever the Python stages must decide: a
 * token seen before, a missing user claim, a revoked token or an unreadable list, no
 * mapping rule, anything unexpected. They then run from the same front half. */
static PyObject *accept_token(PyObject *token, PyObject *state, PyObject *finish,
                              PyObject *claims, PyObject *iss, PyObject *alg, PyObject *kid,
                              PyObject *lookup, PyObject *failed, PyObject *key, double exp,
                              double now) {
    if (!PyTuple_CheckExact(finish) || PyTuple_GET_SIZE(finish) < F_SIZE) return NULL;
    /* A token seen before goes to the Python stages, which store it in the cache. */
    if (admit(PyTuple_GET_ITEM(state, S_DOORKEEPER), token) != 0) goto declined;
    long level = PyLong_AsLong(PyTuple_GET_ITEM(state, S_TRACE_LEVEL));
    if (level < 0 || level > 1) goto declined;
    PyObject *user = PyDict_GetItemWithError(claims, PyTuple_GET_ITEM(finish, F_USER_CLAIM));
    if (!nonempty_str(user)) goto declined;

    PyObject *result = NULL, *key_id = NULL, *found = NULL, *token_ref = NULL;
    PyObject *recorded = NULL, *exp_obj = NULL, *now_obj = NULL, *mapped = NULL;
    PyObject *owned_rule = NULL;
    key_id = nonempty_str(kid) ? Py_NewRef(kid) : PyObject_CallMethodNoArgs(key, LABEL);
    if (key_id == NULL || !PyUnicode_CheckExact(key_id)) goto done;

    PyObject *find = PyTuple_GET_ITEM(finish, F_FIND), *view = NULL;
    if (find != Py_None) { /* the revocation list; an empty one answers without a call */
        int empty = 0;
        if (fresh_view(PyTuple_GET_ITEM(finish, F_CHECKER), PyTuple_GET_ITEM(finish, F_CHECKER_CLOCK),
                       PyTuple_GET_ITEM(state, S_CLOCK), now, &view)) {
            empty = PyTuple_GET_ITEM(view, 1) == Py_True;
            Py_CLEAR(view);
        }
        if (!empty) {
            PyObject *jti = PyDict_GetItemWithError(claims, NAMES[N_JTI]);
            if (jti == NULL && PyErr_Occurred()) goto done;
            PyObject *args[4] = {iss, jti ? jti : Py_None, user, key_id};
            PyObject *entry = PyObject_Vectorcall(find, args, 1, FIND_KWNAMES);
            if (entry == NULL || entry != Py_None) { /* revoked, or the list unreadable */
                Py_XDECREF(entry);
                goto done;
            }
            Py_DECREF(entry);
        }
    }

    PyObject *realm = PyTuple_GET_ITEM(finish, F_REALM), *realm_source = SOURCE_DEFINITION;
    if (realm == Py_None) {
        realm = PyDict_GetItemWithError(claims, PyTuple_GET_ITEM(finish, F_REALM_CLAIM));
        realm_source = PyTuple_GET_ITEM(finish, F_REALM_SOURCE);
        if (!nonempty_str(realm)) {
            if (PyErr_Occurred()) goto done;
            realm = iss;
            realm_source = SOURCE_ISS;
        }
    }

    PyObject *match = PyTuple_GET_ITEM(finish, F_MATCH), *local_user = user;
    PyObject *rule = Py_None, *rules = Py_None;
    if (match != Py_None) { /* IdentityMapper.match, from its snapshot while it is fresh */
        PyObject *args[2] = {user, realm};
        if (fresh_view(PyTuple_GET_ITEM(finish, F_MAPPER), PyTuple_GET_ITEM(finish, F_MAPPER_CLOCK),
                       PyTuple_GET_ITEM(state, S_CLOCK), now, &view)) {
            rules = PyTuple_GET_ITEM(view, 1);
            /* mapping._Snapshot.index: the rules as a RuleIndex (None without one) */
            PyObject *index = PyObject_GetAttr(rules, INDEX), *found_rule, *found_user;
            Py_ssize_t equals = PyUnicode_FindChar(user, '=', 0, PyUnicode_GET_LENGTH(user), 1);
            int got = -1;
            if (index != NULL && Py_TYPE(index) == &RuleIndexType && equals == -1) {
                got = indexed_rule(index, user, realm, PyTuple_GET_ITEM(finish, F_ANY),
                                   &found_rule, &found_user);
            } else if (index != NULL && Py_TYPE(index) == &RuleIndexType && equals >= 0) {
                /* a DN: its suffixes too, in mapping.lookup_order's order */
                PyObject *order =
                    PyObject_Vectorcall(PyTuple_GET_ITEM(finish, F_LOOKUP_ORDER), args, 2, NULL);
                got = order ? indexed_first_rule(index, order, &found_rule, &found_user) : -1;
                Py_XDECREF(order);
            }
            if (got == 1) { /* owned before the index is let go */
                owned_rule = Py_NewRef(found_rule);
                mapped = Py_NewRef(found_user);
            }
            Py_XDECREF(index);
            if (got != 1) goto done; /* not mapped, or no index: the Python stages explain */
            rule = owned_rule;
            local_user = mapped;
        } else {
            found = PyObject_Vectorcall(match, args, 2, NULL);
            if (found == NULL || !PyTuple_CheckExact(found) || PyTuple_GET_SIZE(found) != 2)
                goto done;
            rule = PyTuple_GET_ITEM(found, 0);
            rules = PyTuple_GET_ITEM(found, 1);
            if (rule == Py_None) goto done; /* not mapped: the Python stages explain */
            mapped = PyObject_GetAttr(rule, LOCAL_USER);
            if (mapped == NULL || !PyUnicode_CheckExact(mapped)) goto done;
            local_user = mapped;
        }
    }

    exp_obj = PyFloat_FromDouble(exp);
    if (exp_obj == NULL) goto done;
    if (level == 0) {
        recorded = PyTuple_New(0);
    } else {
        now_obj = PyFloat_FromDouble(now);
        if (now_obj == NULL) goto done;
        PyObject *items[15] = {
            PyTuple_GET_ITEM(state, S_SELECTOR), PyTuple_GET_ITEM(finish, F_DEFINITION),
            iss, alg, lookup, failed, key, claims, now_obj,
            find != Py_None ? Py_True : Py_False, PyTuple_GET_ITEM(finish, F_MAPPER), rules,
            user, realm, realm_source};
        recorded = new_tuple_of(PyTuple_GET_ITEM(state, S_RECORD_TYPE), items, 15);
    }
    if (recorded == NULL) goto done;
    /* The token itself, not a copy of its 850 bytes: Decision.token_hash hashes it when
     * asked. */
    token_ref = PyTuple_Pack(1, token);
    if (token_ref == NULL) goto done;
    PyObject *fields[18] = {
        Py_True, PyTuple_GET_ITEM(finish, F_CLIENT_ID), iss, user, realm, local_user, claims,
        key_id, alg, Py_None, Py_None, STATUS_OK, realm_source, rule, token_ref, exp_obj,
        recorded, Py_False};
    result = new_tuple_of(PyTuple_GET_ITEM(state, S_DECISION_TYPE), fields, 18);
done:
    Py_XDECREF(key_id);
    Py_XDECREF(found);
    Py_XDECREF(view);
    Py_XDECREF(owned_rule);
    Py_XDECREF(mapped);
    Py_XDECREF(token_ref);
    Py_XDECREF(recorded);
    Py_XDECREF(exp_obj);
    Py_XDECREF(now_obj);
    if (result == NULL) PyErr_Clear();
    return result;
declined:
    PyErr_Clear();
    return NULL;
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
    PyObject *result = NULL, *raw = NULL, *message = NULL, *claims = NULL, *keys = NULL;
    PyObject *failed = NULL, *parsed = NULL, *header = NULL, *entry = NULL;
    /* Owned, not borrowed: the callables below run Python code, which may clear the cache. */
    PyObject *last_segment = PyList_GET_ITEM(last, L_SEGMENT);
    if (PyBytes_CheckExact(last_segment) && PyBytes_GET_SIZE(last_segment) == split.header_end &&
        memcmp(PyBytes_AS_STRING(last_segment), split.text, (size_t)split.header_end) == 0) {
        header = Py_NewRef(PyList_GET_ITEM(last, L_HEADER));
    } else {
        PyObject *header_segment =
            PyBytes_FromStringAndSize((const char *)split.text, split.header_end);
        if (header_segment == NULL) goto error;
        header = Py_XNewRef(PyDict_GetItemWithError(header_cache, header_segment));
        if (header != NULL) remember(last, L_SEGMENT, header_segment, L_HEADER, header);
        Py_DECREF(header_segment);
        if (header == NULL) goto decline_or_error;
    }
    /* (header, alg, kid, x5t, header_b64, ignored): a header with ignored key-locating
     * members, or any other shape, goes the reference way (its trace says so). */
    if (!PyTuple_CheckExact(header) || PyTuple_GET_SIZE(header) != 6) goto decline;
    PyObject *ignored = PyTuple_GET_ITEM(header, 5);
    if (!PyTuple_CheckExact(ignored) || PyTuple_GET_SIZE(ignored) != 0) goto decline;
    PyObject *alg = PyTuple_GET_ITEM(header, 1), *kid = PyTuple_GET_ITEM(header, 2);
    PyObject *x5t = PyTuple_GET_ITEM(header, 3);

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
        if (PyList_GET_ITEM(last_keys, K_HEADER) == header) {
            keys = Py_NewRef(PyList_GET_ITEM(last_keys, K_KEYS));
        } else {
            PyObject *memo_key = PyTuple_Pack(3, kid, alg, x5t);
            if (memo_key == NULL) goto error;
            keys = Py_XNewRef(PyDict_GetItemWithError(memo, memo_key));
            Py_DECREF(memo_key);
            if (keys == NULL && PyErr_Occurred()) goto error;
            if (keys != NULL) remember(last_keys, K_HEADER, header, K_KEYS, keys);
        }
    }
    if (keys == NULL) {
        PyObject *lookup_args[3] = {kid, alg, x5t};
        keys = PyObject_Vectorcall(PyTuple_GET_ITEM(entry, E_KEYS), lookup_args, 3, NULL);
    }
    if (keys == NULL) {
        /* An unknown kid or unavailable remote keys: handed back, not retried, since a
         * second lookup could answer differently (a refetch cool-down). */
        if (!PyErr_ExceptionMatches(PyExc_Exception)) goto error;
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyErr_NormalizeException(&type, &value, &traceback);
        if (value != NULL && traceback != NULL) PyException_SetTraceback(value, traceback);
        Py_XDECREF(type);
        Py_XDECREF(traceback);
        if (value == NULL) goto decline_clear;
        failed = value; /* released at done */
    } else {
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
    raw = PyBytes_FromStringAndSize((const char *)split.text, split.length);
    if (raw == NULL) goto error;
    PyObject *fields[11] = {PyTuple_GET_ITEM(header, 0), claims, message, split.signature,
                            alg, kid, x5t, PyTuple_GET_ITEM(header, 4), split.payload, raw,
                            ignored};
    parsed = new_tuple_of(parsed_type, fields, 11);
    if (parsed == NULL) goto error;
    result = Py_BuildValue("(OOOOOdd)", PyTuple_GET_ITEM(entry, E_PLAN), parsed, lookup,
                           failed, key, exp, now);
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
    Py_XDECREF(raw);
    Py_XDECREF(message);
    Py_XDECREF(failed);
    Py_XDECREF(parsed);
    Py_XDECREF(header);
    Py_XDECREF(entry);
    return result;
}

int init_lane_names(void) {
    if (SOURCE_DEFINITION != NULL) return 0;
    SOURCE_DEFINITION = PyUnicode_InternFromString("definition");
    SOURCE_ISS = PyUnicode_InternFromString("iss");
    LABEL = PyUnicode_InternFromString("label");
    LOCAL_USER = PyUnicode_InternFromString("local_user");
    STATUS_OK = PyLong_FromLong(200);
    FIND_KWNAMES = Py_BuildValue("(sss)", "jti", "subject", "kid");
    FRESH = PyUnicode_InternFromString("fresh");
    INDEX = PyUnicode_InternFromString("index");
    if (!SOURCE_DEFINITION || !SOURCE_ISS || !LABEL || !LOCAL_USER || !STATUS_OK ||
        !FIND_KWNAMES || !FRESH || !INDEX)
        return -1;
    return 0;
}

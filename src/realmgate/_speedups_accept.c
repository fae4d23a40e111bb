/* realmgate._speedups: the fast lane's stages after the claims (overview: _speedups.c):
 * the revocation list, the realm, the identity mapping and the accepted Decision, for a token
 * fast_verify (_speedups_lane.c) verified. */
#include "_speedups.h"

enum { F_DEFINITION, F_CLIENT_ID, F_USER_CLAIM, F_REALM, F_REALM_CLAIM, F_REALM_SOURCE,
       F_MAPPER, F_MATCH, F_MAPPER_CLOCK, F_LOOKUP_ORDER, F_ANY, F_CHECKER, F_FIND,
       F_CHECKER_CLOCK, F_SIZE };

static PyObject *SOURCE_DEFINITION, *SOURCE_ISS, *LABEL, *LOCAL_USER, *FIND_KWNAMES, *STATUS_OK;
static PyObject *FRESH, *INDEX;

/* Clocks read while accepting one token: a clock read a moment ago is not asked again
 * (the lane's, and the registry's monotonic one the mapper and the revocation checker
 * share). */
typedef struct {
    PyObject *clock[2];
    double now[2];
} Readings;

/* What ``clock()`` reads, from ``readings`` when it was read for this token already. */
static int read_clock(PyObject *clock, Readings *readings, double *now) {
    for (int i = 0; i < 2; i++) {
        if (readings->clock[i] == clock) {
            *now = readings->now[i];
            return 0;
        }
    }
    PyObject *now_obj = PyObject_CallNoArgs(clock);
    if (now_obj == NULL) return -1;
    *now = PyFloat_AsDouble(now_obj);
    Py_DECREF(now_obj);
    if (*now == -1.0 && PyErr_Occurred()) return -1;
    if (readings->clock[1] == NULL) {
        readings->clock[1] = clock;
        readings->now[1] = *now;
    }
    return 0;
}

/* ``owner.fresh`` (mapping.IdentityMapper, revocation.RevocationChecker): (until, view). 1
 * and *view a new reference to it while clock() < until; 0 when the owner must be asked
 * through its Python method (a refresh is due, the registry is failing, anything odd). */
static int fresh_view(PyObject *owner, PyObject *clock, Readings *readings, PyObject **view) {
    PyObject *fresh = PyObject_GetAttr(owner, FRESH);
    if (fresh == NULL || !PyTuple_CheckExact(fresh) || PyTuple_GET_SIZE(fresh) != 2) goto stale;
    double until = PyFloat_AsDouble(PyTuple_GET_ITEM(fresh, 0));
    if (until == -1.0 && PyErr_Occurred()) goto stale;
    double now;
    if (read_clock(clock, readings, &now) < 0 || !(now < until)) goto stale;
    *view = fresh;
    return 1;
stale:
    Py_XDECREF(fresh);
    PyErr_Clear();
    return 0;
}
static inline int nonempty_str(PyObject *value) {
    return value != NULL && PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > 0;
}
/* The stages after the claims (acceptance.accept) for a token whose signature verified:
 * the revocation list, the realm, the identity mapping, the accepted Decision. A new
 * Decision, or NULL (no exception left set) wherever the Python stages must decide: a
 * token seen before, a missing user claim, a revoked token or an unreadable list, no
 * mapping rule, anything unexpected. They then run from the same front half. */
PyObject *accept_token(PyObject *token, PyObject *state, PyObject *finish,
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
    PyObject *owned_rule = NULL, *view = NULL; /* all NULL before the first goto done */
    Readings readings = {{PyTuple_GET_ITEM(state, S_CLOCK), NULL}, {now, 0}};
    key_id = nonempty_str(kid) ? Py_NewRef(kid) : PyObject_CallMethodNoArgs(key, LABEL);
    if (key_id == NULL || !PyUnicode_CheckExact(key_id)) goto done;

    PyObject *find = PyTuple_GET_ITEM(finish, F_FIND);
    if (find != Py_None) { /* the revocation list; an empty one answers without a call */
        int empty = 0;
        if (fresh_view(PyTuple_GET_ITEM(finish, F_CHECKER), PyTuple_GET_ITEM(finish, F_CHECKER_CLOCK),
                       &readings, &view)) {
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
                       &readings, &view)) {
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

int init_accept_names(void) {
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

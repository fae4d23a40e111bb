/* realmgate._speedups: the identity-mapping rule lookups of the fast lane (overview:
 * _speedups.c). */
#include "_speedups.h"

/* The rule for a user name that is not a DN (no '='), in mapping's order for it:
 * (user, realm), (user, *), (*, realm), (*, *). A new reference, or NULL (none, or an
 * error set). Saves the call of mapping.lookup_order (about a third of the lookup). */
PyObject *plain_rule(PyObject *rules, PyObject *user, PyObject *realm, PyObject *any) {
    if (!PyDict_CheckExact(rules)) return NULL;
    PyObject *order[4][2] = {{user, realm}, {user, any}, {any, realm}, {any, any}};
    for (int i = 0; i < 4; i++) {
        PyObject *key = PyTuple_Pack(2, order[i][0], order[i][1]);
        if (key == NULL) return NULL;
        PyObject *rule = PyDict_GetItemWithError(rules, key);
        Py_DECREF(key);
        if (rule != NULL) return Py_NewRef(rule);
        if (PyErr_Occurred()) return NULL;
    }
    return NULL;
}

/* The first rule of ``rules`` (a dict) in ``order`` (mapping.lookup_order's tuple of
 * (user filter, realm filter) keys): a new reference, or NULL (none, or an error set). */
PyObject *first_rule(PyObject *rules, PyObject *order) {
    if (!PyDict_CheckExact(rules) || !PyTuple_CheckExact(order)) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(order); i++) {
        PyObject *rule = PyDict_GetItemWithError(rules, PyTuple_GET_ITEM(order, i));
        if (rule != NULL) return Py_NewRef(rule);
        if (PyErr_Occurred()) return NULL;
    }
    return NULL;
}

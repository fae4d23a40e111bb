/* realmgate._speedups: the doorkeeper of the verified-token cache (overview: _speedups.c). */
#include "_speedups.h"

/* realmgate.doorkeeper's admit on its state (count u32, reset u32, then the bitmap):
 * 1 when the token was seen before, 0 when it is marked now, -1 on a bad state. */
int admit(PyObject *state, PyObject *token) {
    if (!PyByteArray_CheckExact(state)) return -1;
    Py_ssize_t size = PyByteArray_GET_SIZE(state) - 8;
    if (size <= 0 || (size & (size - 1)) != 0) return -1; /* a power of two */
    Py_hash_t hash = PyObject_Hash(token);
    if (hash == -1) return -1;
    unsigned char *bytes = (unsigned char *)PyByteArray_AS_STRING(state);
    size_t bit = (size_t)hash & ((size_t)size * 8 - 1);
    unsigned char *byte = bytes + 8 + (bit >> 3), mask = (unsigned char)(1u << (bit & 7));
    if (*byte & mask) return 1;
    uint32_t count, reset;
    memcpy(&count, bytes, 4); /* little-endian: checked at import */
    memcpy(&reset, bytes + 4, 4);
    if (++count > reset) {
        memset(bytes + 8, 0, (size_t)size);
        count = 1;
    }
    memcpy(bytes, &count, 4);
    *byte |= mask;
    return 0;
}

const char doorkeeper_admit_doc[] =
"doorkeeper_admit(state: bytearray, token: str) -> bool (realmgate.doorkeeper)";

PyObject *doorkeeper_admit(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "doorkeeper_admit takes 2 arguments");
        return NULL;
    }
    int seen = admit(args[0], args[1]);
    if (seen < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "bad doorkeeper state");
        return NULL;
    }
    return PyBool_FromLong(seen);
}

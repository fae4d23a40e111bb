/* realmgate._speedups: the doorkeeper of the verified-token cache (overview: _speedups.c). */
#include "_speedups.h"

/* The token's bit in a bitmap of ``bits`` bits (a power of two), or -1 with an exception.
 *
 * For a compact ASCII str (every token the fast lane takes) it comes from the length and the
 * last sixteen characters: a compact JWS ends with its signature, whose characters are as
 * good as random, so sixteen of them (96 bits) spread tokens as well as a hash of the whole
 * text would. That hash (siphash over ~850 characters, 2 500 instructions for an RS256
 * token, callgrind 2026-12-04) is what the cache's dict computes; with this bit the
 * verifier can tell a token the doorkeeper never saw, which therefore cannot be in the cache,
 * without computing it (doorkeeper_unseen). Anything else uses the str hash. A collision only
 * ever sends a token to the cache's dict, which compares whole tokens. */
static Py_ssize_t token_bit(PyObject *token, size_t bits) {
    if (PyUnicode_CheckExact(token) && PyUnicode_IS_COMPACT_ASCII(token) &&
        PyUnicode_GET_LENGTH(token) >= 16) {
        Py_ssize_t n = PyUnicode_GET_LENGTH(token);
        const unsigned char *s = PyUnicode_1BYTE_DATA(token);
        uint64_t last, before;
        memcpy(&last, s + n - 8, 8);
        memcpy(&before, s + n - 16, 8);
        uint64_t h = (last ^ ((before << 29) | (before >> 35)) ^ (uint64_t)n) *
                     0x9E3779B97F4A7C15ull;
        return (Py_ssize_t)((h ^ (h >> 31)) & (bits - 1));
    }
    Py_hash_t hash = PyObject_Hash(token);
    if (hash == -1) return -1;
    return (Py_ssize_t)((size_t)hash & (bits - 1));
}

/* The bitmap of realmgate.doorkeeper's state (count u32, reset u32, then the bitmap), its
 * size in bytes in *size; NULL on a bad state. */
static unsigned char *bitmap(PyObject *state, Py_ssize_t *size) {
    if (!PyByteArray_CheckExact(state)) return NULL;
    *size = PyByteArray_GET_SIZE(state) - 8;
    if (*size <= 0 || (*size & (*size - 1)) != 0) return NULL; /* a power of two */
    return (unsigned char *)PyByteArray_AS_STRING(state);
}

/* The token's byte and bit mask in the bitmap of ``state`` (bytes, size as bitmap gives
 * them); 0, or -1 on a bad state or an error. */
static int token_place(PyObject *state, PyObject *token, unsigned char **bytes,
                       Py_ssize_t *size, unsigned char **byte, unsigned char *mask) {
    *bytes = bitmap(state, size);
    if (*bytes == NULL) return -1;
    Py_ssize_t bit = token_bit(token, (size_t)*size * 8);
    if (bit < 0) return -1;
    *byte = *bytes + 8 + (bit >> 3);
    *mask = (unsigned char)(1u << (bit & 7));
    return 0;
}

/* realmgate.doorkeeper's admit on its state: 1 when the token was seen before, 0 when it is
 * marked now, -1 on a bad state or an error. */
int admit(PyObject *state, PyObject *token) {
    unsigned char *bytes, *byte, mask;
    Py_ssize_t size;
    if (token_place(state, token, &bytes, &size, &byte, &mask) < 0) return -1;
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

/* 1 when the doorkeeper certainly has not marked token since its bitmap last started over;
 * 0 when it may have; -1 on a bad state or an error. */
int unseen(PyObject *state, PyObject *token) {
    unsigned char *bytes, *byte, mask;
    Py_ssize_t size;
    if (token_place(state, token, &bytes, &size, &byte, &mask) < 0) return -1;
    return !(*byte & mask);
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

const char doorkeeper_unseen_doc[] =
"doorkeeper_unseen(state: bytearray, token: str) -> bool: True when the doorkeeper has\n"
"certainly not marked token since its bitmap last started over (so the verified-token\n"
"cache cannot hold it); marks nothing.";

PyObject *doorkeeper_unseen(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t size;
    if (nargs != 2 || bitmap(args[0], &size) == NULL) {
        PyErr_SetString(PyExc_TypeError, "doorkeeper_unseen(state, token): bad arguments");
        return NULL;
    }
    int answer = unseen(args[0], args[1]);
    if (answer < 0) return NULL;
    return PyBool_FromLong(answer);
}

/* realmgate._speedups: strict compact-JWS split, unpadded base64url (overview: _speedups.c). */
#include "_speedups.h"

static signed char B64[256];

void init_b64(void) {
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    memset(B64, -1, sizeof B64);
    for (int i = 0; i < 64; i++) B64[(unsigned char)alphabet[i]] = (signed char)i;
}

/* ---- strict unpadded base64url -------------------------------------------------------- */

/* New bytes, or NULL: with an exception set on memory failure, without one when the text
 * is not canonical base64url (empty, length 4n+1, a byte outside the alphabet, non-zero
 * unused bits in the last character). */
static PyObject *b64_decode(const unsigned char *s, Py_ssize_t n) {
    if (n <= 0 || (n & 3) == 1) return NULL;
    Py_ssize_t rem = n & 3, full = n - rem;
    Py_ssize_t out_len = full / 4 * 3 + (rem ? rem - 1 : 0);
    PyObject *out = PyBytes_FromStringAndSize(NULL, out_len);
    if (out == NULL) return NULL;
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t i = 0;
    for (; i < full; i += 4) {
        int a = B64[s[i]], b = B64[s[i + 1]], c = B64[s[i + 2]], d = B64[s[i + 3]];
        if ((a | b | c | d) < 0) goto bad;
        uint32_t v = ((uint32_t)a << 18) | ((uint32_t)b << 12) | ((uint32_t)c << 6) | (uint32_t)d;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
        o[2] = (unsigned char)v;
        o += 3;
    }
    if (rem == 2) {
        int a = B64[s[i]], b = B64[s[i + 1]];
        if ((a | b) < 0 || (b & 0x0F)) goto bad;
        o[0] = (unsigned char)((a << 2) | (b >> 4));
    } else if (rem == 3) {
        int a = B64[s[i]], b = B64[s[i + 1]], c = B64[s[i + 2]];
        if ((a | b | c) < 0 || (c & 0x03)) goto bad;
        o[0] = (unsigned char)((a << 2) | (b >> 4));
        o[1] = (unsigned char)(((b & 0x0F) << 4) | (c >> 2));
    }
    return out;
bad:
    Py_DECREF(out);
    return NULL;
}

/* 1: split and decoded; 0: not for the fast lane; -1: error (exception set). */
int split_token(PyObject *token, Py_ssize_t max_bytes, Split *out) {
    if (!PyUnicode_CheckExact(token) || !PyUnicode_IS_ASCII(token)) return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(token);
    if (n > max_bytes) return 0;
    const unsigned char *s = PyUnicode_1BYTE_DATA(token);
    const unsigned char *dot1 = memchr(s, '.', (size_t)n);
    if (dot1 == NULL) return 0;
    const unsigned char *dot2 = memchr(dot1 + 1, '.', (size_t)(n - (dot1 - s) - 1));
    if (dot2 == NULL) return 0;
    if (memchr(dot2 + 1, '.', (size_t)(n - (dot2 - s) - 1)) != NULL) return 0;
    if (dot1 == s) return 0;
    out->text = s;
    out->length = n;
    out->header_end = dot1 - s;
    out->payload_end = dot2 - s;
    out->payload = b64_decode(dot1 + 1, dot2 - dot1 - 1);
    if (out->payload == NULL) return PyErr_Occurred() ? -1 : 0;
    out->signature = b64_decode(dot2 + 1, n - (dot2 - s) - 1);
    if (out->signature == NULL) {
        Py_CLEAR(out->payload);
        return PyErr_Occurred() ? -1 : 0;
    }
    return 1;
}

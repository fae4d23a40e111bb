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
 */
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

static signed char B64[256];

static void init_b64(void) {
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

typedef struct {
    const unsigned char *text;
    Py_ssize_t length;
    Py_ssize_t header_end;  /* index of the first '.' */
    Py_ssize_t payload_end; /* index of the second '.' */
    PyObject *payload;
    PyObject *signature;
} Split;

/* 1: split and decoded; 0: not for the fast lane; -1: error (exception set). */
static int split_token(PyObject *token, Py_ssize_t max_bytes, Split *out) {
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

/* ---- strict JSON ------------------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
} Parser;

/* Every parse function returns a new reference, or NULL: with an exception set for a real
 * error (memory), without one when the input is refused or declined. */
static PyObject *parse_value(Parser *ps);

static inline void skip_ws(Parser *ps) {
    const unsigned char *p = ps->p, *end = ps->end;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) p++;
    ps->p = p;
}

static inline int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits at s (s + 4 <= end checked by the caller), or -1. */
static inline long hex4(const unsigned char *s) {
    int a = hex_value(s[0]), b = hex_value(s[1]), c = hex_value(s[2]), d = hex_value(s[3]);
    if ((a | b | c | d) < 0) return -1;
    return ((long)a << 12) | ((long)b << 8) | ((long)c << 4) | (long)d;
}

static PyObject *decode_utf8(const char *s, Py_ssize_t n) {
    PyObject *text = PyUnicode_DecodeUTF8(s, n, "strict");
    if (text == NULL && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) PyErr_Clear();
    return text;
}

/* The unescaped UTF-8 of a string body [s, end) that contains escapes, decoded strictly.
 * The output is never longer than the input: each escape yields fewer bytes than it spans. */
static PyObject *unescape(const unsigned char *s, const unsigned char *end) {
    Py_ssize_t n = end - s;
    char stack[STACK_STRING];
    char *buffer = n <= STACK_STRING ? stack : PyMem_Malloc((size_t)n);
    if (buffer == NULL) return PyErr_NoMemory();
    char *o = buffer;
    PyObject *result = NULL;
    while (s < end) {
        unsigned char c = *s;
        if (c != '\\') {
            *o++ = (char)c;
            s++;
            continue;
        }
        if (s + 1 >= end) goto done;
        unsigned char e = s[1];
        s += 2;
        switch (e) {
            case '"': *o++ = '"'; continue;
            case '\\': *o++ = '\\'; continue;
            case '/': *o++ = '/'; continue;
            case 'b': *o++ = '\b'; continue;
            case 'f': *o++ = '\f'; continue;
            case 'n': *o++ = '\n'; continue;
            case 'r': *o++ = '\r'; continue;
            case 't': *o++ = '\t'; continue;
            case 'u': break;
            default: goto done;
        }
        if (end - s < 4) goto done;
        long cp = hex4(s);
        if (cp < 0) goto done;
        s += 4;
        if (cp >= 0xDC00 && cp <= 0xDFFF) goto done; /* a lone low surrogate */
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (end - s < 6 || s[0] != '\\' || s[1] != 'u') goto done;
            long low = hex4(s + 2);
            if (low < 0xDC00 || low > 0xDFFF) goto done; /* a lone high surrogate */
            s += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        if (cp < 0x80) {
            *o++ = (char)cp;
        } else if (cp < 0x800) {
            *o++ = (char)(0xC0 | (cp >> 6));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            *o++ = (char)(0xE0 | (cp >> 12));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        } else {
            *o++ = (char)(0xF0 | (cp >> 18));
            *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
            *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
            *o++ = (char)(0x80 | (cp & 0x3F));
        }
    }
    result = decode_utf8(buffer, o - buffer);
done:
    if (buffer != stack) PyMem_Free(buffer);
    return result;
}

static PyObject *parse_string(Parser *ps) {
    const unsigned char *start = ps->p + 1, *q = start, *end = ps->end;
    int ascii = 1, escapes = 0;
    while (q < end) {
        unsigned char c = *q;
        if (c == '"') break;
        if (c == '\\') {
            escapes = 1;
            q += 2; /* the escaped character, whatever it is, cannot end the string */
            continue;
        }
        if (c < 0x20) return NULL; /* a raw control character (strict JSON) */
        if (c >= 0x80) ascii = 0;
        q++;
    }
    if (q >= end) return NULL; /* unterminated */
    ps->p = q + 1;
    if (escapes) return unescape(start, q);
    Py_ssize_t n = q - start;
    if (!ascii) return decode_utf8((const char *)start, n);
    PyObject *text = PyUnicode_New(n, 127);
    if (text != NULL) memcpy(PyUnicode_1BYTE_DATA(text), start, (size_t)n);
    return text;
}

static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* An integer text of 19 or more characters: the reference (jsonparse._int) keeps it an int
 * in [-2**63, 2**64) and reads anything else as a float; that rare case is declined. */
static PyObject *long_integer(const unsigned char *s, Py_ssize_t n) {
    if (n > MAX_NUMBER_CHARS) return NULL;
    char text[MAX_NUMBER_CHARS + 1];
    memcpy(text, s, (size_t)n);
    text[n] = '\0';
    PyObject *value = PyLong_FromString(text, NULL, 10);
    if (value == NULL) return NULL; /* a memory error stays set */
    int overflow = 0;
    (void)PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow > 0) {
        (void)PyLong_AsUnsignedLongLong(value);
        if (PyErr_Occurred()) overflow = -1; /* 2**64 or more */
        PyErr_Clear();
    }
    if (overflow < 0) Py_CLEAR(value);
    return value;
}

static PyObject *parse_number(Parser *ps) {
    const unsigned char *s = ps->p, *q = s, *end = ps->end;
    int negative = 0, is_float = 0;
    if (*q == '-') {
        negative = 1;
        q++;
    }
    if (q >= end) return NULL;
    if (*q == '0') {
        q++;
    } else if (*q >= '1' && *q <= '9') {
        while (q < end && is_digit(*q)) q++;
    } else {
        return NULL; /* "-" alone, "-Infinity", ... */
    }
    if (q < end && *q == '.') {
        q++;
        if (q >= end || !is_digit(*q)) return NULL;
        while (q < end && is_digit(*q)) q++;
        is_float = 1;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-')) q++;
        if (q >= end || !is_digit(*q)) return NULL;
        while (q < end && is_digit(*q)) q++;
        is_float = 1;
    }
    Py_ssize_t n = q - s;
    ps->p = q;
    if (!is_float) {
        if (n >= 19) return long_integer(s, n);
        long long value = 0;
        for (const unsigned char *d = s + negative; d < q; d++) value = value * 10 + (*d - '0');
        return PyLong_FromLongLong(negative ? -value : value);
    }
    if (n > MAX_NUMBER_CHARS) return NULL;
    char text[MAX_NUMBER_CHARS + 1];
    memcpy(text, s, (size_t)n);
    text[n] = '\0';
    double value = PyOS_string_to_double(text, NULL, NULL);
    if (value == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return NULL;
    }
    if (!isfinite(value)) return NULL; /* overflows to infinity: refused */
    return PyFloat_FromDouble(value);
}

static PyObject *parse_literal(Parser *ps, const char *word, size_t n, PyObject *value) {
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) return NULL;
    ps->p += n;
    return Py_NewRef(value);
}

/* Member names recur in every token of an issuer: a small cache of ASCII names (as
 * orjson keeps one) saves making a string and hashing it for each member. Slots are
 * replaced, never grown, and only touched with the GIL held. */
#define NAME_CACHE_SLOTS 1024
#define NAME_CACHE_MAX_CHARS 32
static PyObject *name_cache[NAME_CACHE_SLOTS];

static PyObject *cached_name(const unsigned char *s, Py_ssize_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ s[i]) * 16777619u;
    PyObject **slot = &name_cache[(h ^ (uint32_t)n) & (NAME_CACHE_SLOTS - 1)];
    PyObject *name = *slot;
    if (name != NULL && PyUnicode_GET_LENGTH(name) == n &&
        memcmp(PyUnicode_1BYTE_DATA(name), s, (size_t)n) == 0)
        return Py_NewRef(name);
    name = PyUnicode_New(n, 127);
    if (name == NULL) return NULL;
    memcpy(PyUnicode_1BYTE_DATA(name), s, (size_t)n);
    if (PyObject_Hash(name) == -1) {
        Py_DECREF(name);
        return NULL;
    }
    Py_XSETREF(*slot, Py_NewRef(name));
    return name;
}

/* A member name: from the cache when it is short plain ASCII, else as any string. */
static PyObject *parse_name(Parser *ps) {
    const unsigned char *start = ps->p + 1, *q = start;
    const unsigned char *end = ps->end;
    const unsigned char *limit = end - start > NAME_CACHE_MAX_CHARS ? start + NAME_CACHE_MAX_CHARS : end;
    while (q < limit && *q != '"' && *q != '\\' && *q >= 0x20 && *q < 0x80) q++;
    if (q < end && *q == '"') {
        ps->p = q + 1;
        return cached_name(start, q - start);
    }
    return parse_string(ps);
}

static PyObject *parse_object(Parser *ps) {
    if (++ps->depth > MAX_DEPTH) return NULL;
    ps->p++;
    PyObject *object = PyDict_New();
    if (object == NULL) return NULL;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        ps->depth--;
        return object;
    }
    for (;;) {
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != '"') goto fail;
        PyObject *name = parse_name(ps);
        if (name == NULL) goto fail;
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            Py_DECREF(name);
            goto fail;
        }
        ps->p++;
        skip_ws(ps);
        PyObject *value = parse_value(ps);
        if (value == NULL) {
            Py_DECREF(name);
            goto fail;
        }
        /* One lookup: a duplicate member name leaves the size unchanged (refused). */
        Py_ssize_t size = PyDict_GET_SIZE(object);
        PyObject *stored = PyDict_SetDefault(object, name, value);
        Py_DECREF(name);
        Py_DECREF(value);
        if (stored == NULL || PyDict_GET_SIZE(object) == size) goto fail;
        skip_ws(ps);
        if (ps->p >= ps->end) goto fail;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != '}') goto fail;
        ps->p++;
        break;
    }
    ps->depth--;
    return object;
fail:
    Py_DECREF(object);
    return NULL;
}

static PyObject *parse_array(Parser *ps) {
    if (++ps->depth > MAX_DEPTH) return NULL;
    ps->p++;
    PyObject *array = PyList_New(0);
    if (array == NULL) return NULL;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        ps->depth--;
        return array;
    }
    for (;;) {
        skip_ws(ps);
        PyObject *value = parse_value(ps);
        if (value == NULL) goto fail;
        int stored = PyList_Append(array, value);
        Py_DECREF(value);
        if (stored < 0) goto fail;
        skip_ws(ps);
        if (ps->p >= ps->end) goto fail;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != ']') goto fail;
        ps->p++;
        break;
    }
    ps->depth--;
    return array;
fail:
    Py_DECREF(array);
    return NULL;
}

static PyObject *parse_value(Parser *ps) {
    if (ps->p >= ps->end) return NULL;
    unsigned char c = *ps->p;
    switch (c) {
        case '{': return parse_object(ps);
        case '[': return parse_array(ps);
        case '"': return parse_string(ps);
        case 't': return parse_literal(ps, "true", 4, Py_True);
        case 'f': return parse_literal(ps, "false", 5, Py_False);
        case 'n': return parse_literal(ps, "null", 4, Py_None);
        default:
            if (c == '-' || is_digit(c)) return parse_number(ps);
            return NULL;
    }
}

/* A dict, or NULL (exception set only for a real error). */
static PyObject *loads_object(const unsigned char *data, Py_ssize_t n) {
    Parser ps = {data, data + n, 0};
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{') return NULL;
    PyObject *object = parse_object(&ps);
    if (object == NULL) return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        Py_DECREF(object);
        return NULL;
    }
    return object;
}

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

enum { N_ISS, N_SUB, N_JTI, N_EXP, N_NBF, N_IAT, N_AUD, N_COUNT };
static PyObject *NAMES[N_COUNT];

/* Borrowed; NULL when absent (a lookup of an exact dict with str keys cannot fail). */
static inline PyObject *get(PyObject *claims, int name) {
    return PyDict_GetItemWithError(claims, NAMES[name]);
}

/* 1: valid, *exp_out set; 0: not certainly valid; -1: error. */
static int claims_ok(PyObject *claims, double now, double skew, PyObject *max_age_obj,
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

/* ---- the fast lane ------------------------------------------------------------------------ */

enum { E_PLAN, E_ALGORITHMS, E_KEYS, E_SKEW, E_MAX_AGE, E_CHECK_AUD, E_EXPECTED, E_REQUIRED,
       E_FINISH, E_KEYS_MEMO, E_SIZE };
enum { S_MAX_BYTES, S_HEADER_CACHE, S_ISSUERS, S_CLOCK, S_PARSED_TYPE, S_DECISION_TYPE,
       S_RECORD_TYPE, S_SELECTOR, S_TRACE_LEVEL, S_DOORKEEPER, S_SIZE };
enum { F_DEFINITION, F_CLIENT_ID, F_USER_CLAIM, F_REALM, F_REALM_CLAIM, F_REALM_SOURCE,
       F_MAPPER, F_MATCH, F_MAPPER_CLOCK, F_LOOKUP_ORDER, F_ANY, F_CHECKER, F_FIND,
       F_CHECKER_CLOCK, F_SIZE };

static PyObject *SOURCE_DEFINITION, *SOURCE_ISS, *LABEL, *LOCAL_USER, *FIND_KWNAMES, *STATUS_OK;
static PyObject *FRESH, *RULES;

/* ``owner.fresh`` (mapping.IdentityMapper, revocation.RevocationChecker): (until, view). 1
 * and *view a new reference to it while clock() < until; 0 when the owner must be asked
 * through its Python method (a refresh is due, the registry is failing, anything odd). */
static int fresh_view(PyObject *owner, PyObject *clock, PyObject **view) {
    PyObject *fresh = PyObject_GetAttr(owner, FRESH);
    if (fresh == NULL || !PyTuple_CheckExact(fresh) || PyTuple_GET_SIZE(fresh) != 2) goto stale;
    double until = PyFloat_AsDouble(PyTuple_GET_ITEM(fresh, 0));
    if (until == -1.0 && PyErr_Occurred()) goto stale;
    PyObject *now_obj = PyObject_CallNoArgs(clock);
    if (now_obj == NULL) goto stale;
    double now = PyFloat_AsDouble(now_obj);
    Py_DECREF(now_obj);
    if ((now == -1.0 && PyErr_Occurred()) || !(now < until)) goto stale;
    *view = fresh;
    return 1;
stale:
    Py_XDECREF(fresh);
    PyErr_Clear();
    return 0;
}

/* The rule for a user name that is not a DN (no '='), in mapping's order for it:
 * (user, realm), (user, *), (*, realm), (*, *). A new reference, or NULL (none, or an
 * error set). Saves the call of mapping.lookup_order (about a third of the lookup). */
static PyObject *plain_rule(PyObject *rules, PyObject *user, PyObject *realm, PyObject *any) {
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
static PyObject *first_rule(PyObject *rules, PyObject *order) {
    if (!PyDict_CheckExact(rules) || !PyTuple_CheckExact(order)) return NULL;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(order); i++) {
        PyObject *rule = PyDict_GetItemWithError(rules, PyTuple_GET_ITEM(order, i));
        if (rule != NULL) return Py_NewRef(rule);
        if (PyErr_Occurred()) return NULL;
    }
    return NULL;
}

/* Tries the usable (key, verify) pairs in order, as compiled.check_signature does.
 * 1: *key is the key that verified (borrowed from usable); 0: every key was tried and none
 * verified; -1: declined (a callable raised, which the reference re-raises: cleared). In
 * cases 1 and 0, *failed is a new tuple of the keys that did not verify, in order. */
static int verifying_key(PyObject *usable, PyObject *message, PyObject *signature,
                         PyObject **key, PyObject **failed) {
    Py_ssize_t n = PyTuple_GET_SIZE(usable);
    if (n > MAX_KEYS_TRIED) n = MAX_KEYS_TRIED;
    PyObject *tried = PyList_New(0);
    if (tried == NULL) goto declined;
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
        if (PyList_Append(tried, PyTuple_GET_ITEM(pair, 0)) < 0) goto declined;
    }
    *failed = PyList_AsTuple(tried);
    Py_DECREF(tried);
    if (*failed == NULL) {
        PyErr_Clear();
        return -1;
    }
    return *key != NULL;
declined:
    Py_XDECREF(tried);
    PyErr_Clear();
    return -1;
}

/* A new instance of a tuple subclass (ParsedJWS, Decision, LaneRecord) holding items. */
static PyObject *new_tuple_of(PyObject *type, PyObject *const *items, Py_ssize_t n) {
    PyObject *fields = PyTuple_New(n);
    if (fields == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) PyTuple_SET_ITEM(fields, i, Py_NewRef(items[i]));
    PyObject *args = PyTuple_Pack(1, fields);
    Py_DECREF(fields);
    if (args == NULL) return NULL;
    PyObject *made = PyTuple_Type.tp_new((PyTypeObject *)type, args, NULL);
    Py_DECREF(args);
    return made;
}

/* realmgate.doorkeeper's admit on its state (count u32, reset u32, then the bitmap):
 * 1 when the token was seen before, 0 when it is marked now, -1 on a bad state. */
static int admit(PyObject *state, PyObject *token) {
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

PyDoc_STRVAR(doorkeeper_admit_doc,
"doorkeeper_admit(state: bytearray, token: str) -> bool (realmgate.doorkeeper)");

static PyObject *doorkeeper_admit(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
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
                       &view)) {
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
                       &view)) {
            rules = PyTuple_GET_ITEM(view, 1);
            PyObject *table = PyObject_GetAttr(rules, RULES);
            Py_ssize_t equals = PyUnicode_FindChar(user, '=', 0, PyUnicode_GET_LENGTH(user), 1);
            if (table != NULL && equals == -1) {
                owned_rule = plain_rule(table, user, realm, PyTuple_GET_ITEM(finish, F_ANY));
            } else if (table != NULL && equals >= 0) { /* a DN: its suffixes too */
                PyObject *order =
                    PyObject_Vectorcall(PyTuple_GET_ITEM(finish, F_LOOKUP_ORDER), args, 2, NULL);
                owned_rule = order ? first_rule(table, order) : NULL;
                Py_XDECREF(order);
            }
            Py_XDECREF(table);
            if (owned_rule == NULL) goto done; /* not mapped: the Python stages explain */
            rule = owned_rule;
        } else {
            found = PyObject_Vectorcall(match, args, 2, NULL);
            if (found == NULL || !PyTuple_CheckExact(found) || PyTuple_GET_SIZE(found) != 2)
                goto done;
            rule = PyTuple_GET_ITEM(found, 0);
            rules = PyTuple_GET_ITEM(found, 1);
            if (rule == Py_None) goto done; /* not mapped: the Python stages explain */
        }
        mapped = PyObject_GetAttr(rule, LOCAL_USER);
        if (mapped == NULL || !PyUnicode_CheckExact(mapped)) goto done;
        local_user = mapped;
    }

    exp_obj = PyFloat_FromDouble(exp);
    now_obj = PyFloat_FromDouble(now);
    if (exp_obj == NULL || now_obj == NULL) goto done;
    if (level == 0) {
        recorded = PyTuple_New(0);
    } else {
        PyObject *items[15] = {
            PyTuple_GET_ITEM(state, S_SELECTOR), PyTuple_GET_ITEM(finish, F_DEFINITION),
            iss, alg, lookup, failed, key, claims, now_obj,
            find != Py_None ? Py_True : Py_False, PyTuple_GET_ITEM(finish, F_MAPPER), rules,
            user, realm, realm_source};
        recorded = new_tuple_of(PyTuple_GET_ITEM(state, S_RECORD_TYPE), items, 15);
    }
    if (recorded == NULL) goto done;
    token_ref = PyBytes_FromStringAndSize((const char *)PyUnicode_1BYTE_DATA(token),
                                          PyUnicode_GET_LENGTH(token));
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

PyDoc_STRVAR(fast_verify_doc,
"fast_verify(token, state)\n"
"\n"
"The accepted Decision; or the token's (plan, parsed, lookup, failed, key, exp, now) when\n"
"its claims hold and its signature was checked but the Python stages must go on (key None:\n"
"no usable key verified it, after trying them all; with lookup None too: ``failed`` is\n"
"what the key lookup raised); or None when the reference pipeline must decide. ``state``\n"
"is realmgate.lane.build_state's.");

static PyObject *fast_verify(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
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
    PyObject *header_segment =
        PyBytes_FromStringAndSize((const char *)split.text, split.header_end);
    if (header_segment == NULL) goto error;
    /* Owned, not borrowed: the callables below run Python code, which may clear the cache. */
    header = Py_XNewRef(PyDict_GetItemWithError(header_cache, header_segment));
    Py_DECREF(header_segment);
    if (header == NULL) goto decline_or_error;
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
    entry = Py_XNewRef(PyDict_GetItemWithError(issuers, iss));
    if (entry == NULL) goto decline_or_error;
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
    if (PyDict_CheckExact(memo)) { /* PreparedKeys.get's answers for a static key source */
        PyObject *memo_key = PyTuple_Pack(3, kid, alg, x5t);
        if (memo_key == NULL) goto error;
        keys = Py_XNewRef(PyDict_GetItemWithError(memo, memo_key));
        Py_DECREF(memo_key);
        if (keys == NULL && PyErr_Occurred()) goto error;
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

static PyMethodDef methods[] = {
    {"fast_verify", (PyCFunction)(void (*)(void))fast_verify, METH_FASTCALL, fast_verify_doc},
    {"doorkeeper_admit", (PyCFunction)(void (*)(void))doorkeeper_admit, METH_FASTCALL,
     doorkeeper_admit_doc},
    {"split_compact", (PyCFunction)(void (*)(void))split_compact, METH_FASTCALL,
     split_compact_doc},
    {"loads_strict", (PyCFunction)loads_strict, METH_O, loads_strict_doc},
    {"check_claims", (PyCFunction)(void (*)(void))check_claims, METH_FASTCALL, check_claims_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "realmgate._speedups",
    "The verifier's fast lane for unique tokens (accept-only; see _speedups.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    static const char *const names[N_COUNT] = {"iss", "sub", "jti", "exp", "nbf", "iat", "aud"};
    const uint32_t one = 1;
    if (*(const unsigned char *)&one != 1) { /* the doorkeeper's counters are little-endian */
        PyErr_SetString(PyExc_ImportError, "realmgate._speedups needs a little-endian CPU");
        return NULL;
    }
    init_b64();
    for (int i = 0; i < N_COUNT; i++) {
        if (NAMES[i] == NULL && (NAMES[i] = PyUnicode_InternFromString(names[i])) == NULL)
            return NULL;
    }
    if (SOURCE_DEFINITION == NULL) {
        SOURCE_DEFINITION = PyUnicode_InternFromString("definition");
        SOURCE_ISS = PyUnicode_InternFromString("iss");
        LABEL = PyUnicode_InternFromString("label");
        LOCAL_USER = PyUnicode_InternFromString("local_user");
        STATUS_OK = PyLong_FromLong(200);
        FIND_KWNAMES = Py_BuildValue("(sss)", "jti", "subject", "kid");
        FRESH = PyUnicode_InternFromString("fresh");
        RULES = PyUnicode_InternFromString("rules");
        if (!SOURCE_DEFINITION || !SOURCE_ISS || !LABEL || !LOCAL_USER || !STATUS_OK ||
            !FIND_KWNAMES || !FRESH || !RULES)
            return NULL;
    }
    return PyModule_Create(&module_def);
}

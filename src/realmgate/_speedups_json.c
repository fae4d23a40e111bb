/* realmgate._speedups: the strict JSON-object parser (overview: _speedups.c). */
#include "_speedups.h"

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

/* Whether any of the eight bytes of w ends or complicates a string body: '"', a
 * backslash, a control character or a non-ASCII byte (the has-zero-byte test of
 * "Bit Twiddling Hacks"; exact as to whether, which is all that is asked). */
static inline int special_in(uint64_t w) {
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
    uint64_t found = ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) |
                     ((w - ones * 0x20) & ~w) | w;
    return (found & highs) != 0;
}

static PyObject *parse_string(Parser *ps) {
    const unsigned char *start = ps->p + 1, *q = start, *end = ps->end;
    int ascii = 1, escapes = 0;
    /* Eight plain bytes at a time first: claim values are mostly plain ASCII. */
    while (end - q >= 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        if (special_in(w)) break;
        q += 8;
    }
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
    /* Interned: "iss", "exp" ... are then the very objects the claim checks look up with,
     * so each lookup matches on identity instead of comparing text. Only a cache miss pays
     * for it, and a replaced slot's name leaves the interned table with its last reference. */
    PyUnicode_InternInPlace(&name);
    if (PyErr_Occurred()) {
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

/* A dict made for about ``members`` members: a JWT payload of a dozen claims otherwise
 * grows its table twice while parsed. */
static PyObject *new_dict(Py_ssize_t members) {
#if PY_VERSION_HEX < 0x030D0000
    if (members > 5) return _PyDict_NewPresized(members);
#endif
    return PyDict_New();
}

static PyObject *parse_object(Parser *ps, Py_ssize_t members) {
    if (++ps->depth > MAX_DEPTH) return NULL;
    ps->p++;
    PyObject *object = new_dict(members);
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
        case '{': return parse_object(ps, 0);
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
PyObject *loads_object(const unsigned char *data, Py_ssize_t n) {
    Parser ps = {data, data + n, 0};
    skip_ws(&ps);
    if (ps.p >= ps.end || *ps.p != '{') return NULL;
    /* About 32 bytes a member in the payloads seen (iss, sub, aud, exp, jti, scope ...). */
    Py_ssize_t members = n / 32 > 42 ? 42 : n / 32;
    PyObject *object = parse_object(&ps, members);
    if (object == NULL) return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        Py_DECREF(object);
        return NULL;
    }
    return object;
}

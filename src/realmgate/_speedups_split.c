/* realmgate._speedups: strict compact-JWS split, unpadded base64url (overview: _speedups.c). */
#include "_speedups.h"

/* Each character's six bits already shifted to their place in a group of four (D0 for the
 * first character ... D3 for the last), so a group is four loads and three ORs; a byte
 * outside the alphabet carries BAD, which no valid group reaches (24 bits). Against one
 * table and per-character shifts and stores: 7.4 -> 6.2 instructions per character
 * (callgrind, a 564-character HS256 token, 2026-12-03). */
#define BAD 0x01000000u
static uint32_t D0[256], D1[256], D2[256], D3[256];

#if defined(__x86_64__) && defined(__GNUC__)
#define VECTOR_B64 1
static int vector_supported, use_vector;
#else
#define VECTOR_B64 0
#endif

void init_b64(void) {
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 256; i++) D0[i] = D1[i] = D2[i] = D3[i] = BAD;
    for (uint32_t i = 0; i < 64; i++) {
        unsigned char c = (unsigned char)alphabet[i];
        D0[c] = i << 18;
        D1[c] = i << 12;
        D2[c] = i << 6;
        D3[c] = i;
    }
#if VECTOR_B64
    use_vector = vector_supported = __builtin_cpu_supports("avx2") ? 1 : 0;
#endif
}

/* ---- 32 characters at a time (AVX2) ------------------------------------------------------
 *
 * Why: decoding was the largest single cost of the lane beside the signature itself, 5 000
 * of the 17 000 instructions an RS256 token spends outside the floor's verify (cachegrind,
 * 850-character token, 2026-12-03), and its four 1 KiB tables took level-1 cache lines the
 * RSA code then missed. Vectorised (the range-classification variant of Mula and Lemire's
 * AVX2 decoder, for the base64url alphabet) a block of 32 characters is about 25
 * instructions and no table. The blocks only ever decode characters of the alphabet: the
 * block is refused whole if any byte is outside it, exactly the bytes the scalar tables
 * mark BAD. The last 12 to 43 characters (and the canonical-bits check of the final group)
 * always take the scalar loop, so every 32-byte store stays inside the output (see
 * vector_decode). Chosen at import by the CPU; vector_base64() switches it for the tests,
 * which check both paths byte for byte against the reference decoder. */
#if VECTOR_B64
#include <immintrin.h>

/* Characters consumed (a multiple of 32; 0 to 3/4 of them written as bytes at o), or -1 when
 * a block holds a byte outside the alphabet. Stops with at least 12 characters left: a block
 * at character i stores 32 bytes at 3i/4, and the output (3/4 of the characters, rounded
 * down, at least 33 bytes from there) has room for it. */
__attribute__((target("avx2"))) static Py_ssize_t vector_decode(const unsigned char *s,
                                                                Py_ssize_t n,
                                                                unsigned char *o) {
    const __m256i below_upper = _mm256_set1_epi8(0x40), above_upper = _mm256_set1_epi8(0x5B);
    const __m256i below_lower = _mm256_set1_epi8(0x60), above_lower = _mm256_set1_epi8(0x7B);
    const __m256i below_digit = _mm256_set1_epi8(0x2F), above_digit = _mm256_set1_epi8(0x3A);
    const __m256i dash = _mm256_set1_epi8(0x2D), underscore = _mm256_set1_epi8(0x5F);
    /* Added to a character to give its six bits: A-Z -65, a-z -71, 0-9 +4, '-' +17, '_' -32. */
    const __m256i to_upper = _mm256_set1_epi8(-65), to_lower = _mm256_set1_epi8(-71);
    const __m256i to_digit = _mm256_set1_epi8(4), to_dash = _mm256_set1_epi8(17);
    const __m256i to_underscore = _mm256_set1_epi8(-32);
    const __m256i pairs = _mm256_set1_epi32(0x01400140), quads = _mm256_set1_epi32(0x00011000);
    const __m256i in_order = _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1,
                                              -1, 2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1,
                                              -1, -1);
    const __m256i together = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
    Py_ssize_t i = 0;
    for (; n - i >= 44; i += 32, o += 24) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + i));
        /* Signed compares: bytes from 0x80 up are negative and match no range. */
        __m256i upper = _mm256_and_si256(_mm256_cmpgt_epi8(c, below_upper),
                                         _mm256_cmpgt_epi8(above_upper, c));
        __m256i lower = _mm256_and_si256(_mm256_cmpgt_epi8(c, below_lower),
                                         _mm256_cmpgt_epi8(above_lower, c));
        __m256i digit = _mm256_and_si256(_mm256_cmpgt_epi8(c, below_digit),
                                         _mm256_cmpgt_epi8(above_digit, c));
        __m256i is_dash = _mm256_cmpeq_epi8(c, dash);
        __m256i is_underscore = _mm256_cmpeq_epi8(c, underscore);
        __m256i valid = _mm256_or_si256(_mm256_or_si256(upper, lower),
                                        _mm256_or_si256(_mm256_or_si256(digit, is_dash),
                                                        is_underscore));
        if ((uint32_t)_mm256_movemask_epi8(valid) != 0xFFFFFFFFu) return -1;
        /* The classes are disjoint, so their offsets combine with OR. */
        __m256i offset = _mm256_or_si256(
            _mm256_or_si256(_mm256_and_si256(upper, to_upper), _mm256_and_si256(lower, to_lower)),
            _mm256_or_si256(_mm256_or_si256(_mm256_and_si256(digit, to_digit),
                                            _mm256_and_si256(is_dash, to_dash)),
                            _mm256_and_si256(is_underscore, to_underscore)));
        __m256i sextets = _mm256_add_epi8(c, offset);
        /* a*64+b and c*64+d in 16 bits, then (a*64+b)*4096 + c*64+d in 32: each group's
         * 24 bits, which the shuffles put in output order, 12 bytes per 128-bit half. */
        __m256i bits = _mm256_madd_epi16(_mm256_maddubs_epi16(sextets, pairs), quads);
        __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(bits, in_order), together);
        _mm256_storeu_si256((__m256i *)o, bytes);
    }
    return i;
}
#endif

int vector_base64(int enable) {
#if VECTOR_B64
    if (enable >= 0) use_vector = enable && vector_supported;
    return use_vector;
#else
    return 0;
#endif
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
    const unsigned char *start = s;
#if VECTOR_B64
    if (use_vector && n >= 44) {
        Py_ssize_t done = vector_decode(s, n, o);
        if (done < 0) goto bad;
        s += done;
        o += done / 4 * 3;
    }
#endif
    const unsigned char *end = start + full;
    /* Four bytes stored per group of three: the fourth is overwritten by the next group,
     * or lands on the bytes object's trailing NUL, which is rewritten below. */
    for (; s < end; s += 4, o += 3) {
        uint32_t v = D0[s[0]] | D1[s[1]] | D2[s[2]] | D3[s[3]];
        if (v & BAD) goto bad;
        /* The three bytes in output order in memory (little-endian, checked at import). */
        uint32_t in_order = ((v >> 16) & 0xFFu) | (v & 0xFF00u) | ((v & 0xFFu) << 16);
        memcpy(o, &in_order, 4);
    }
    if (rem == 2) {
        uint32_t v = D0[s[0]] | D1[s[1]];
        if ((v & BAD) || (v & 0xF000u)) goto bad;
        o[0] = (unsigned char)(v >> 16);
    } else if (rem == 3) {
        uint32_t v = D0[s[0]] | D1[s[1]] | D2[s[2]];
        if ((v & BAD) || (v & 0xC0u)) goto bad;
        o[0] = (unsigned char)(v >> 16);
        o[1] = (unsigned char)(v >> 8);
    }
    PyBytes_AS_STRING(out)[out_len] = '\0';
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

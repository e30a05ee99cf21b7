/* Byte unshuffle in C: the inverse of continuum.blobs._shuffle.shuffle_into.
 *
 * Why compiled code: on a checkpoint load, numpy's plane-by-plane strided copy
 * (one byte store per cycle at best) costs more than zstd decompressing the same
 * frame (~270 vs ~230 us per MiB of float64 on the 2-CPU benchmark guest), so no
 * amount of threading brings a load to the speed of decompression alone. SSE2
 * interleaves 16 elements per step with byte/word/dword unpacks: ~25 us per MiB.
 *
 * Optional: setuptools builds it where a C compiler is found (pyproject,
 * ext-modules, optional); continuum.blobs._shuffle falls back to numpy otherwise,
 * with the same bytes. The GIL is released while copying, so frames of one load
 * unshuffle on several threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

static void unshuffle_scalar(const uint8_t *src, uint8_t *dst, size_t n, size_t itemsize,
                             size_t start) {
    for (size_t i = start; i < n; i++)
        for (size_t b = 0; b < itemsize; b++) dst[i * itemsize + b] = src[b * n + i];
}

#if defined(__SSE2__)
#define LOAD(p) _mm_loadu_si128((const __m128i *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(p), (v))

static size_t unshuffle8(const uint8_t *src, uint8_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const uint8_t *s = src + i;
        __m128i a0 = LOAD(s), a1 = LOAD(s + n), a2 = LOAD(s + 2 * n), a3 = LOAD(s + 3 * n);
        __m128i a4 = LOAD(s + 4 * n), a5 = LOAD(s + 5 * n), a6 = LOAD(s + 6 * n);
        __m128i a7 = LOAD(s + 7 * n);
        __m128i b0 = _mm_unpacklo_epi8(a0, a1), b1 = _mm_unpackhi_epi8(a0, a1);
        __m128i b2 = _mm_unpacklo_epi8(a2, a3), b3 = _mm_unpackhi_epi8(a2, a3);
        __m128i b4 = _mm_unpacklo_epi8(a4, a5), b5 = _mm_unpackhi_epi8(a4, a5);
        __m128i b6 = _mm_unpacklo_epi8(a6, a7), b7 = _mm_unpackhi_epi8(a6, a7);
        __m128i c0 = _mm_unpacklo_epi16(b0, b2), c1 = _mm_unpackhi_epi16(b0, b2);
        __m128i c2 = _mm_unpacklo_epi16(b1, b3), c3 = _mm_unpackhi_epi16(b1, b3);
        __m128i c4 = _mm_unpacklo_epi16(b4, b6), c5 = _mm_unpackhi_epi16(b4, b6);
        __m128i c6 = _mm_unpacklo_epi16(b5, b7), c7 = _mm_unpackhi_epi16(b5, b7);
        uint8_t *o = dst + i * 8;
        STORE(o, _mm_unpacklo_epi32(c0, c4));
        STORE(o + 16, _mm_unpackhi_epi32(c0, c4));
        STORE(o + 32, _mm_unpacklo_epi32(c1, c5));
        STORE(o + 48, _mm_unpackhi_epi32(c1, c5));
        STORE(o + 64, _mm_unpacklo_epi32(c2, c6));
        STORE(o + 80, _mm_unpackhi_epi32(c2, c6));
        STORE(o + 96, _mm_unpacklo_epi32(c3, c7));
        STORE(o + 112, _mm_unpackhi_epi32(c3, c7));
    }
    return i;
}

static size_t unshuffle4(const uint8_t *src, uint8_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const uint8_t *s = src + i;
        __m128i a0 = LOAD(s), a1 = LOAD(s + n), a2 = LOAD(s + 2 * n), a3 = LOAD(s + 3 * n);
        __m128i b0 = _mm_unpacklo_epi8(a0, a1), b1 = _mm_unpackhi_epi8(a0, a1);
        __m128i b2 = _mm_unpacklo_epi8(a2, a3), b3 = _mm_unpackhi_epi8(a2, a3);
        uint8_t *o = dst + i * 4;
        STORE(o, _mm_unpacklo_epi16(b0, b2));
        STORE(o + 16, _mm_unpackhi_epi16(b0, b2));
        STORE(o + 32, _mm_unpacklo_epi16(b1, b3));
        STORE(o + 48, _mm_unpackhi_epi16(b1, b3));
    }
    return i;
}

static size_t unshuffle2(const uint8_t *src, uint8_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a0 = LOAD(src + i), a1 = LOAD(src + n + i);
        STORE(dst + i * 2, _mm_unpacklo_epi8(a0, a1));
        STORE(dst + i * 2 + 16, _mm_unpackhi_epi8(a0, a1));
    }
    return i;
}
#endif

static void unshuffle(const uint8_t *src, uint8_t *dst, size_t n, size_t itemsize) {
    size_t done = 0;
#if defined(__SSE2__)
    if (itemsize == 8) done = unshuffle8(src, dst, n);
    else if (itemsize == 4) done = unshuffle4(src, dst, n);
    else if (itemsize == 2) done = unshuffle2(src, dst, n);
#endif
    unshuffle_scalar(src, dst, n, itemsize, done);
}

/* unshuffle_into(src, itemsize, out): planes in the buffer src -> elements in the
 * writable buffer out, both of the same size, a whole number of itemsize elements. */
static PyObject *py_unshuffle_into(PyObject *self, PyObject *args) {
    Py_buffer src, out;
    Py_ssize_t itemsize;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nw*", &src, &itemsize, &out)) return NULL;
    PyObject *result = NULL;
    if (itemsize < 1) {
        PyErr_SetString(PyExc_ValueError, "itemsize must be positive");
    } else if (src.len != out.len || src.len % itemsize) {
        PyErr_Format(PyExc_ValueError, "sizes differ or are not whole elements: %zd, %zd, %zd",
                     src.len, out.len, itemsize);
    } else if (!PyBuffer_IsContiguous(&src, 'C') || !PyBuffer_IsContiguous(&out, 'C')) {
        PyErr_SetString(PyExc_ValueError, "buffers must be contiguous");
    } else {
        size_t n = (size_t)(src.len / itemsize);
        Py_BEGIN_ALLOW_THREADS
        unshuffle((const uint8_t *)src.buf, (uint8_t *)out.buf, n, (size_t)itemsize);
        Py_END_ALLOW_THREADS
        result = Py_None;
        Py_INCREF(result);
    }
    PyBuffer_Release(&src);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"unshuffle_into", py_unshuffle_into, METH_VARARGS,
     "unshuffle_into(src, itemsize, out): byte planes of src -> elements in out."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cshuffle", "Byte unshuffle in C (SSE2 where available).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__cshuffle(void) { return PyModule_Create(&module); }

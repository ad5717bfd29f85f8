/* unielu._ufuncs: ELU and its derivative as NumPy ufuncs, with our own exp/expm1.
 *
 * elu(x, alpha) and elu_derivative(x, alpha) are two-input ufuncs (as
 * scipy.special's are), with loops ef->e (float16 computed in double, rounded
 * to float32, then float16), ff->f and dd->d; broadcasting, out=, where=,
 * strides and casting come from NumPy. The arithmetic is in _kernel_body.h, compiled once
 * per SIMD level on x86-64 (baseline SSE2, AVX2, AVX-512F) and chosen at
 * import from the CPU, capped by the environment variable UNIELU_SIMD
 * (baseline, avx2, avx512). All levels give the same bits: no contraction
 * into FMA (-ffp-contract=off), the same operations in the same order.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <fenv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <numpy/ufuncobject.h>

#if defined(_MSC_VER) && !defined(__clang__)
#pragma fenv_access(on)
#define RESTRICT __restrict
#else
#define RESTRICT restrict
#endif

/* Elements per block of double scratch (two blocks on the stack: 8 KiB). */
#define BLOCK 512

static const double INV_LN2 = 1.4426950408889634;
/* ln2 split: LN2_HI has 32 significant bits, so k * LN2_HI is exact for |k| < 2**21. */
static const double LN2_HI = 0.693147180369123816490; /* 0x3FE62E42FEE00000 */
static const double LN2_LO = 1.90821492927058770002e-10;
/* 1.5 * 2**52: adding it rounds to an integer held in the low significand bits. */
static const double SHIFTER = 6755399441055744.0;

/* The same in float32. LN2_HIF has 15 significant bits: k * LN2_HIF is exact for |k| < 2**9. */
static const float INV_LN2F = 1.44269502f;
static const float LN2_HIF = 0.693145752f;  /* 0x3F317200 */
static const float SHIFTERF = 12582912.0f;  /* 1.5 * 2**23 */
static const float LN2_LOF = 1.42860677e-06f; /* ln2 - LN2_HIF, rounded */

/* Written out for float here and for double below, not made by a macro: the bit
 * copies that the same-bits promise depends on stay in plain sight. */
static inline uint32_t bits32(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline float from_bits32(uint32_t u)
{
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* v's sign, exponent and top 11 significand bits: the product of two such
 * halves (or of one and v - split12(v), which has 12 bits at most) is exact. */
static inline float split12(float v)
{
    return from_bits32(bits32(v) & 0xFFFFF000u);
}

/* The double twin of bits32/from_bits32, written out rather than macro-made (see there). */
static inline uint64_t bits64(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline double from_bits64(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* NaN results (docs/contract.rst): the NaN they come from, x's where x is one,
 * else alpha's, with its quiet bit set and its sign and payload kept. Set with
 * bits and selects, never left to the arithmetic: which of two NaN operands an
 * operation returns depends on the order the compiler gives them, and the
 * float32 loops' splitting by masks cuts payload bits. The block functions
 * take these selects only in blocks with a NaN in x or alpha (found by a scan,
 * most of them one that the function makes anyway, or while loading): the
 * same bits either way. */

/* y, or n quieted where n is a NaN. */
static inline double propagate_nan64(double n, double y)
{
    return n != n ? from_bits64(bits64(n) | 0x0008000000000000u) : y;
}

static inline float propagate_nan32(float n, float y)
{
    return n != n ? from_bits32(bits32(n) | 0x00400000u) : y;
}

/* v, quieted where v is a NaN: the same as propagate_nan32(v, v), one select fewer. */
static inline float quieted32(float v)
{
    return from_bits32(bits32(v) | (v != v ? 0x00400000u : 0u));
}

/* Block functions: on a block of double scratch in place (float64, and float16
 * computed in double), told whether the block's x or alpha holds a NaN; or
 * from float32 in to float32 out, given alpha's step (0: one alpha). Loads
 * into double scratch return whether a value loaded is a NaN. */
typedef void (*block_fn)(double *, const double *, npy_intp, int);
typedef void (*block_fnf)(float *, const float *, const float *, npy_intp, npy_intp);
typedef int (*load_fn)(double *, const char *, npy_intp, npy_intp);
typedef void (*store_fn)(char *, npy_intp, const double *, npy_intp);

/* Which function a loop computes: the ufunc's `data` for each loop, and the
 * index into the block functions of each dtype. */
enum func { ELU, DERIVATIVE };

/* One SIMD level's functions; f64, f16 and f32 by the dtype of their loop. */
struct kernels {
    block_fn f64[2], f16[2];
    block_fnf f32[2];
    load_fn load_f32, load_f64;
    store_fn store_f64;
};

/* How a float32 block function gets alpha: one value equal to 1 (nothing to
 * multiply), one other value (its halves split once), or one per element. An
 * element's bits do not depend on the mode: alpha 1 takes the same sum in each. */
enum alpha_mode { ALPHA_IS_1, ALPHA_SCALAR, ALPHAS };

/* ---- one copy of the kernels per SIMD level ---------------------------- */

#define SUFFIX baseline
#include "_kernel_body.h"
#undef SUFFIX

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__)
#define UNIELU_X86_LEVELS 1

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define SUFFIX avx2
#include "_kernel_body.h"
#undef SUFFIX
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma,prefer-vector-width=512")
#endif
#define SUFFIX avx512
#include "_kernel_body.h"
#undef SUFFIX
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif

/* The SIMD levels by rank, lowest first: every name that UNIELU_SIMD and
 * set_simd_level take (a level above what this build or CPU has caps at the
 * best it has), and the kernels this build has, at the same ranks. On aarch64
 * the baseline is NEON, and "neon" names it. */
static const char *const LEVEL_NAMES[] = {"baseline", "avx2", "avx512"};
#define LEVEL_CHOICES "'baseline', 'avx2', 'avx512' (or 'neon')"
#if defined(__aarch64__) || defined(_M_ARM64)
#define BASELINE_ALIAS "neon"
#else
#define BASELINE_ALIAS "baseline"
#endif
static const struct kernels *const LEVEL_KERNELS[] = {
    &kernels_baseline,
#ifdef UNIELU_X86_LEVELS
    &kernels_avx2, &kernels_avx512,
#endif
};

static const struct kernels *active = &kernels_baseline;
static const char *active_name = BASELINE_ALIAS;

/* ---- float16 <-> float32, round to nearest even (no libm, no intrinsics) - */

static inline float half_to_float(npy_uint16 h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    uint32_t u;
    float f;
    if (e == 0x1f) {
        u = sign | 0x7f800000u | (m << 13);
    }
    else if (e == 0) {
        f = (float)m * 5.9604644775390625e-08f; /* m * 2**-24, exact */
        memcpy(&u, &f, sizeof u);
        u |= sign;
    }
    else {
        u = sign | ((e + 112u) << 23) | (m << 13);
    }
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline npy_uint16 float_to_half(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000u, ax = u & 0x7fffffffu;
    if (ax >= 0x7f800000u) { /* inf, NaN (kept quiet) */
        return (npy_uint16)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    }
    if (ax >= 0x477ff000u) { /* rounds past 65504 */
        return (npy_uint16)(sign | 0x7c00u);
    }
    if (ax < 0x38800000u) { /* below 2**-14: a subnormal half or zero */
        if (ax <= 0x33000000u) { /* at most 2**-25, half the smallest subnormal: ties to 0 */
            return (npy_uint16)sign;
        }
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126u - e, h = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
        if (rem > halfway || (rem == halfway && (h & 1u))) h++;
        return (npy_uint16)(sign | h);
    }
    uint32_t h = (ax - 0x38000000u) >> 13, rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* a carry may give inf */
    return (npy_uint16)(sign | h);
}

/* ---- ufunc loops -------------------------------------------------------- */

static void clear_fp_flags(void)
{
    /* Comparisons with NaN and rounding set flags that NumPy would report as
     * warnings; the contract says no warning for any input. */
    feclearexcept(FE_ALL_EXCEPT);
}

/* Results are written with ordinary stores, which keep them in cache for
 * whatever reads them next. Streaming (non-temporal) stores were measured
 * slower into new memory, where each store to a fresh page faults, which is
 * where unielu's results mostly go (docs/backends/numpy.rst). */

/* The next block's lines of x and of a contiguous out, requested while this
 * block computes: the loops do about 30 operations per element, too many for
 * the CPU to look far enough ahead to keep memory busy on its own. */
static inline void prefetch_block(const char *x, npy_intp sx, char *out, npy_intp so, npy_intp m,
                                  size_t itemsize)
{
#if defined(__GNUC__) || defined(__clang__)
    if (sx == (npy_intp)itemsize) {
        for (size_t i = 0; i < (size_t)m * itemsize; i += 64) __builtin_prefetch(x + i, 0, 3);
    }
    if (so == (npy_intp)itemsize) {
        for (size_t i = 0; i < (size_t)m * itemsize; i += 64) __builtin_prefetch(out + i, 1, 3);
    }
#else
    (void)x, (void)sx, (void)out, (void)so, (void)m, (void)itemsize;
#endif
}

/* float64, and float16 computed in double: blocks through double scratch,
 * loaded and stored by the dtype's functions. */
static void loop_via_double(char **args, const npy_intp *dimensions, const npy_intp *steps,
                            block_fn f, load_fn load_x, load_fn load_alpha, store_fn store,
                            size_t itemsize)
{
    double buf[BLOCK], abuf[BLOCK];
    npy_intp n = dimensions[0];
    char *x = args[0], *a = args[1], *out = args[2];
    npy_intp sx = steps[0], sa = steps[1], so = steps[2];
    int alpha_nan = 0;
    if (sa == 0) {
        alpha_nan = load_alpha(abuf, a, 0, 1);
        for (npy_intp i = 1; i < BLOCK; i++) abuf[i] = abuf[0];
    }
    for (npy_intp start = 0; start < n; start += BLOCK) {
        npy_intp m = n - start < BLOCK ? n - start : BLOCK;
        if (start + BLOCK < n) {
            npy_intp next = n - start - BLOCK < BLOCK ? n - start - BLOCK : BLOCK;
            prefetch_block(x + (start + BLOCK) * sx, sx, out + (start + BLOCK) * so, so, next,
                           itemsize);
        }
        int nans = load_x(buf, x + start * sx, sx, m);
        if (sa != 0) alpha_nan = load_alpha(abuf, a + start * sa, sa, m);
        f(buf, abuf, m, nans | alpha_nan);
        store(out + start * so, so, buf, m);
    }
    clear_fp_flags();
}

static void gather32(float *buf, const char *src, npy_intp step, npy_intp m)
{
    if (step == (npy_intp)sizeof(float)) {
        memcpy(buf, src, (size_t)m * sizeof(float));
    }
    else {
        for (npy_intp i = 0; i < m; i++) memcpy(buf + i, src + i * step, sizeof(float));
    }
}

/* float32 in float32 lanes: x read where it lies when contiguous. */
static void loop_f32(char **args, const npy_intp *dimensions, const npy_intp *steps, block_fnf f)
{
    float buf[BLOCK], xbuf[BLOCK], abuf[BLOCK];
    npy_intp n = dimensions[0];
    char *x = args[0], *a = args[1], *out = args[2];
    npy_intp sx = steps[0], sa = steps[1], so = steps[2];
    const float *alpha = sa == 0 ? (const float *)a : abuf;
    /* A contiguous, aligned out that is not x is written directly: NumPy hands
     * a loop either the very input (in place) or memory that overlaps no input. */
    int direct = so == (npy_intp)sizeof(float) && out != x && ((uintptr_t)out % sizeof(float)) == 0;
    for (npy_intp start = 0; start < n; start += BLOCK) {
        npy_intp m = n - start < BLOCK ? n - start : BLOCK;
        if (start + BLOCK < n) {
            npy_intp next = n - start - BLOCK < BLOCK ? n - start - BLOCK : BLOCK;
            prefetch_block(x + (start + BLOCK) * sx, sx, out + (start + BLOCK) * so, so, next,
                           sizeof(float));
        }
        /* Contiguous x is read where it is; the results go to local scratch
         * first, so that x may be out (in place) without aliasing. */
        const float *in = xbuf;
        if (sx == (npy_intp)sizeof(float)) {
            in = (const float *)(x + start * sx);
        }
        else {
            gather32(xbuf, x + start * sx, sx, m);
        }
        if (sa != 0) gather32(abuf, a + start * sa, sa, m);
        if (direct) {
            f((float *)(out + start * so), in, alpha, sa != 0, m);
            continue;
        }
        f(buf, in, alpha, sa != 0, m);
        if (so == (npy_intp)sizeof(float)) {
            memcpy(out + start * so, buf, (size_t)m * sizeof(float));
        }
        else {
            for (npy_intp i = 0; i < m; i++) memcpy(out + (start + i) * so, buf + i, sizeof(float));
        }
    }
    clear_fp_flags();
}

static int load_f16(double *buf, const char *src, npy_intp step, npy_intp m)
{
    int nans = 0;
    for (npy_intp i = 0; i < m; i++) {
        npy_uint16 h = *(const npy_uint16 *)(src + i * step);
        buf[i] = (double)half_to_float(h);
        nans |= (h & 0x7fffu) > 0x7c00u;
    }
    return nans;
}

/* Rounded to float32 first, as the float32 path rounds. A NaN keeps its sign
 * and its payload's top bits through both conversions (float_to_half's and the
 * CPU's, which follows IEEE 754's recommendation on x86 and ARM). */
static void store_f16(char *dst, npy_intp step, const double *buf, npy_intp m)
{
    for (npy_intp i = 0; i < m; i++) *(npy_uint16 *)(dst + i * step) = float_to_half((float)buf[i]);
}

/* The ufuncs' loops, shared by elu and elu_derivative: `data` says which
 * (enum func), as in NumPy's and scipy.special's generated loops. Each reads
 * the level once, so a call runs at one level throughout. */

/* float16 x, float32 alpha (the contract's working precision), float16 out. */
static void loop_e(char **args, const npy_intp *dimensions, const npy_intp *steps, void *data)
{
    const struct kernels *k = active;
    loop_via_double(args, dimensions, steps, k->f16[*(const enum func *)data], load_f16,
                    k->load_f32, store_f16, sizeof(npy_uint16));
}

static void loop_f(char **args, const npy_intp *dimensions, const npy_intp *steps, void *data)
{
    loop_f32(args, dimensions, steps, active->f32[*(const enum func *)data]);
}

static void loop_d(char **args, const npy_intp *dimensions, const npy_intp *steps, void *data)
{
    const struct kernels *k = active;
    loop_via_double(args, dimensions, steps, k->f64[*(const enum func *)data], k->load_f64,
                    k->load_f64, k->store_f64, sizeof(double));
}

static PyUFuncGenericFunction loops[] = {loop_e, loop_f, loop_d};
static enum func funcs[] = {ELU, DERIVATIVE};
static void *elu_data[] = {&funcs[ELU], &funcs[ELU], &funcs[ELU]};
static void *der_data[] = {&funcs[DERIVATIVE], &funcs[DERIVATIVE], &funcs[DERIVATIVE]};
static char loop_types[] = {
    NPY_HALF, NPY_FLOAT, NPY_HALF,
    NPY_FLOAT, NPY_FLOAT, NPY_FLOAT,
    NPY_DOUBLE, NPY_DOUBLE, NPY_DOUBLE,
};

/* ---- SIMD level ---------------------------------------------------------- */

/* How many levels this CPU can run: LEVEL_KERNELS' first ones. */
static int available_levels(void)
{
    int count = 1;
#ifdef UNIELU_X86_LEVELS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        count = __builtin_cpu_supports("avx512f") ? 3 : 2;
    }
#endif
    return count;
}

static const char *level_name(int level)
{
    return level == 0 ? BASELINE_ALIAS : LEVEL_NAMES[level];
}

/* Use the best level not above `cap` (NULL: the best); -1 if `cap` is unknown. */
static int choose_level(const char *cap)
{
    int chosen = available_levels() - 1;
    if (cap != NULL && cap[0] != '\0') {
        int rank = strcmp(cap, "neon") == 0 ? 0 : -1;
        for (int i = 0; i < (int)(sizeof LEVEL_NAMES / sizeof LEVEL_NAMES[0]); i++) {
            if (strcmp(cap, LEVEL_NAMES[i]) == 0) rank = i;
        }
        if (rank < 0) return -1;
        if (rank < chosen) chosen = rank;
    }
    active = LEVEL_KERNELS[chosen];
    active_name = level_name(chosen);
    return 0;
}

static PyObject *py_simd_level(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(active_name);
}

static PyObject *py_simd_levels(PyObject *self, PyObject *noargs)
{
    (void)self;
    (void)noargs;
    int count = available_levels();
    PyObject *result = PyTuple_New(count);
    if (result == NULL) return NULL;
    for (int i = 0; i < count; i++) {
        PyObject *name = PyUnicode_FromString(level_name(i));
        if (name == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        PyTuple_SET_ITEM(result, i, name);
    }
    return result;
}

static PyObject *py_set_simd_level(PyObject *self, PyObject *arg)
{
    (void)self;
    const char *cap = PyUnicode_AsUTF8(arg);
    if (cap == NULL) return NULL;
    if (choose_level(cap) < 0) {
        PyErr_Format(PyExc_ValueError,
                     "SIMD level must be one of " LEVEL_CHOICES "; got %R", arg);
        return NULL;
    }
    return PyUnicode_FromString(active_name);
}

static PyMethodDef methods[] = {
    {"simd_level", py_simd_level, METH_NOARGS, "The SIMD level the loops run at."},
    {"simd_levels", py_simd_levels, METH_NOARGS,
     "The SIMD levels this CPU can run, lowest first."},
    {"set_simd_level", py_set_simd_level, METH_O,
     "Run at the best level not above the one named (for tests and benchmarks); "
     "returns the level chosen."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_ufuncs",
    "ELU and its derivative as NumPy ufuncs (unielu's compiled kernel).", -1, methods,
};

static const char ELU_DOC[] =
    "elu(x, alpha, /, out=None, *, where=True, ...)\n\n"
    "x where x > 0 (and for zeros), else alpha * expm1(x); NaN quieted. A NumPy ufunc.";
static const char DER_DOC[] =
    "elu_derivative(x, alpha, /, out=None, *, where=True, ...)\n\n"
    "1 where x > 0, else alpha * exp(x); NaN quieted. A NumPy ufunc.";

PyMODINIT_FUNC PyInit__ufuncs(void)
{
    import_array();
    import_umath();
    PyObject *module = PyModule_Create(&moduledef);
    if (module == NULL) return NULL;
    const char *cap = getenv("UNIELU_SIMD");
    if (choose_level(cap) < 0) {
        PyErr_Format(PyExc_ValueError,
                     "environment variable UNIELU_SIMD must be one of " LEVEL_CHOICES
                     "; got '%s'", cap);
        Py_DECREF(module);
        return NULL;
    }
    PyObject *elu = PyUFunc_FromFuncAndData(loops, elu_data, loop_types, 3, 2, 1,
                                            PyUFunc_None, "elu", ELU_DOC, 0);
    if (elu == NULL || PyModule_AddObject(module, "elu", elu) < 0) {
        Py_XDECREF(elu);
        Py_DECREF(module);
        return NULL;
    }
    PyObject *der = PyUFunc_FromFuncAndData(loops, der_data, loop_types, 3, 2, 1,
                                            PyUFunc_None, "elu_derivative", DER_DOC, 0);
    if (der == NULL || PyModule_AddObject(module, "elu_derivative", der) < 0) {
        Py_XDECREF(der);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}

/* The block kernels of unielu._ufuncs, included once per SIMD level.
 *
 * Before each inclusion _ufuncs.c defines SUFFIX (the level's name) and the
 * compiler's target for the functions below. Every function works on a
 * block of at most BLOCK elements in local scratch, so the compiler sees no
 * aliasing and vectorizes each loop; the loops are branch-free (selects
 * only) and the file is compiled with floating-point contraction off, so
 * that every level, the vector body and the scalar remainder all perform
 * the same IEEE operations in the same order: the same bits everywhere.
 *
 * Method (x <= 0 only: the positive branch never needs exp):
 *   k = round(x / ln2), r = (x - k*LN2_HI) - k*LN2_LO   (Cody-Waite, |r| <= ln2/2)
 *   p = expm1(r) by its Taylor polynomial, evaluated as r + r*r*q(r)
 *   expm1(x) = 2**k * p + (2**k - 1),   exp(x) = 2**k * (1 + p)
 * with 2**k built from the exponent bits. Each function's name says the dtype
 * of its loop: float64 (elu_f64, derivative_f64) in double; float16 (elu_f16,
 * derivative_f16) in double too, rounded by the loop to float32, then float16;
 * float32 (elu_f32, derivative_f32) in float32 alone, with the low-order parts
 * carried.
 *
 * A NaN result is set by propagate_nan64/32 or quieted32 (_ufuncs.c) as the
 * last step, never left to the arithmetic: x's NaN where x is one, else
 * alpha's, quieted. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)

/* x = k*ln2 + r with |r| <= ln2/2 (Cody-Waite: ln2 in two parts), for x already
 * clamped to a range where 2**k is a normal double. One definition per SIMD level.
 * The float32 steps below repeat its shape on purpose: a macro over both types
 * would hide the arithmetic that the same-bits promise depends on. */
struct CAT(reduced64, SUFFIX) {
    int64_t k;
    double kf, r;
};
#define reduced64 CAT(reduced64, SUFFIX)

static inline struct reduced64 FN(reduce64)(double xc)
{
    struct reduced64 out;
    double t = xc * INV_LN2 + SHIFTER;
    out.k = (int64_t)(bits64(t) - bits64(SHIFTER));
    out.kf = t - SHIFTER;
    out.r = (xc - out.kf * LN2_HI) - out.kf * LN2_LO;
    return out;
}

/* expm1(r) for |r| <= ln2/2 as r + r*r*q(r), q from Taylor's series by Horner:
 * to degree 10 (results rounded to float32) or 13 (float64), from q's top
 * coefficient q0 = 1/10! or the degree-13 part folded into it. */
static inline double FN(expm1_horner10)(double r, double q)
{
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    q = q * r + 0.5;
    return r + (r * r) * q;
}

static inline double FN(expm1_taylor10)(double r)
{
    return FN(expm1_horner10)(r, 1.0 / 3628800.0); /* 1/10! */
}

static inline double FN(expm1_taylor13)(double r)
{
    double q = 1.0 / 6227020800.0; /* 1/13! */
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    return FN(expm1_horner10)(r, q);
}

/* The float64 and float16 loops' block functions compute in double, in place,
 * one element at a time by the inline functions below, with the NaN selects
 * (nans = 1) only in blocks that the loop found to hold a NaN x or alpha: one
 * vectorized loop for each case, the element function inlined into both. */
typedef double (*FN(element_fn))(double, double, int);

static inline void FN(double_block)(double *RESTRICT buf, const double *RESTRICT alpha, npy_intp n,
                                    int nans, FN(element_fn) element)
{
    if (nans) {
        for (npy_intp i = 0; i < n; i++) buf[i] = element(buf[i], alpha[i], 1);
    }
    else {
        for (npy_intp i = 0; i < n; i++) buf[i] = element(buf[i], alpha[i], 0);
    }
}

/* The block function `name`, over the element function `name`_element. */
#define DOUBLE_BLOCK(name)                                                                    \
    static void FN(name)(double *RESTRICT buf, const double *RESTRICT alpha, npy_intp n,      \
                         int nans)                                                            \
    {                                                                                         \
        FN(double_block)(buf, alpha, n, nans, FN(CAT(name, element)));                        \
    }

/* The double functions' shared steps: x clamped to [lowest, 0] (lowest: where
 * the result stops changing), reduced to k*ln2 + r, and p = expm1(r) by Taylor
 * to degree 13 (float64 results) or 10 (ample for results rounded to float32). */
struct CAT(expm1_64, SUFFIX) {
    int64_t k;
    double kf, p;
};
#define expm1_64 CAT(expm1_64, SUFFIX)

static inline struct expm1_64 FN(expm1_parts64)(double x, double lowest, const int degree13)
{
    struct expm1_64 v;
    double xc = x < lowest ? lowest : x;
    xc = xc > 0.0 ? 0.0 : xc;
    struct reduced64 rd = FN(reduce64)(xc);
    v.k = rd.k;
    v.kf = rd.kf;
    v.p = degree13 ? FN(expm1_taylor13)(rd.r) : FN(expm1_taylor10)(rd.r);
    return v;
}

/* x < 0 ? alpha * expm1(x) : x in double, for the float64 and float16 loops. */
static inline double FN(elu_double)(double x, double alpha, int nans, double lowest,
                                    const int degree13)
{
    struct expm1_64 v = FN(expm1_parts64)(x, lowest, degree13);
    double scale = from_bits64(((uint64_t)(v.k + 1023)) << 52);
    double em = scale * v.p + (scale - 1.0);
    if (nans) return x < 0.0 ? propagate_nan64(alpha, alpha * em) : propagate_nan64(x, x);
    return x < 0.0 ? alpha * em : x;
}

/* float64 elu. Below -100, expm1 is -1 in double. */
static inline double FN(elu_f64_element)(double x, double alpha, int nans)
{
    return FN(elu_double)(x, alpha, nans, -100.0, 1);
}

DOUBLE_BLOCK(elu_f64)

/* float64 derivative: x > 0 ? 1 : alpha * exp(x), with alpha * exp(x) formed
 * as (alpha * (1+p)/2) * 2**a * 2**a * 2**c with a + a + c = k + 1, every
 * factor a normal number: no intermediate is subnormal while the result is
 * normal, so a large alpha keeps full accuracy where exp(x) alone would be
 * subnormal. */
static inline double FN(derivative_f64_element)(double x, double alpha, int nans)
{
    /* Below -1460, alpha * exp(x) < 2**-1075 for every finite alpha. */
    struct expm1_64 v = FN(expm1_parts64)(x, -1460.0, 1);
    double h = 0.5 * (1.0 + v.p);     /* exact halving: alpha * h cannot overflow */
    double kk = v.kf + 1.0;           /* in [-2105, 1] */
    double ta = kk * (1.0 / 3.0) + SHIFTER;
    int64_t a = (int64_t)(bits64(ta) - bits64(SHIFTER));
    int64_t c = (v.k + 1) - 2 * a;
    double sa = from_bits64(((uint64_t)(a + 1023)) << 52);
    double sc = from_bits64(((uint64_t)(c + 1023)) << 52);
    double m = ((alpha * h) * sa) * sa * sc;
    if (nans) m = propagate_nan64(x, propagate_nan64(alpha, m));
    return x > 0.0 ? 1.0 : m;
}

DOUBLE_BLOCK(derivative_f64)

/* float16 elu on float16 values held in double: the loop rounds the results
 * to float32, then float16. Below -104, expm1 is -1 after rounding to float32. */
static inline double FN(elu_f16_element)(double x, double alpha, int nans)
{
    return FN(elu_double)(x, alpha, nans, -104.0, 0);
}

DOUBLE_BLOCK(elu_f16)

/* float16 derivative, in double: alpha (a float32, <= 3.5e38) * exp(x >= -200)
 * and the scaling by 2**k (k >= -289) stay normal doubles; rounded by the loop
 * once to float32, then to float16. */
static inline double FN(derivative_f16_element)(double x, double alpha, int nans)
{
    struct expm1_64 v = FN(expm1_parts64)(x, -200.0, 0);
    double scale = from_bits64(((uint64_t)(v.k + 1023)) << 52);
    double m = (alpha * (1.0 + v.p)) * scale;
    if (nans) m = propagate_nan64(x, propagate_nan64(alpha, m));
    return x > 0.0 ? 1.0 : m;
}

DOUBLE_BLOCK(derivative_f16)

/* The float32 loops' shared steps. For xc in [-200, 0]: k's exponent bits
 * and p + pl = expm1(r + c), where r + c = xc - k*ln2 (c: the rounding error
 * of r, by Fast2Sum; k*LN2_HIF exact for |k| < 2**9), r + r*r/2 by Fast2Sum,
 * then r**3 times a degree-4 minimax polynomial (relative to expm1(r): 2**-29.8).
 * Written out apart from reduce64 on purpose: a macro over both types would hide
 * the arithmetic that the same-bits promise depends on. */
struct CAT(expm1_32, SUFFIX) {
    uint32_t kb;
    float p, pl;
};
#define expm1_32 CAT(expm1_32, SUFFIX)
static inline struct expm1_32 FN(expm1_parts32)(float xc)
{
    struct expm1_32 v;
    float t = xc * INV_LN2F + SHIFTERF;
    v.kb = bits32(t) - bits32(SHIFTERF);
    float kf = t - SHIFTERF;
    float hi = xc - kf * LN2_HIF; /* exact */
    float lo = kf * LN2_LOF;
    float r = hi - lo;
    float c = (hi - r) - lo;
    float h2 = (0.5f * r) * r; /* its rounding, < ulp(p)/16 */
    float q = 1.9824089e-4f;
    q = q * r + 1.3933348e-3f;
    q = q * r + 8.33342e-3f;
    q = q * r + 4.166648e-2f;
    q = q * r + 0.16666666f;
    float tail = (r * r) * (r * q);
    v.p = r + h2;
    v.pl = ((h2 - (v.p - r)) + tail) + (c + c * r);
    return v;
}

/* alpha * (e + el), rounded once: the exact products of 12-bit halves. */
static inline float FN(times_alpha32)(float a, float e, float el)
{
    float ah = split12(a), al = a - ah;
    float eh = split12(e), ee = e - eh;
    return ah * eh + ((((ah * ee + al * eh) + al * ee)) + a * el);
}

/* float32 inputs, every operation in float32 lanes (twice the lanes of
 * double, no conversions), carrying the low-order parts that one rounding
 * would lose:
 *   r + c = x - k*ln2        (c: the rounding error of r, by Fast2Sum)
 *   p + pl = expm1(r + c)    (r + r*r/2 by Fast2Sum, then r**3 times a
 *                             degree-4 minimax polynomial)
 *   e + el = 2**k * (p + pl) + (2**k - 1)   (both steps by Fast2Sum)
 * and alpha * (e + el) by the exact product of 12-bit halves (split with a
 * mask of the significand bits), so that the result is rounded once, up to
 * terms ~2**-24 of the low part. */
static inline void FN(elu_f32_body)(float *RESTRICT out, const float *RESTRICT in,
                                   const float *RESTRICT alpha, const int mode, npy_intp n,
                                   const int special)
{
    for (npy_intp i = 0; i < n; i++) {
        float x = in[i];
        const float a = alpha[mode == ALPHAS ? i : 0];
        /* Below -18, expm1 is -1 after rounding to float32 (alpha * it too). */
        float xc = x < -18.0f ? -18.0f : x;
        xc = xc > 0.0f ? 0.0f : xc;
        struct expm1_32 v = FN(expm1_parts32)(xc);
        uint32_t kb = v.kb;
        float p = v.p, pl = v.pl;
        float scale = from_bits32((kb + 127u) << 23);
        float s = scale - 1.0f;                     /* Fast2Sum(-1, scale) */
        float sl = scale - (s + 1.0f);
        float sp = scale * p;                       /* exact */
        float e = s + sp;                           /* Fast2Sum(s, sp): |s| >= |sp| or s = 0 */
        float el = ((sp - (e - s)) + sl) + scale * pl;
        float y = e + el; /* alpha 1 */
        if (mode != ALPHA_IS_1) {
            float ya = FN(times_alpha32)(a, e, el);
            if (special) {
                /* Tiny results (a tiny alpha or x): the halves' products could
                 * underflow; alpha 0 gives -0.0 here, as alpha * expm1(x) does
                 * (the sum above, +0.0). */
                ya = ya > -0x1p-100f ? a * (e + el) : ya;
            }
            y = mode == ALPHAS && a == 1.0f ? y : ya;
            if (special) y = propagate_nan32(a, y);
        }
        y = x < 0.0f ? y : x;
        out[i] = special ? quieted32(y) : y;
    }
}

/* The tiny-result and NaN selects (special) only in blocks that may need
 * them: elsewhere (alpha >= 2**-60, x <= -2**-39 or x >= 0, no NaN)
 * |y| >= 2**-100, which the tiny select keeps, so each element's bits are the
 * same either way. */
static void FN(elu_f32)(float *RESTRICT out, const float *RESTRICT in, const float *RESTRICT alpha,
                        npy_intp astep, npy_intp n)
{
    int special = 0;
    if (astep == 0 && alpha[0] == 1.0f) { /* no tiny results: the scan is for NaN alone */
        for (npy_intp i = 0; i < n; i++) special |= in[i] != in[i];
        if (special) {
            FN(elu_f32_body)(out, in, alpha, ALPHA_IS_1, n, 1);
        }
        else {
            FN(elu_f32_body)(out, in, alpha, ALPHA_IS_1, n, 0);
        }
        return;
    }
    for (npy_intp i = 0; i < n; i++) special |= !((in[i] <= -0x1p-39f) | (in[i] >= 0.0f));
    if (astep == 0) { /* one alpha: its halves are computed once */
        if (special | !(alpha[0] >= 0x1p-60f)) {
            FN(elu_f32_body)(out, in, alpha, ALPHA_SCALAR, n, 1);
        }
        else {
            FN(elu_f32_body)(out, in, alpha, ALPHA_SCALAR, n, 0);
        }
        return;
    }
    for (npy_intp i = 0; i < n; i++) special |= !(alpha[i] >= 0x1p-60f);
    if (special) {
        FN(elu_f32_body)(out, in, alpha, ALPHAS, n, 1);
    }
    else {
        FN(elu_f32_body)(out, in, alpha, ALPHAS, n, 0);
    }
}

/* alpha * exp(x) = alpha * 2**k * (1 + p + pl): (1 + p + pl)/2 as two floats,
 * times alpha as above (cannot overflow: the half), then times 2**(k+1) in
 * three exact steps 2**b1 * 2**b2 * 2**b3, every factor a normal float32 and
 * the last one the only one that can make the result subnormal: rounded once
 * where exp(x) alone is subnormal and alpha large. */
static inline void FN(derivative_f32_body)(float *RESTRICT out, const float *RESTRICT in,
                                          const float *RESTRICT alpha, const int mode,
                                          npy_intp n, const int tiny, const int deep)
{
    for (npy_intp i = 0; i < n; i++) {
        float x = in[i];
        const float a = alpha[mode == ALPHAS ? i : 0];
        /* Below -200, alpha * exp(x) < 2**-150 for every finite float32 alpha. */
        float xc = x < -200.0f ? -200.0f : x;
        xc = xc > 0.0f ? 0.0f : xc;
        struct expm1_32 v = FN(expm1_parts32)(xc);
        uint32_t kb = v.kb;
        float p = v.p, pl = v.pl;
        float e = 1.0f + p;                         /* Fast2Sum(1, p) */
        float el = (p - (e - 1.0f)) + pl;
        e = 0.5f * e;
        el = 0.5f * el;
        float m = e + el; /* alpha 1 */
        if (mode != ALPHA_IS_1) {
            float ma = FN(times_alpha32)(a, e, el);
            m = mode == ALPHAS && a == 1.0f ? m : ma;
        }
        /* b = k + 1 in [-288, 1] as b1 + b2 + b3, each in [-126, 1]. */
        /* Unsigned arithmetic: a NaN's k is any value, and must not overflow. */
        int32_t b = (int32_t)(kb + 1u);
        int32_t b3 = b < -126 ? -126 : b;
        float f3 = from_bits32(((uint32_t)b3 + 127u) << 23);
        if (deep) {
            int32_t rest = (int32_t)((uint32_t)b - (uint32_t)b3); /* [-162, 0] */
            int32_t b1 = rest < -126 ? -126 : rest;
            uint32_t b2 = (uint32_t)rest - (uint32_t)b1;          /* [-36, 0] */
            float f1 = from_bits32(((uint32_t)b1 + 127u) << 23);
            float f2 = from_bits32((b2 + 127u) << 23);
            m = ((m * f1) * f2) * f3;
        }
        else { /* every x >= -87: b >= -126, so f1 = f2 = 1, exactly */
            m = m * f3;
        }
        if (tiny && mode != ALPHA_IS_1) {
            /* alpha below 2**-100: the halves' products would underflow. The
             * result is 0 unless exp(x) >= 2**-50, where f1 = f2 = 1 and
             * (e + el) * f3 = exp(x) is normal: alpha * exp(x), rounded once. */
            float mt = a * ((e + el) * f3);
            /* |alpha|: a negative array alpha, applied as written, is not tiny. */
            m = (a < 0x1p-100f) & (a > -0x1p-100f) ? mt : m;
            m = propagate_nan32(a, m);
        }
        if (deep) m = propagate_nan32(x, m);
        out[i] = x > 0.0f ? 1.0f : m;
    }
}

/* The tiny-alpha select (and alpha's NaN select) only in blocks with a tiny or
 * NaN alpha, x's NaN select only with the three-step scaling (a NaN x asks for
 * it): each element's bits are the same either way (the selects keep m for
 * every other alpha and x). */
static void FN(derivative_f32)(float *RESTRICT out, const float *RESTRICT in,
                              const float *RESTRICT alpha, npy_intp astep, npy_intp n)
{
    int tiny = 0, deep = 0;
    if (astep == 0) { /* one alpha: its halves are computed once */
        /* The three-step scaling only in blocks that need it (an x below -87,
         * or NaN): elsewhere its first two factors are 1, the same bits. */
        for (npy_intp i = 0; i < n; i++) deep |= !(in[i] >= -87.0f);
        if (alpha[0] == 1.0f) {
            if (deep) {
                FN(derivative_f32_body)(out, in, alpha, ALPHA_IS_1, n, 0, 1);
            }
            else {
                FN(derivative_f32_body)(out, in, alpha, ALPHA_IS_1, n, 0, 0);
            }
        }
        else if (!((alpha[0] >= 0x1p-100f) | (alpha[0] <= -0x1p-100f))) {
            FN(derivative_f32_body)(out, in, alpha, ALPHA_SCALAR, n, 1, 1);
        }
        else if (deep) {
            FN(derivative_f32_body)(out, in, alpha, ALPHA_SCALAR, n, 0, 1);
        }
        else {
            FN(derivative_f32_body)(out, in, alpha, ALPHA_SCALAR, n, 0, 0);
        }
        return;
    }
    for (npy_intp i = 0; i < n; i++) tiny |= !((alpha[i] >= 0x1p-100f) | (alpha[i] <= -0x1p-100f));
    if (tiny) {
        FN(derivative_f32_body)(out, in, alpha, ALPHAS, n, 1, 1);
    }
    else {
        FN(derivative_f32_body)(out, in, alpha, ALPHAS, n, 0, 1);
    }
}

/* Loads and stores between the operands and the double scratch. */
static int FN(load_f32)(double *buf, const char *src, npy_intp step, npy_intp n)
{
    if (step == (npy_intp)sizeof(float)) {
        const float *s = (const float *)src;
        for (npy_intp i = 0; i < n; i++) buf[i] = (double)s[i];
    }
    else {
        for (npy_intp i = 0; i < n; i++) buf[i] = (double)*(const float *)(src + i * step);
    }
    int nans = 0;
    for (npy_intp i = 0; i < n; i++) nans |= buf[i] != buf[i];
    return nans;
}

/* The NaN test in the copy itself: the copy waits on memory, the test does not. */
static int FN(load_f64)(double *buf, const char *src, npy_intp step, npy_intp n)
{
    int nans = 0;
    if (step == (npy_intp)sizeof(double)) {
        const double *s = (const double *)src;
        for (npy_intp i = 0; i < n; i++) {
            buf[i] = s[i];
            nans |= s[i] != s[i];
        }
    }
    else {
        for (npy_intp i = 0; i < n; i++) {
            double v = *(const double *)(src + i * step);
            buf[i] = v;
            nans |= v != v;
        }
    }
    return nans;
}

static void FN(store_f64)(char *dst, npy_intp step, const double *buf, npy_intp n)
{
    if (step == (npy_intp)sizeof(double)) {
        double *d = (double *)dst;
        for (npy_intp i = 0; i < n; i++) d[i] = buf[i];
    }
    else {
        for (npy_intp i = 0; i < n; i++) *(double *)(dst + i * step) = buf[i];
    }
}

static const struct kernels FN(kernels) = {
    .f64 = {FN(elu_f64), FN(derivative_f64)},
    .f16 = {FN(elu_f16), FN(derivative_f16)},
    .f32 = {FN(elu_f32), FN(derivative_f32)},
    .load_f32 = FN(load_f32),
    .load_f64 = FN(load_f64),
    .store_f64 = FN(store_f64),
};

#undef DOUBLE_BLOCK
#undef reduced64
#undef expm1_64
#undef expm1_32
#undef FN
#undef CAT
#undef CAT_

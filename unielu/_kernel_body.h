/* The block kernels of unielu._ufuncs, included once per SIMD level.
 *
 * Before each inclusion _ufuncs.c defines SUFFIX (the level's name) and the
 * compiler's target for the functions below. Every function works on a
 * block of at most BLOCK doubles in local scratch, so the compiler sees no
 * aliasing and vectorizes each loop; the loops are branch-free (selects
 * only) and the file is compiled with floating-point contraction off, so
 * that every level, the vector body and the scalar remainder all perform
 * the same IEEE operations in the same order: the same bits everywhere.
 *
 * Method (x <= 0 only: the positive branch never needs exp):
 *   k = round(x / ln2), r = (x - k*LN2_HI) - k*LN2_LO   (Cody-Waite, |r| <= ln2/2)
 *   p = expm1(r) by its Taylor polynomial, evaluated as r + r*r*q(r)
 *   expm1(x) = 2**k * p + (2**k - 1),   exp(x) = 2**k * (1 + p)
 * with 2**k built from the exponent bits. float32 (and float16) inputs are
 * computed in double and rounded once to float32, which makes them correctly
 * rounded except within ~2**-30 ULP of a tie. */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, SUFFIX)

/* float64 elu on a block, in place: buf[i] = x < 0 ? alpha[i] * expm1(x) : x. */
static void FN(elu64)(double *RESTRICT buf, const double *RESTRICT alpha, npy_intp n)
{
    for (npy_intp i = 0; i < n; i++) {
        double x = buf[i];
        /* Below -100, expm1 is -1 in double. NaN passes both selects. */
        double xc = x < -100.0 ? -100.0 : x;
        xc = xc > 0.0 ? 0.0 : xc;
        double t = xc * INV_LN2 + SHIFTER;
        int64_t k = (int64_t)(bits64(t) - bits64(SHIFTER));
        double kf = t - SHIFTER;
        double r = (xc - kf * LN2_HI) - kf * LN2_LO;
        double q = 1.0 / 6227020800.0; /* 1/13! */
        q = q * r + 1.0 / 479001600.0;
        q = q * r + 1.0 / 39916800.0;
        q = q * r + 1.0 / 3628800.0;
        q = q * r + 1.0 / 362880.0;
        q = q * r + 1.0 / 40320.0;
        q = q * r + 1.0 / 5040.0;
        q = q * r + 1.0 / 720.0;
        q = q * r + 1.0 / 120.0;
        q = q * r + 1.0 / 24.0;
        q = q * r + 1.0 / 6.0;
        q = q * r + 0.5;
        double p = r + (r * r) * q;
        double scale = from_bits64(((uint64_t)(k + 1023)) << 52);
        double em = scale * p + (scale - 1.0);
        buf[i] = x < 0.0 ? alpha[i] * em : x;
    }
}

/* float64 derivative on a block, in place: x > 0 ? 1 : alpha[i] * exp(x).
 * alpha * exp(x) is formed as (alpha * (1+p)/2) * 2**a * 2**a * 2**c with
 * a + a + c = k + 1, every factor a normal number: no intermediate is
 * subnormal while the result is normal, so a large alpha keeps full accuracy
 * where exp(x) alone would be subnormal. */
static void FN(derivative64)(double *RESTRICT buf, const double *RESTRICT alpha, npy_intp n)
{
    for (npy_intp i = 0; i < n; i++) {
        double x = buf[i];
        /* Below -1460, alpha * exp(x) < 2**-1075 for every finite alpha. */
        double xc = x < -1460.0 ? -1460.0 : x;
        xc = xc > 0.0 ? 0.0 : xc;
        double t = xc * INV_LN2 + SHIFTER;
        int64_t k = (int64_t)(bits64(t) - bits64(SHIFTER));
        double kf = t - SHIFTER;
        double r = (xc - kf * LN2_HI) - kf * LN2_LO;
        double q = 1.0 / 6227020800.0;
        q = q * r + 1.0 / 479001600.0;
        q = q * r + 1.0 / 39916800.0;
        q = q * r + 1.0 / 3628800.0;
        q = q * r + 1.0 / 362880.0;
        q = q * r + 1.0 / 40320.0;
        q = q * r + 1.0 / 5040.0;
        q = q * r + 1.0 / 720.0;
        q = q * r + 1.0 / 120.0;
        q = q * r + 1.0 / 24.0;
        q = q * r + 1.0 / 6.0;
        q = q * r + 0.5;
        double p = r + (r * r) * q;
        double h = 0.5 * (1.0 + p);       /* exact halving: alpha * h cannot overflow */
        double kk = kf + 1.0;             /* in [-2105, 1] */
        double ta = kk * (1.0 / 3.0) + SHIFTER;
        int64_t a = (int64_t)(bits64(ta) - bits64(SHIFTER));
        int64_t c = (k + 1) - 2 * a;
        double sa = from_bits64(((uint64_t)(a + 1023)) << 52);
        double sc = from_bits64(((uint64_t)(c + 1023)) << 52);
        double m = ((alpha[i] * h) * sa) * sa * sc;
        buf[i] = x > 0.0 ? 1.0 : m;
    }
}

/* float32 elu on a block of float32 values held in double: the result is
 * rounded to float32 by the caller. Degree 9 is ample for float32. */
static void FN(elu32)(double *RESTRICT buf, const double *RESTRICT alpha, npy_intp n)
{
    for (npy_intp i = 0; i < n; i++) {
        double x = buf[i];
        /* Below -104, expm1 is -1 after rounding to float32. */
        double xc = x < -104.0 ? -104.0 : x;
        xc = xc > 0.0 ? 0.0 : xc;
        double t = xc * INV_LN2 + SHIFTER;
        int64_t k = (int64_t)(bits64(t) - bits64(SHIFTER));
        double kf = t - SHIFTER;
        double r = (xc - kf * LN2_HI) - kf * LN2_LO;
        double q = 1.0 / 3628800.0; /* 1/10! */
        q = q * r + 1.0 / 362880.0;
        q = q * r + 1.0 / 40320.0;
        q = q * r + 1.0 / 5040.0;
        q = q * r + 1.0 / 720.0;
        q = q * r + 1.0 / 120.0;
        q = q * r + 1.0 / 24.0;
        q = q * r + 1.0 / 6.0;
        q = q * r + 0.5;
        double p = r + (r * r) * q;
        double scale = from_bits64(((uint64_t)(k + 1023)) << 52);
        double em = scale * p + (scale - 1.0);
        buf[i] = x < 0.0 ? alpha[i] * em : x;
    }
}

/* float32 derivative, in double: alpha (<= 3.5e38) * exp(x >= -200) and the
 * scaling by 2**k (k >= -289) stay normal doubles; float32 rounds once. */
static void FN(derivative32)(double *RESTRICT buf, const double *RESTRICT alpha, npy_intp n)
{
    for (npy_intp i = 0; i < n; i++) {
        double x = buf[i];
        double xc = x < -200.0 ? -200.0 : x;
        xc = xc > 0.0 ? 0.0 : xc;
        double t = xc * INV_LN2 + SHIFTER;
        int64_t k = (int64_t)(bits64(t) - bits64(SHIFTER));
        double kf = t - SHIFTER;
        double r = (xc - kf * LN2_HI) - kf * LN2_LO;
        double q = 1.0 / 3628800.0;
        q = q * r + 1.0 / 362880.0;
        q = q * r + 1.0 / 40320.0;
        q = q * r + 1.0 / 5040.0;
        q = q * r + 1.0 / 720.0;
        q = q * r + 1.0 / 120.0;
        q = q * r + 1.0 / 24.0;
        q = q * r + 1.0 / 6.0;
        q = q * r + 0.5;
        double p = r + (r * r) * q;
        double scale = from_bits64(((uint64_t)(k + 1023)) << 52);
        double m = (alpha[i] * (1.0 + p)) * scale;
        buf[i] = x > 0.0 ? 1.0 : m;
    }
}


/* float32 inputs: the range reduction and the polynomial in float32 (twice
 * the lanes of double) where its rounding errors are damped: r's low part,
 * p = r + r*r*q(r), the scaling and the product with alpha in double, so
 * that the result is rounded to float32 once; q(r), a sixth of p at most, in
 * float32. Taylor to degree 8 (truncation below 2**-28 relative). */
static void FN(elu32f)(float *RESTRICT buf, const float *RESTRICT alpha, npy_intp n)
{
    for (npy_intp i = 0; i < n; i++) {
        float x = buf[i];
        /* Below -18, expm1 is -1 after rounding to float32. */
        float xc = x < -18.0f ? -18.0f : x;
        xc = xc > 0.0f ? 0.0f : xc;
        float t = xc * INV_LN2F + SHIFTERF;
        int32_t k = (int32_t)(bits32(t) - bits32(SHIFTERF));
        float kf = t - SHIFTERF;
        /* xc - kf * LN2_HIF is exact; the rest of the reduction in double. */
        double rd = (double)(xc - kf * LN2_HIF) - (double)kf * LN2_LOD;
        float r = (float)rd;
        float q = 1.0f / 40320.0f;
        q = q * r + 1.0f / 5040.0f;
        q = q * r + 1.0f / 720.0f;
        q = q * r + 1.0f / 120.0f;
        q = q * r + 1.0f / 24.0f;
        q = q * r + 1.0f / 6.0f;
        q = q * r + 0.5f;
        double p = rd + (rd * rd) * (double)q;
        double scale = (double)from_bits32(((uint32_t)(k + 127)) << 23);
        double em = scale * p + (scale - 1.0);
        float y = (float)((double)alpha[i] * em);
        buf[i] = x < 0.0f ? y : x;
    }
}

static void FN(derivative32f)(float *RESTRICT buf, const float *RESTRICT alpha, npy_intp n)
{
    for (npy_intp i = 0; i < n; i++) {
        float x = buf[i];
        /* Below -104, exp(x) < 2**-150: 2**k is a float32 no more, so the
         * scaling is in double, where alpha * exp(x >= -200) stays normal. */
        float xc = x < -200.0f ? -200.0f : x;
        xc = xc > 0.0f ? 0.0f : xc;
        float t = xc * INV_LN2F + SHIFTERF;
        int32_t k = (int32_t)(bits32(t) - bits32(SHIFTERF));
        float kf = t - SHIFTERF;
        /* xc - kf * LN2_HIF is exact; the rest of the reduction in double. */
        double rd = (double)(xc - kf * LN2_HIF) - (double)kf * LN2_LOD;
        float r = (float)rd;
        float q = 1.0f / 40320.0f;
        q = q * r + 1.0f / 5040.0f;
        q = q * r + 1.0f / 720.0f;
        q = q * r + 1.0f / 120.0f;
        q = q * r + 1.0f / 24.0f;
        q = q * r + 1.0f / 6.0f;
        q = q * r + 0.5f;
        double p = rd + (rd * rd) * (double)q;
        double scale = from_bits64(((uint64_t)(int64_t)(k + 1023)) << 52);
        float m = (float)(((double)alpha[i] * (1.0 + p)) * scale);
        buf[i] = x > 0.0f ? 1.0f : m;
    }
}

/* Loads and stores between the operands and the double scratch. */
static void FN(load32)(double *buf, const char *src, npy_intp step, npy_intp n)
{
    if (step == (npy_intp)sizeof(float)) {
        const float *s = (const float *)src;
        for (npy_intp i = 0; i < n; i++) buf[i] = (double)s[i];
    }
    else {
        for (npy_intp i = 0; i < n; i++) buf[i] = (double)*(const float *)(src + i * step);
    }
}

static void FN(store32)(char *dst, npy_intp step, const double *buf, npy_intp n)
{
    if (step == (npy_intp)sizeof(float)) {
        float *d = (float *)dst;
        for (npy_intp i = 0; i < n; i++) d[i] = (float)buf[i];
    }
    else {
        for (npy_intp i = 0; i < n; i++) *(float *)(dst + i * step) = (float)buf[i];
    }
}

static void FN(load64)(double *buf, const char *src, npy_intp step, npy_intp n)
{
    if (step == (npy_intp)sizeof(double)) {
        const double *s = (const double *)src;
        for (npy_intp i = 0; i < n; i++) buf[i] = s[i];
    }
    else {
        for (npy_intp i = 0; i < n; i++) buf[i] = *(const double *)(src + i * step);
    }
}

static void FN(store64)(char *dst, npy_intp step, const double *buf, npy_intp n)
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
    FN(elu64), FN(derivative64), FN(elu32), FN(derivative32), FN(elu32f), FN(derivative32f),
    FN(load32), FN(store32), FN(load64), FN(store64),
};

#undef FN
#undef CAT
#undef CAT_

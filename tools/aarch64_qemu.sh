#!/usr/bin/env bash
# unielu's NumPy tests on aarch64: the compiled kernel cross-built for aarch64 (its
# NEON level) and run by an arm64 Python under qemu user-mode emulation.
#
#   bash tools/aarch64_qemu.sh [PYTEST ARGS...]     (or: nox -s aarch64 -- [PYTEST ARGS...])
#
# PYTEST ARGS default to tests/test_kernel.py tests/test_numpy.py --backend=numpy -q, which
# include the digests recorded on x86-64 (test_the_bits_recorded_on_x86_64).
# Needs Debian 12 (bookworm) and root, once: apt installs qemu-user and the aarch64 cross
# compiler beside the host's own; the arm64 Python 3.11 comes from Debian's .debs, which are
# downloaded (never installed) and unpacked under $UNIELU_QEMU_DIR (default .qemu-aarch64/,
# about 200 MB), with aarch64 wheels of NumPy and the test tools from PyPI. Every step that
# is done already is skipped. The working tree is tested, uncommitted edits included.
# qemu emulates IEEE arithmetic in software: a check of the code, not of an ARM chip.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${UNIELU_QEMU_DIR:-$ROOT/.qemu-aarch64}
SYSROOT=$WORK/sysroot
HOSTPY=${PYTHON:-python3}  # runs pip download and unzips the wheels
mkdir -p "$WORK"
cd "$WORK"

# 1. Cross compiler and qemu, beside the host's own packages.
if ! command -v qemu-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null \
    || [ ! -e /usr/aarch64-linux-gnu/include/stdio.h ]; then
    apt-get install -y --no-install-recommends qemu-user gcc-aarch64-linux-gnu \
        libc6-dev-arm64-cross
fi

# 2. An arm64 Python 3.11 from Debian's packages, unpacked into a sysroot.
DEBS="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libpython3.11
 libpython3.11-dev python3.11-dev libc6 libexpat1 zlib1g libffi8 libssl3 libbz2-1.0
 liblzma5 libsqlite3-0 libuuid1 libncursesw6 libtinfo6 libreadline8 libgcc-s1 libstdc++6
 libcrypt1 libdb5.3 libgdbm6 libgdbm-compat4 libnsl2 libtirpc3 libgssapi-krb5-2 libkrb5-3
 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1"
if [ ! -e debs/.done ]; then
    mkdir -p debs
    added=0
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
        dpkg --add-architecture arm64  # for apt-get download; removed again below
        added=1
    fi
    apt-get update
    # shellcheck disable=SC2046
    (cd debs && apt-get download $(for p in $DEBS; do echo "$p:arm64"; done) media-types)
    if [ $added = 1 ]; then
        dpkg --remove-architecture arm64
        apt-get update >/dev/null
    fi
    touch debs/.done
fi
if [ ! -e "$SYSROOT/.done" ]; then
    mkdir -p "$SYSROOT"
    for deb in debs/*.deb; do dpkg -x "$deb" "$SYSROOT"; done
    touch "$SYSROOT/.done"
fi

# 3. aarch64 wheels of NumPy and the test tools, unzipped onto the emulated sys.path.
if [ ! -e site/.done ]; then
    rm -rf wheels site
    mkdir -p wheels site
    "$HOSTPY" -m pip download --only-binary=:all: \
        --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
        --platform manylinux_2_28_aarch64 --platform any \
        --python-version 3.11 --implementation cp --abi cp311 --abi none -d wheels \
        "numpy${NUMPY_SPEC:->=2}" pytest hypothesis mpmath array-api-compat array_api_strict \
        ml_dtypes packaging
    for wheel in wheels/*.whl; do "$HOSTPY" -m zipfile -e "$wheel" site; done
    touch site/.done
fi

# 4. The interpreter, emulated. qemu's -0 makes sys.executable this wrapper, so tests that
#    start sys.executable get an emulated interpreter too (no binfmt_misc needed).
mkdir -p bin
cat > bin/python3.11 <<WRAP
#!/bin/sh
export PYTHONHOME=$SYSROOT/usr
export PYTHONPATH="$WORK/site\${PYTHONPATH:+:\$PYTHONPATH}"
exec qemu-aarch64 -L $SYSROOT -0 $WORK/bin/python3.11 $SYSROOT/usr/bin/python3.11 "\$@"
WRAP
chmod +x bin/python3.11

# 5. The working tree, with the kernel cross-compiled as setup.py compiles it.
rm -rf src
mkdir -p src
tar -C "$ROOT" --exclude=./.git --exclude=./.nox --exclude=./build --exclude="./${WORK#"$ROOT"/}" \
    --exclude='*.egg-info' --exclude='*.so' --exclude=__pycache__ -cf - . | tar -x -C src
aarch64-linux-gnu-gcc -O3 -ffp-contract=off -fno-trapping-math -fno-math-errno -std=c99 \
    -shared -fPIC -DNPY_TARGET_VERSION=NPY_1_23_API_VERSION \
    -I"$SYSROOT/usr/include/python3.11" -I"$SYSROOT/usr/include" \
    -I"$WORK/site/numpy/_core/include" \
    -o src/unielu/_ufuncs.cpython-311-aarch64-linux-gnu.so src/unielu/_ufuncs.c

cd src
if [ $# -eq 0 ]; then
    set -- tests/test_kernel.py tests/test_numpy.py --backend=numpy -q
fi
"$WORK/bin/python3.11" -m unielu
exec "$WORK/bin/python3.11" -m pytest -p no:cacheprovider "$@"

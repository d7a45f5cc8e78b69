#!/usr/bin/env bash
# build.sh OUT_DIR: builds the emulated CUDA stack into OUT_DIR, a writable folder: the driver (libcuda.so.1) with
# the kernel build helpers in OUT_DIR, the toolkit libraries (libnvrtc.so.13, its libnvrtc-builtins.so.13.0,
# libcublas.so.13 and its libcublasLt.so.13) in OUT_DIR/toolkit, which is meant to be found through BALLAST_CUDA_LIB_DIRS, not the loader
# path, as NVRTC in a pip wheel or an unregistered toolkit is on a real machine; and NCCL (libnccl.so.2, fake_nccl.cpp) beside
# the driver, on the loader path like a system install. Needs g++ (C++20) and the CUDA headers of the
# local toolkit (/usr/local/cuda/include: cuda_fp16.h, cuda_bf16.h, vector_types.h).
set -euo pipefail
here="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)"
out="${1:?usage: build.sh OUT_DIR}"
mkdir -p "$out/toolkit"
out="$(cd "$out" && pwd)"
cp "$here/shim.h" "$here/gen_wrappers.py" "$here/build_kernel.sh" "$out/"
chmod +x "$out/build_kernel.sh"
CXX="${CXX:-g++}"
"$CXX" -std=c++20 -O2 -g -fPIC -shared -pthread -w "$here/fake_cuda.cpp" -o "$out/libcuda.so.1" -ldl
"$CXX" -std=c++20 -O2 -g -fPIC -shared -pthread -w "$here/fake_nvrtc.cpp" -o "$out/toolkit/libnvrtc.so.13" -ldl
echo 'extern "C" int fake_nvrtc_builtins_version() { return 13000; }' > "$out/toolkit/builtins.cpp"
"$CXX" -fPIC -shared -Wl,-soname,libnvrtc-builtins.so.13.0 "$out/toolkit/builtins.cpp" -o "$out/toolkit/libnvrtc-builtins.so.13.0"
rm "$out/toolkit/builtins.cpp"
# cuBLAS needs cublasLt, as the real one does (a DT_NEEDED entry, no RUNPATH): loaded by path from toolkit/, off the
# loader path, it loads only if Ballast loaded libcublasLt.so.13 from the same folder first.
echo 'extern "C" int fake_cublasLt_version() { return 130000; }' > "$out/toolkit/cublasLt.cpp"
"$CXX" -fPIC -shared -Wl,-soname,libcublasLt.so.13 "$out/toolkit/cublasLt.cpp" -o "$out/toolkit/libcublasLt.so.13"
rm "$out/toolkit/cublasLt.cpp"
"$CXX" -std=c++20 -O2 -g -fPIC -shared -pthread -w "$here/fake_cublas.cpp" -o "$out/toolkit/libcublas.so.13" -L"$out" -l:libcuda.so.1 \
    -Wl,--no-as-needed -L"$out/toolkit" -l:libcublasLt.so.13 -Wl,-rpath,"$out"
# NCCL sits beside the driver, on the loader path, where a system install puts it (Ballast finds libnccl.so.2 by soname).
"$CXX" -std=c++20 -O2 -g -fPIC -shared -pthread -w -Wl,-soname,libnccl.so.2 "$here/fake_nccl.cpp" -o "$out/libnccl.so.2" -L"$out" -l:libcuda.so.1 \
    -Wl,-rpath,"$out" -lrt
echo "built the emulated CUDA stack in $out"
echo "use: LD_LIBRARY_PATH=$out BALLAST_CUDA_LIB_DIRS=$out/toolkit FAKECUDA_HOME=$out FAKECUDA_BUILD=$out/kernels <command>"

/* The NVRTC and cuBLAS prototypes Ballast binds, as declared in nvrtc.h and cublas_api.h of CUDA 13.0
 * (identical in 12.x). Kept here because these machines have cuda.h but not those two headers; copied from
 * the shared binding checks (../shared/tools/fakecuda/checks/ffm_vs_headers.py) and extended with the functions
 * bound since. The _v2 names are what cublas_v2.h #defines the public names to, i.e. the exported symbols.
 * Add the prototype here when binding a new function: NativePrototypesTest fails for a symbol it cannot find. */
nvrtcResult NVRTC nvrtcVersion(int *major, int *minor);
nvrtcResult NVRTC nvrtcGetNumSupportedArchs(int *numArchs);
nvrtcResult NVRTC nvrtcGetSupportedArchs(int *supportedArchs);
nvrtcResult NVRTC nvrtcCreateProgram(nvrtcProgram *prog, const char *src, const char *name, int numHeaders, const char * const *headers, const char * const *includeNames);
nvrtcResult NVRTC nvrtcCompileProgram(nvrtcProgram prog, int numOptions, const char * const *options);
nvrtcResult NVRTC nvrtcGetProgramLogSize(nvrtcProgram prog, size_t *logSizeRet);
nvrtcResult NVRTC nvrtcGetProgramLog(nvrtcProgram prog, char *log);
nvrtcResult NVRTC nvrtcGetCUBINSize(nvrtcProgram prog, size_t *cubinSizeRet);
nvrtcResult NVRTC nvrtcGetCUBIN(nvrtcProgram prog, char *cubin);
nvrtcResult NVRTC nvrtcGetPTXSize(nvrtcProgram prog, size_t *ptxSizeRet);
nvrtcResult NVRTC nvrtcGetPTX(nvrtcProgram prog, char *ptx);
nvrtcResult NVRTC nvrtcDestroyProgram(nvrtcProgram *prog);
const char * NVRTC nvrtcGetErrorString(nvrtcResult result);
cublasStatus_t CUBLASWINAPI cublasCreate_v2(cublasHandle_t *handle);
cublasStatus_t CUBLASWINAPI cublasDestroy_v2(cublasHandle_t handle);
cublasStatus_t CUBLASWINAPI cublasSetStream_v2(cublasHandle_t handle, cudaStream_t streamId);
cublasStatus_t CUBLASWINAPI cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t workspaceSizeInBytes);
cublasStatus_t CUBLASWINAPI cublasGetVersion_v2(cublasHandle_t handle, int *version);
cublasStatus_t CUBLASWINAPI cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode);
cublasStatus_t CUBLASWINAPI cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda, const void *B, cudaDataType Btype, int ldb, const void *beta, void *C, cudaDataType Ctype, int ldc, cublasComputeType_t computeType, cublasGemmAlgo_t algo);
cublasStatus_t CUBLASWINAPI cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb, int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype, int lda, long long int strideA, const void *B, cudaDataType Btype, int ldb, long long int strideB, const void *beta, void *C, cudaDataType Ctype, int ldc, long long int strideC, int batchCount, cublasComputeType_t computeType, cublasGemmAlgo_t algo);

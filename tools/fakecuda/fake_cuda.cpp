// A fake libcuda.so.1 for running Ballast's CUDA backend on a machine without a GPU. "Device" memory is
// host memory; kernels come from fake NVRTC "cubins" that name a host .so built from the .cu source
// (shim.h + gen_wrappers.py) and run on one worker thread (each CUDA thread of a block a fiber). It checks what a real driver would reject:
// a current context on the calling thread, pointer ranges of copies, kernel argument packing (each
// kernelParams[i] at the offset LaunchArgs would use for the kernel's real parameter types), launch
// limits, and calls that are illegal during stream capture (thread-local mode).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <map>
#include <set>
#include <mutex>
#include <vector>
#include <thread>
#include <string>
#include <functional>
#include <atomic>
#include <condition_variable>
#include <dlfcn.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <algorithm>
typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum { OK = 0, INVALID_VALUE = 1, OOM = 2, NOT_INIT = 3, INVALID_CONTEXT = 201, INVALID_IMAGE = 200, NOT_FOUND = 500,
       INVALID_HANDLE = 400, LAUNCH_OUT_OF_RESOURCES = 701, CAPTURE_UNSUPPORTED = 900, CAPTURE_INVALIDATED = 901,
       ILLEGAL_ADDRESS = 700, INVALID_PTX = 218 };
static int g_ctx_token;                       // the one primary context
static thread_local void* t_current = nullptr;
static std::mutex g_mu;
static std::map<uintptr_t, size_t> g_allocs;  // device allocations
static std::map<uintptr_t, size_t> g_hostpinned;
static bool g_verbose = getenv("FAKECUDA_VERBOSE") != nullptr;
static long g_launches = 0;
// Names of the kernels launched by this process, appended at exit to $FAKECUDA_LAUNCHED when set, so a test run
// can say which kernels (and so which argument packings) it exercised.
static std::set<std::string> g_launched;
static struct LaunchReport {
    ~LaunchReport() {
        const char* path = getenv("FAKECUDA_LAUNCHED");
        if (!path) return;
        if (FILE* f = fopen(path, "a")) { for (auto& n : g_launched) fprintf(f, "%s\n", n.c_str()); fclose(f); }
    }
} g_launch_report;
static void fail(const char* what) { fprintf(stderr, "[fakecuda] %s\n", what); fflush(stderr); }
#define NEED_CTX() do { if (t_current != &g_ctx_token) { fprintf(stderr, "[fakecuda] %s called with no current context on thread %lu\n", __func__, (unsigned long)pthread_self()); return INVALID_CONTEXT; } } while (0)

static bool in_device(uintptr_t p, size_t n) {
    std::lock_guard<std::mutex> l(g_mu);
    auto it = g_allocs.upper_bound(p);
    if (it == g_allocs.begin()) return false;
    --it;
    return p >= it->first && p + n <= it->first + it->second;
}
static bool is_pinned(const void* p) {
    std::lock_guard<std::mutex> l(g_mu);
    auto it = g_hostpinned.upper_bound((uintptr_t)p);
    if (it == g_hostpinned.begin()) return false;
    --it;
    return (uintptr_t)p < it->first + it->second;
}

struct Op { std::function<void()> run; };
struct Stream { bool capturing = false; std::vector<Op>* graph = nullptr; };
struct Graph { std::vector<Op> ops; };

extern "C" {
CUresult cuInit(unsigned flags) { return flags == 0 ? OK : INVALID_VALUE; }
CUresult cuDriverGetVersion(int* v) { *v = 13000; return OK; }
CUresult cuDeviceGetCount(int* c) { *c = 1; return OK; }
CUresult cuDeviceGet(int* d, int ord) { if (ord != 0) return 101; *d = 0; return OK; }
CUresult cuDeviceGetName(char* name, int len, int dev) { snprintf(name, len, "Fake CUDA device (CPU threads)"); return OK; }
CUresult cuDeviceGetAttribute(int* v, int attr, int dev) {
    switch (attr) {
        case 16: *v = atoi(getenv("FAKECUDA_SMS") ? getenv("FAKECUDA_SMS") : "1"); return OK;  // multiprocessors
        // compute capability: FAKECUDA_CC=7.0 plays an old card (default 9.0, an H100/H200)
        case 75: *v = atoi(getenv("FAKECUDA_CC") ? getenv("FAKECUDA_CC") : "9.0"); return OK;
        case 76: { const char* cc = getenv("FAKECUDA_CC"); const char* dot = cc ? strchr(cc, '.') : nullptr; *v = dot ? atoi(dot + 1) : 0; return OK; }
        case 1: *v = 1024; return OK;  // max threads per block
        default: *v = 0; return OK;
    }
}
CUresult cuDeviceTotalMem_v2(size_t* b, int dev) { *b = 8ull << 30; return OK; }
CUresult cuDevicePrimaryCtxRetain(void** ctx, int dev) { *ctx = &g_ctx_token; return OK; }
CUresult cuCtxSetCurrent(void* ctx) { if (ctx && ctx != &g_ctx_token) return INVALID_CONTEXT; t_current = ctx; return OK; }
CUresult cuGetErrorName(int e, const char** s) {
    switch (e) {
        case 0: *s = "CUDA_SUCCESS"; return OK; case 1: *s = "CUDA_ERROR_INVALID_VALUE"; return OK;
        case 2: *s = "CUDA_ERROR_OUT_OF_MEMORY"; return OK; case 201: *s = "CUDA_ERROR_INVALID_CONTEXT"; return OK;
        case 400: *s = "CUDA_ERROR_INVALID_HANDLE"; return OK; case 500: *s = "CUDA_ERROR_NOT_FOUND"; return OK;
        case 700: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; return OK; case 701: *s = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"; return OK;
        case 900: *s = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; return OK; case 901: *s = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"; return OK;
        case 200: *s = "CUDA_ERROR_INVALID_IMAGE"; return OK;
        default: *s = nullptr; return INVALID_VALUE;
    }
}
CUresult cuMemGetInfo_v2(size_t* f, size_t* t) { NEED_CTX(); *f = 4ull << 30; *t = 8ull << 30; return OK; }

static std::atomic<int> g_capturing_streams{0};
CUresult cuStreamCreate(void** s, unsigned flags) { NEED_CTX(); *s = new Stream(); return OK; }
CUresult cuStreamSynchronize(void* s) { NEED_CTX(); if (s && ((Stream*)s)->capturing) { fail("cuStreamSynchronize during capture"); return CAPTURE_UNSUPPORTED; } return OK; }
CUresult cuStreamDestroy_v2(void* s) { NEED_CTX(); delete (Stream*)s; return OK; }
CUresult cuEventCreate(void** e, unsigned f) { NEED_CTX(); *e = new int(0); return OK; }
CUresult cuEventRecord(void* e, void* s) { NEED_CTX(); return OK; }
CUresult cuEventSynchronize(void* e) { NEED_CTX(); return OK; }
CUresult cuEventElapsedTime_v2(float* ms, void* a, void* b) { NEED_CTX(); *ms = 0.001f; return OK; }
CUresult cuEventElapsedTime(float* ms, void* a, void* b) { return cuEventElapsedTime_v2(ms, a, b); }
CUresult cuEventDestroy_v2(void* e) { NEED_CTX(); delete (int*)e; return OK; }

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t n) {
    NEED_CTX();
    if (g_capturing_streams.load()) { fail("cuMemAlloc during stream capture (prohibited in thread-local/global capture mode)"); return CAPTURE_UNSUPPORTED; }
    if (n == 0) return INVALID_VALUE;
    void* m = aligned_alloc(256, (n + 255) / 256 * 256);
    if (!m) return OOM;
    memset(m, 0xCD, n); // garbage, as fresh device memory may hold
    std::lock_guard<std::mutex> l(g_mu);
    g_allocs[(uintptr_t)m] = n;
    *p = (CUdeviceptr)m;
    return OK;
}
CUresult cuMemFree_v2(CUdeviceptr p) {
    NEED_CTX();
    std::lock_guard<std::mutex> l(g_mu);
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) return INVALID_VALUE;
    g_allocs.erase(it);
    free((void*)p);
    return OK;
}
CUresult cuMemAllocHost_v2(void** p, size_t n) { NEED_CTX(); *p = aligned_alloc(4096, (n + 4095) / 4096 * 4096); std::lock_guard<std::mutex> l(g_mu); g_hostpinned[(uintptr_t)*p] = n; return OK; }
CUresult cuMemFreeHost(void* p) { NEED_CTX(); std::lock_guard<std::mutex> l(g_mu); g_hostpinned.erase((uintptr_t)p); free(p); return OK; }

static CUresult enqueue(void* s, std::function<void()> f, bool pageableHost) {
    Stream* st = (Stream*)s;
    if (st && st->capturing) {
        if (pageableHost) { fail("memcpy with pageable host memory during stream capture"); return CAPTURE_UNSUPPORTED; }
        st->graph->push_back({f});
        return OK;
    }
    f();
    return OK;
}
// For the fake cuBLAS: work queued on a stream (recorded while capturing), and whether a stream is capturing.
int fakecuda_stream_capturing(void* s) { return s && ((Stream*)s)->capturing ? 1 : 0; }
int fakecuda_enqueue(void* s, void (*fn)(void*), void* arg) { return enqueue(s, [=] { fn(arg); }, false); }
// For the fake NCCL: whether [p, p + n) lies in one device allocation, and whether this thread has a current context.
int fakecuda_in_device(unsigned long long p, size_t n) { return in_device((uintptr_t)p, n) ? 1 : 0; }
int fakecuda_has_context() { return t_current == &g_ctx_token ? 1 : 0; }
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* h, size_t n, void* s) {
    NEED_CTX();
    if (!in_device(d, n)) { fail("HtoD destination outside any allocation"); return INVALID_VALUE; }
    return enqueue(s, [=] { memcpy((void*)d, h, n); }, !is_pinned(h));
}
CUresult cuMemcpyDtoHAsync_v2(void* h, CUdeviceptr d, size_t n, void* s) {
    NEED_CTX();
    if (!in_device(d, n)) { fail("DtoH source outside any allocation"); return INVALID_VALUE; }
    return enqueue(s, [=] { memcpy(h, (void*)d, n); }, !is_pinned(h));
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr sr, size_t n, void* s) {
    NEED_CTX();
    if (!in_device(d, n) || !in_device(sr, n)) { fail("DtoD range outside any allocation"); return INVALID_VALUE; }
    return enqueue(s, [=] { memmove((void*)d, (void*)sr, n); }, false);
}
CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void* s) {
    NEED_CTX();
    if (!in_device(d, n)) { fail("memset range outside any allocation"); return INVALID_VALUE; }
    return enqueue(s, [=] { memset((void*)d, v, n); }, false);
}

// ---- modules: "cubin" = "BLFAKE\n<path of .so>\n"
struct Module { void* so; };
struct Function { std::string name; void (*launch)(void**); int n; const long* sizes; const long* aligns; };
CUresult cuModuleLoadData(void** mod, const void* image) {
    NEED_CTX();
    const char* s = (const char*)image;
    if (strncmp(s, "BLFAKE\n", 7) != 0) return INVALID_IMAGE;
    std::string path(s + 7); path = path.substr(0, path.find('\n'));
    void* so = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!so) { fprintf(stderr, "[fakecuda] dlopen %s: %s\n", path.c_str(), dlerror()); return INVALID_IMAGE; }
    *mod = new Module{so};
    return OK;
}
CUresult cuModuleGetFunction(void** fn, void* mod, const char* name) {
    NEED_CTX();
    Module* m = (Module*)mod;
    std::string n(name);
    auto l = (void (*)(void**))dlsym(m->so, ("__bl_launch_" + n).c_str());
    if (!l) return NOT_FOUND;
    *fn = new Function{n, l, *(const int*)dlsym(m->so, ("__bl_nparams_" + n).c_str()),
                       (const long*)dlsym(m->so, ("__bl_sizes_" + n).c_str()), (const long*)dlsym(m->so, ("__bl_aligns_" + n).c_str())};
    return OK;
}
CUresult cuModuleUnload(void* mod) { NEED_CTX(); return OK; }

// ---- execution of one launch: the CUDA threads of a block as fibers on one OS thread
}
// A block's CUDA threads run as fibers (ucontext) on one worker thread: each runs until it reaches a barrier
// (__syncthreads, or a warp exchange) and yields; the scheduler resumes them round-robin, so a barrier costs two
// user-space switches per thread instead of waking hundreds of OS threads, and a kernel without barriers runs
// thread after thread with no switch at all. Blocks run one after another (__shared__ is a static). One OS thread
// per launch, whatever the block size: the emulator takes one core, and its memory model has no races at all.
struct BlDim { unsigned x, y, z; };
struct BlCtx { BlDim tid, bid, bdim, gdim; };
// Switching between fibers: on x86-64 a few instructions that save the callee-saved registers and the floating
// point control words on the old stack and restore them from the new one (glibc's swapcontext makes a
// sigprocmask system call on every switch, which cost more than most kernels); elsewhere ucontext.
#if defined(__x86_64__)
extern "C" void bl_switch(void** save_sp, void* load_sp);
asm(R"(
    .text
    .globl bl_switch
    .hidden bl_switch
    .type bl_switch,@function
bl_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size bl_switch,.-bl_switch
)");
struct FiberCtx { void* sp = nullptr; };
static void fiber_main();
static void fiber_entry() { fiber_main(); __builtin_trap(); /* fiber_main never returns */ }
static void fiber_start(FiberCtx& c, char* stack, size_t size) {
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    uint64_t* sp = (uint64_t*)top;
    *--sp = 0;                          // fiber_entry's own return address (never used); keeps the ABI alignment
    *--sp = (uint64_t)(void*)fiber_entry; // where bl_switch's ret goes
    for (int r = 0; r < 6; r++) *--sp = 0; // rbp rbx r12 r13 r14 r15
    *--sp = 0x037F00001F80ull;          // MXCSR (low 4 bytes) and the x87 control word (at +4): the defaults
    c.sp = sp;
}
static void fiber_switch(FiberCtx& from, FiberCtx& to) { bl_switch(&from.sp, to.sp); }
#else
struct FiberCtx { ucontext_t uc; };
static void fiber_main();
static void fiber_start(FiberCtx& c, char* stack, size_t size) {
    getcontext(&c.uc);
    c.uc.uc_stack.ss_sp = stack;
    c.uc.uc_stack.ss_size = size;
    c.uc.uc_link = nullptr;
    makecontext(&c.uc, fiber_main, 0);
}
static void fiber_switch(FiberCtx& from, FiberCtx& to) { swapcontext(&from.uc, &to.uc); }
#endif
struct Fiber {
    FiberCtx ctx;
    BlCtx bl;
    long syncs = 0;
    bool done = false;
    char* stack = nullptr;
};
static const size_t FIBER_STACK = 256 << 10; // the kernels keep small locals; a guard page below catches overflow
struct FiberBarrier {
    unsigned count, arrived = 0;
    unsigned long generation = 0;
};
static FiberCtx g_sched;
static std::vector<Fiber> g_fibers;
static Fiber* g_cur;
static unsigned long g_events;  // barrier releases and finished threads: the scheduler's progress counter
static void (*g_fn)(void**);
static void** g_params;
static FiberBarrier g_block_barrier;
static std::vector<FiberBarrier> g_warp_barriers;
static std::vector<uint64_t> g_warpbuf; // 32 slots per warp
extern "C" BlCtx* bl_ctx() { return &g_cur->bl; }
static void fiber_wait(FiberBarrier& b) {
    unsigned long g = b.generation;
    if (++b.arrived == b.count) {
        b.arrived = 0;
        b.generation++;
        g_events++;
        return;
    }
    while (b.generation == g) fiber_switch(g_cur->ctx, g_sched);
}
extern "C" void bl_syncthreads() { g_cur->syncs++; fiber_wait(g_block_barrier); }
extern "C" void bl_warp_exchange(const void* in, void* out, int srcLane, int bytes) {
    int w = g_cur->bl.tid.x >> 5, lane = g_cur->bl.tid.x & 31;
    uint64_t* buf = &g_warpbuf[w * 32];
    memcpy(&buf[lane], in, bytes);
    fiber_wait(g_warp_barriers[w]);
    memcpy(out, &buf[srcLane], bytes);
    fiber_wait(g_warp_barriers[w]);
}
// A CUDA thread: runs the kernel, then hands control back for good (its stack is reused by the next block).
static void fiber_main() {
    g_fn(g_params);
    g_cur->done = true;
    g_events++;
    fiber_switch(g_cur->ctx, g_sched);
    __builtin_trap(); // a finished fiber is never resumed
}
// Runs every block; false when the threads of a block wait at barriers none of the others will reach.
static bool run_blocks(Function* f, unsigned gx, unsigned bx, void** params) {
    if (g_fibers.size() < bx) g_fibers.resize(bx);
    for (auto& fb : g_fibers) {
        if (fb.stack) continue;
        fb.stack = (char*)mmap(nullptr, FIBER_STACK + 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (fb.stack == MAP_FAILED) { fprintf(stderr, "[fakecuda] no memory for fiber stacks\n"); abort(); }
        mprotect(fb.stack, 4096, PROT_NONE);
    }
    g_fn = f->launch; g_params = params;
    g_block_barrier = FiberBarrier{bx};
    unsigned nw = (bx + 31) / 32;
    g_warp_barriers.assign(nw, FiberBarrier{0});
    for (unsigned w = 0; w < nw; w++) g_warp_barriers[w].count = std::min(32u, bx - 32 * w);
    g_warpbuf.assign(nw * 32, 0);
    for (unsigned b = 0; b < gx; b++) {
        for (unsigned t = 0; t < bx; t++) {
            Fiber& fb = g_fibers[t];
            fb.bl = {{t, 0, 0}, {b, 0, 0}, {bx, 1, 1}, {gx, 1, 1}};
            fb.syncs = 0; fb.done = false;
            fiber_start(fb.ctx, fb.stack + 4096, FIBER_STACK);
        }
        unsigned left = bx;
        while (left > 0) {
            unsigned long before = g_events;
            for (unsigned t = 0; t < bx; t++) {
                if (g_fibers[t].done) continue;
                g_cur = &g_fibers[t];
                fiber_switch(g_sched, g_cur->ctx);
                if (g_cur->done) left--;
            }
            if (left > 0 && g_events == before) {
                long most = 0; unsigned who = 0;
                for (unsigned t = 0; t < bx; t++) if (g_fibers[t].syncs > most) { most = g_fibers[t].syncs; who = t; }
                fprintf(stderr, "[fakecuda] kernel %s block %u: %u threads wait at a barrier the others never reach"
                        " (thread %u passed %ld __syncthreads, thread 0 %ld): divergent barrier\n",
                        f->name.c_str(), b, left, who, most, g_fibers[0].syncs);
                return false;
            }
        }
        for (unsigned u = 1; u < bx; u++) if (g_fibers[u].syncs != g_fibers[0].syncs) {
            fprintf(stderr, "[fakecuda] kernel %s block %u: thread %u passed %ld __syncthreads, thread 0 %ld (divergent barrier)\n",
                    f->name.c_str(), b, u, g_fibers[u].syncs, g_fibers[0].syncs);
            break;
        }
    }
    return true;
}
// The one worker thread that runs launches (started once; fibers are kept off the JVM's own threads).
struct Worker {
    std::mutex mu;
    std::condition_variable wake, finished;
    std::function<void()> job;
    bool busy = false;
    Worker() { std::thread([this] { loop(); }).detach(); }
    void loop() {
        for (;;) {
            std::function<void()> j;
            {
                std::unique_lock<std::mutex> l(mu);
                wake.wait(l, [&] { return (bool)job; });
                j = std::move(job);
                job = nullptr;
            }
            j();
            std::lock_guard<std::mutex> l(mu);
            busy = false;
            finished.notify_all();
        }
    }
    void run(std::function<void()> f) {
        std::unique_lock<std::mutex> l(mu);
        finished.wait(l, [&] { return !busy; });
        job = std::move(f); busy = true;
        wake.notify_all();
        finished.wait(l, [&] { return !busy; });
    }
};
static Worker* g_worker = new Worker();
static std::mutex g_launch_mu;
static void run_grid(Function* f, unsigned gx, unsigned bx, std::vector<std::vector<char>> args) {
    std::lock_guard<std::mutex> l(g_launch_mu);
    std::vector<void*> ptrs;
    for (auto& a : args) ptrs.push_back(a.data());
    bool ok = true;
    g_worker->run([&] { ok = run_blocks(f, gx, bx, ptrs.data()); });
    if (!ok) abort(); // a real GPU hangs on a divergent barrier; say so and stop rather than hang
}
extern "C" CUresult cuLaunchKernel(void* fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                                   unsigned shmem, void* stream, void** params, void** extra) {
    NEED_CTX();
    Function* f = (Function*)fn;
    if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) { fail("zero grid/block dimension"); return INVALID_VALUE; }
    if (gx > 2147483647u || gy > 65535 || gz > 65535 || bx * by * bz > 1024 || bz > 64) { fail("grid/block over the limits"); return INVALID_VALUE; }
    if (gy != 1 || gz != 1 || by != 1 || bz != 1) { fail("fake runs 1-D launches only"); return INVALID_VALUE; }
    if (bx % 32) fprintf(stderr, "[fakecuda] %s: block of %u threads is not a whole number of warps\n", f->name.c_str(), bx);
    if (!params) { fail("kernelParams is NULL"); return INVALID_VALUE; }
    // Packing check: LaunchArgs puts argument i at align_up(end of i-1, align_i) in one buffer.
    std::vector<std::vector<char>> args;
    for (int i = 0; i < f->n; i++) {
        if (((uintptr_t)params[i] % f->aligns[i]) != 0) {
            fprintf(stderr, "[fakecuda] %s: kernelParams[%d] %p not aligned to %ld\n", f->name.c_str(), i, params[i], f->aligns[i]);
            return INVALID_VALUE;
        }
        if (i > 0) {
            uintptr_t want = (uintptr_t)params[i - 1] + f->sizes[i - 1];
            want = (want + f->aligns[i] - 1) / f->aligns[i] * f->aligns[i];
            if ((uintptr_t)params[i] != want) {
                fprintf(stderr, "[fakecuda] %s: kernelParams[%d] at +%ld from the previous argument; the kernel's parameter %d is %ld bytes, so expected +%ld (Java packs a different type/count)\n",
                        f->name.c_str(), i, (long)((uintptr_t)params[i] - (uintptr_t)params[i - 1]), i - 1, f->sizes[i - 1], (long)(want - (uintptr_t)params[i - 1]));
                return INVALID_VALUE;
            }
        }
        args.emplace_back((char*)params[i], (char*)params[i] + f->sizes[i]);
    }
    g_launches++;
    { std::lock_guard<std::mutex> l(g_mu); g_launched.insert(f->name); }
    if (g_verbose) fprintf(stderr, "[fakecuda] launch %s grid %u block %u\n", f->name.c_str(), gx, bx);
    return enqueue(stream, [=] { run_grid(f, gx, bx, args); }, false);
}

// ---- graphs
extern "C" CUresult cuStreamBeginCapture_v2(void* s, int mode) {
    NEED_CTX();
    Stream* st = (Stream*)s;
    if (!st) { fail("capture on the legacy default stream"); return 906; }
    st->capturing = true; st->graph = new std::vector<Op>(); g_capturing_streams++;
    return OK;
}
extern "C" CUresult cuStreamEndCapture(void* s, void** g) {
    NEED_CTX();
    Stream* st = (Stream*)s;
    if (!st->capturing) return INVALID_VALUE;
    st->capturing = false; g_capturing_streams--;
    *g = new Graph{*st->graph}; delete st->graph; st->graph = nullptr;
    return OK;
}
extern "C" CUresult cuGraphInstantiateWithFlags(void** exec, void* g, unsigned long long flags) { NEED_CTX(); *exec = new Graph(*(Graph*)g); return OK; }
extern "C" CUresult cuGraphLaunch(void* exec, void* s) { NEED_CTX(); for (auto& op : ((Graph*)exec)->ops) op.run(); return OK; }
extern "C" CUresult cuGraphExecDestroy(void* e) { NEED_CTX(); delete (Graph*)e; return OK; }
extern "C" CUresult cuGraphDestroy(void* g) { NEED_CTX(); delete (Graph*)g; return OK; }

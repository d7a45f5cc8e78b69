// A stand-in for libnccl.so.2 on the emulated CUDA device: the calls Ballast's NCCL communicator binds
// (ncclGetUniqueId, ncclCommInitRank, ncclAllReduce, ncclBroadcast, ncclCommDestroy, ncclCommAbort,
// ncclGetErrorString, ncclGetVersion) plus ncclGetLastError, ncclCommCount, ncclCommUserRank and no-op
// ncclGroupStart/End. The ranks of one communicator meet in a POSIX shared-memory object named by the unique id, so
// they may be processes (one per rank, as under mpirun) or threads of one process. A collective is queued on the
// stream through the fake driver (so it runs in stream order, and is recorded while the stream is being captured);
// each rank copies its chunk into its own slot, waits at a barrier, reduces the slots in rank order (every rank
// computes the same sums) and waits again. It checks what real NCCL rejects: bad ranks, types, ops and roots, buffers
// outside device allocations, no current CUDA context; a peer that never comes fails the call after
// FAKENCCL_TIMEOUT_S seconds (default 60) instead of hanging, and ncclCommAbort on one rank fails the others' waits.
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" int fakecuda_enqueue(void* stream, void (*fn)(void*), void* arg);
extern "C" int fakecuda_stream_capturing(void* stream);
extern "C" int fakecuda_in_device(unsigned long long p, size_t n);
extern "C" int fakecuda_has_context();

typedef int ncclResult_t;
enum { ncclSuccess = 0, ncclUnhandledCudaError = 1, ncclSystemError = 2, ncclInternalError = 3, ncclInvalidArgument = 4,
       ncclInvalidUsage = 5, ncclRemoteError = 6 };
enum { ncclInt8, ncclUint8, ncclInt32, ncclUint32, ncclInt64, ncclUint64, ncclFloat16, ncclFloat32, ncclFloat64, ncclBfloat16, ncclNumTypes };
enum { ncclSum, ncclProd, ncclMax, ncclMin, ncclAvg, ncclNumOps };
struct ncclUniqueId { char internal[128]; };

static const char MAGIC[] = "ballast-fakenccl:";
static const size_t SLOT = 1 << 20;     // bytes per rank and round
static const size_t HEADER = 4096;
static thread_local char t_last_error[512];

static void set_error(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last_error, sizeof t_last_error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "[fakenccl] %s\n", t_last_error);
    fflush(stderr);
}

struct Shared {
    std::atomic<int> joined, left, aborted;
    std::atomic<unsigned> arrived, generation;
};

struct Comm {
    char name[100];
    int nranks, rank;
    unsigned char* base;  // mapping: Shared header, then nranks slots of SLOT bytes
    size_t bytes;
    bool destroyed;
    Shared* shared() { return (Shared*)base; }
    unsigned char* slot(int r) { return base + HEADER + (size_t)r * SLOT; }
};

static double timeout_s() {
    const char* v = getenv("FAKENCCL_TIMEOUT_S");
    double t = v ? atof(v) : 60;
    return t > 0 ? t : 60;
}

static double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Waits until `done` holds; false after the timeout or when a rank aborted the communicator.
template <class F> static bool wait_for(Comm* c, F done, const char* what) {
    double deadline = now_s() + timeout_s();
    for (int spins = 0; !done(); spins++) {
        if (c->shared()->aborted.load()) { set_error("%s: a rank aborted the communicator", what); return false; }
        if (spins < 100) { sched_yield(); continue; }
        if (now_s() > deadline) {
            set_error("%s: rank %d of %d waited %.0f s for the other ranks (FAKENCCL_TIMEOUT_S)", what, c->rank, c->nranks, timeout_s());
            return false;
        }
        timespec ts{0, 20000};
        nanosleep(&ts, nullptr);
    }
    return true;
}

static bool barrier(Comm* c, const char* what) {
    Shared* s = c->shared();
    unsigned gen = s->generation.load();
    if (s->arrived.fetch_add(1) + 1 == (unsigned)c->nranks) {
        s->arrived.store(0);
        s->generation.fetch_add(1);
        return true;
    }
    return wait_for(c, [&] { return s->generation.load() != gen; }, what);
}

static size_t type_size(int t) {
    switch (t) {
        case ncclInt8: case ncclUint8: return 1;
        case ncclFloat16: case ncclBfloat16: return 2;
        case ncclInt32: case ncclUint32: case ncclFloat32: return 4;
        default: return 8;
    }
}

static float half_to_float(uint16_t h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    float v = e == 0 ? std::ldexp((float)m, -24) : e == 31 ? (m ? NAN : INFINITY) : std::ldexp((float)(m | 1024), e - 25);
    return s ? -v : v;
}

static uint16_t float_to_half(float f) {  // round to nearest even, as the device's conversion
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffff;
    if (ax > 0x7f800000) return sign | 0x7e00;
    if (ax >= 0x477ff000) return sign | 0x7c00;  // rounds past 65504
    if (ax < 0x38800000) {                        // subnormal or zero in half
        float a;
        memcpy(&a, &ax, 4);
        return sign | (uint16_t)std::nearbyint(a * 16777216.0f);
    }
    uint32_t mant = ax & 0x7fffff, exp = (ax >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13), rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return sign | (uint16_t)h;
}

static float bf16_to_float(uint16_t b) {
    uint32_t x = (uint32_t)b << 16;
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static uint16_t float_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

template <class T> static T combine(T a, T b, int op) {
    switch (op) {
        case ncclProd: return a * b;
        case ncclMax: return a > b || a != a ? a : b;  // NaN wins, as in fmax-free device code
        case ncclMin: return a < b || a != a ? a : b;
        default: return a + b;
    }
}

// dst[i] = op over ranks of slot_r[i], in rank order; halves are reduced in float and rounded once.
template <class T> static void reduce_as(Comm* c, void* dst, size_t n, int op) {
    T* out = (T*)dst;
    for (size_t i = 0; i < n; i++) {
        T acc = ((T*)c->slot(0))[i];
        for (int r = 1; r < c->nranks; r++) acc = combine(acc, ((T*)c->slot(r))[i], op);
        if (op == ncclAvg) acc = (T)(acc / (T)c->nranks);
        out[i] = acc;
    }
}

template <float (*Load)(uint16_t), uint16_t (*Store)(float)> static void reduce_half(Comm* c, void* dst, size_t n, int op) {
    uint16_t* out = (uint16_t*)dst;
    for (size_t i = 0; i < n; i++) {
        float acc = Load(((uint16_t*)c->slot(0))[i]);
        for (int r = 1; r < c->nranks; r++) acc = combine(acc, Load(((uint16_t*)c->slot(r))[i]), op);
        if (op == ncclAvg) acc /= c->nranks;
        out[i] = Store(acc);
    }
}

static void reduce(Comm* c, int type, void* dst, size_t n, int op) {
    switch (type) {
        case ncclInt8: reduce_as<int8_t>(c, dst, n, op); break;
        case ncclUint8: reduce_as<uint8_t>(c, dst, n, op); break;
        case ncclInt32: reduce_as<int32_t>(c, dst, n, op); break;
        case ncclUint32: reduce_as<uint32_t>(c, dst, n, op); break;
        case ncclInt64: reduce_as<int64_t>(c, dst, n, op); break;
        case ncclUint64: reduce_as<uint64_t>(c, dst, n, op); break;
        case ncclFloat32: reduce_as<float>(c, dst, n, op); break;
        case ncclFloat64: reduce_as<double>(c, dst, n, op); break;
        case ncclFloat16: reduce_half<half_to_float, float_to_half>(c, dst, n, op); break;
        case ncclBfloat16: reduce_half<bf16_to_float, float_to_bf16>(c, dst, n, op); break;
    }
}

struct Job {
    Comm* comm;
    bool broadcast;
    const unsigned char* send;
    unsigned char* recv;
    size_t count;
    int type, op, root;
    bool keep;  // recorded into a graph, which replays it: not freed after running
};

static void run_job(void* arg) {
    Job* j = (Job*)arg;
    Comm* c = j->comm;
    size_t es = type_size(j->type), per = SLOT / es;
    const char* what = j->broadcast ? "ncclBroadcast" : "ncclAllReduce";
    for (size_t done = 0; done < j->count; done += per) {
        size_t n = j->count - done < per ? j->count - done : per;
        if (!j->broadcast) {
            memcpy(c->slot(c->rank), j->send + done * es, n * es);
            if (!barrier(c, what)) { c->shared()->aborted.store(1); break; }
            reduce(c, j->type, j->recv + done * es, n, j->op);
        } else {
            if (c->rank == j->root) memcpy(c->slot(0), j->send + done * es, n * es);
            if (!barrier(c, what)) { c->shared()->aborted.store(1); break; }
            memcpy(j->recv + done * es, c->slot(0), n * es);
        }
        if (!barrier(c, what)) { c->shared()->aborted.store(1); break; }  // the slots are free for the next round
    }
    if (!j->keep) delete j;
}

static ncclResult_t check_buffers(const char* call, Comm* c, const void* send, const void* recv, size_t count, int type, bool sendUsed) {
    if (!c || c->destroyed) { set_error("%s: invalid communicator", call); return ncclInvalidArgument; }
    if (type < 0 || type >= ncclNumTypes) { set_error("%s: invalid data type %d", call, type); return ncclInvalidArgument; }
    if (!fakecuda_has_context()) { set_error("%s: no current CUDA context on this thread", call); return ncclInvalidUsage; }
    size_t bytes = count * type_size(type);
    if (count == 0) return ncclSuccess;
    if (sendUsed && !fakecuda_in_device((uintptr_t)send, bytes)) {
        set_error("%s: send buffer %p (%zu bytes) is not device memory", call, send, bytes);
        return ncclInvalidArgument;
    }
    if (!fakecuda_in_device((uintptr_t)recv, bytes)) {
        set_error("%s: receive buffer %p (%zu bytes) is not device memory", call, recv, bytes);
        return ncclInvalidArgument;
    }
    if (c->shared()->aborted.load()) { set_error("%s: the communicator was aborted by a rank", call); return ncclRemoteError; }
    return ncclSuccess;
}

static ncclResult_t submit(const char* call, Job* j, void* stream) {
    if (j->count == 0) { delete j; return ncclSuccess; }
    Comm* c = j->comm;
    j->keep = fakecuda_stream_capturing(stream) != 0;
    if (fakecuda_enqueue(stream, run_job, j) != 0) { set_error("%s: the stream refused the work", call); delete j; return ncclUnhandledCudaError; }
    // Not capturing: the job ran already; a failure shows as the abort flag, reported here (real NCCL would report it
    // through ncclCommGetAsyncError while the stream never completes).
    return c->shared()->aborted.load() ? ncclRemoteError : ncclSuccess;
}

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
    if (!version) return ncclInvalidArgument;
    *version = 22105;  // the API of NCCL 2.21 (the calls above have kept their signatures since 2.0; bf16 since 2.10)
    return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t r) {
    switch (r) {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
        case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
        case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
        case ncclRemoteError: return "remote process exited or there was a network error";
        default: return "unknown result code";
    }
}

const char* ncclGetLastError(void*) { return t_last_error; }

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
    if (!id) return ncclInvalidArgument;
    static std::atomic<int> counter{0};
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    memset(id, 0, sizeof *id);
    snprintf(id->internal, sizeof id->internal, "%s/ballast-fakenccl-%d-%d-%ld%09ld", MAGIC, (int)getpid(), counter++,
             (long)ts.tv_sec, (long)ts.tv_nsec);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(Comm** out, int nranks, ncclUniqueId id, int rank) {
    if (!out) { set_error("ncclCommInitRank: comm is NULL"); return ncclInvalidArgument; }
    if (nranks < 1 || rank < 0 || rank >= nranks) {
        set_error("ncclCommInitRank: rank %d of %d is out of range", rank, nranks);
        return ncclInvalidArgument;
    }
    if (strncmp(id.internal, MAGIC, strlen(MAGIC)) != 0 || !memchr(id.internal, 0, sizeof id.internal)) {
        set_error("ncclCommInitRank: the unique id was not made by ncclGetUniqueId of this library");
        return ncclInvalidArgument;
    }
    if (!fakecuda_has_context()) { set_error("ncclCommInitRank: no current CUDA context on this thread"); return ncclInvalidUsage; }
    Comm* c = new Comm{};
    snprintf(c->name, sizeof c->name, "%s", id.internal + strlen(MAGIC));
    c->nranks = nranks;
    c->rank = rank;
    c->bytes = HEADER + (size_t)nranks * SLOT;
    int fd = shm_open(c->name, O_CREAT | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)c->bytes) != 0) {
        set_error("ncclCommInitRank: shared memory %s: %s", c->name, strerror(errno));
        if (fd >= 0) close(fd);
        delete c;
        return ncclSystemError;
    }
    c->base = (unsigned char*)mmap(nullptr, c->bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (c->base == MAP_FAILED) {
        set_error("ncclCommInitRank: mmap: %s", strerror(errno));
        delete c;
        return ncclSystemError;
    }
    Shared* s = c->shared();
    s->joined.fetch_add(1);
    bool all = wait_for(c, [&] { return s->joined.load() >= nranks; }, "ncclCommInitRank") && barrier(c, "ncclCommInitRank");
    if (rank == 0 || !all) shm_unlink(c->name);  // every rank has it mapped now: the name is no longer needed
    if (!all) {
        s->aborted.store(1);
        munmap(c->base, c->bytes);
        delete c;
        return ncclSystemError;
    }
    *out = c;
    return ncclSuccess;
}

ncclResult_t ncclCommCount(const Comm* c, int* count) {
    if (!c || !count) return ncclInvalidArgument;
    *count = c->nranks;
    return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const Comm* c, int* rank) {
    if (!c || !rank) return ncclInvalidArgument;
    *rank = c->rank;
    return ncclSuccess;
}

ncclResult_t ncclGroupStart() { return ncclSuccess; }
ncclResult_t ncclGroupEnd() { return ncclSuccess; }

ncclResult_t ncclAllReduce(const void* send, void* recv, size_t count, int type, int op, Comm* c, void* stream) {
    ncclResult_t r = check_buffers("ncclAllReduce", c, send, recv, count, type, true);
    if (r != ncclSuccess) return r;
    if (op < 0 || op >= ncclNumOps) { set_error("ncclAllReduce: invalid reduction op %d", op); return ncclInvalidArgument; }
    return submit("ncclAllReduce", new Job{c, false, (const unsigned char*)send, (unsigned char*)recv, count, type, op, 0, false}, stream);
}

ncclResult_t ncclBroadcast(const void* send, void* recv, size_t count, int type, int root, Comm* c, void* stream) {
    ncclResult_t r = check_buffers("ncclBroadcast", c, send, recv, count, type, c && root == c->rank);
    if (r != ncclSuccess) return r;
    if (root < 0 || root >= c->nranks) { set_error("ncclBroadcast: root %d is not a rank of %d", root, c->nranks); return ncclInvalidArgument; }
    return submit("ncclBroadcast", new Job{c, true, (const unsigned char*)send, (unsigned char*)recv, count, type, 0, root, false}, stream);
}

static ncclResult_t release(Comm* c, bool abort) {
    if (!c || c->destroyed) return ncclInvalidArgument;
    c->destroyed = true;
    if (abort) c->shared()->aborted.store(1);
    munmap(c->base, c->bytes);
    delete c;
    return ncclSuccess;
}

ncclResult_t ncclCommDestroy(Comm* c) { return release(c, false); }

ncclResult_t ncclCommAbort(Comm* c) { return release(c, true); }

}  // extern "C"

// Fake libnvrtc.so.13: "compiles" by building the source as a host .so (build_kernel.sh) and returns a
// fake cubin naming it. Checks the options the way NVRTC would parse them (unknown options fail).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <fstream>
#include <sstream>
#include <functional>
#include <unistd.h>
#include <sys/stat.h>
#include <dlfcn.h>
#include <sys/file.h>
#include <fcntl.h>
struct Prog { std::string src, name, log, cubin; std::vector<std::pair<std::string, std::string>> headers; bool ptx = false; };
extern "C" {
int nvrtcVersion(int* ma, int* mi) { *ma = 13; *mi = 0; return 0; }
// The targets NVRTC 13.0 compiles for (sm_70 and older were dropped); FAKECUDA_NVRTC_ARCHS=75,80 narrows them.
static std::vector<int> archs() {
    std::vector<int> out;
    std::string s = getenv("FAKECUDA_NVRTC_ARCHS") ? getenv("FAKECUDA_NVRTC_ARCHS") : "75,80,86,87,89,90,100,103,110,120,121";
    std::stringstream ss(s); std::string item;
    while (std::getline(ss, item, ',')) if (!item.empty()) out.push_back(atoi(item.c_str()));
    return out;
}
int nvrtcGetNumSupportedArchs(int* n) { if (!n) return 3; *n = (int)archs().size(); return 0; }
int nvrtcGetSupportedArchs(int* a) { if (!a) return 3; auto v = archs(); for (size_t i = 0; i < v.size(); i++) a[i] = v[i]; return 0; }
const char* nvrtcGetErrorString(int r) {
    switch (r) { case 0: return "NVRTC_SUCCESS"; case 3: return "NVRTC_ERROR_INVALID_INPUT"; case 5: return "NVRTC_ERROR_INVALID_OPTION";
                 case 6: return "NVRTC_ERROR_COMPILATION"; case 7: return "NVRTC_ERROR_BUILTIN_OPERATION_FAILURE"; default: return "NVRTC_ERROR_UNKNOWN"; }
}
int nvrtcCreateProgram(void** prog, const char* src, const char* name, int nh, const char* const* headers, const char* const* names) {
    if (!prog || !src) return 3;
    if (nh < 0 || (nh > 0 && (!headers || !names))) return 3;
    Prog* p = new Prog{src, name ? name : "default_program", "", "", {}, false};
    for (int i = 0; i < nh; i++) p->headers.push_back({names[i], headers[i]});
    *prog = p;
    return 0;
}
int nvrtcCompileProgram(void* prog, int nopt, const char* const* opts) {
    Prog* p = (Prog*)prog;
    std::string extra, arch;
    for (int i = 0; i < nopt; i++) {
        std::string o = opts[i];
        if (o.rfind("--gpu-architecture=", 0) == 0 || o.rfind("-arch=", 0) == 0) arch = o.substr(o.find('=') + 1);
        else if (o == "-std=c++17" || o == "--std=c++17" || o == "-std=c++20" || o == "--std=c++20") {}
        else if (o.rfind("--include-path=", 0) == 0) extra += " -I" + o.substr(15);
        else if (o.rfind("-I", 0) == 0) extra += " " + o;
        else if (o == "-default-device" || o == "--device-as-default-execution-space" || o == "-lineinfo" || o == "--use_fast_math") {}
        else { p->log = "nvrtc: error: unrecognized option " + o; return 5; }
    }
    bool virt = arch.rfind("compute_", 0) == 0;
    if (arch.rfind("sm_", 0) != 0 && !virt) { p->log = "nvrtc: error: invalid value for --gpu-architecture (-arch): '" + arch + "'"; return 5; }
    {
        int a = atoi(arch.substr(virt ? 8 : 3).c_str());
        bool ok = false;
        for (int s : archs()) ok |= s == a;
        if (!ok) { p->log = "nvrtc: error: invalid value for --gpu-architecture (-arch): '" + arch + "' (not supported by this NVRTC)"; return 5; }
    }
    // Like the real NVRTC: the builtins library is opened by soname at compile time, so it must be on the loader
    // path or already loaded (CudaLibraries preloads it from NVRTC's own folder).
    if (!dlopen("libnvrtc-builtins.so.13.0", RTLD_NOW | RTLD_NOLOAD) && !dlopen("libnvrtc-builtins.so.13.0", RTLD_NOW)) {
        p->log = "nvrtc: error: failed to open libnvrtc-builtins.so.13.0.\n  Make sure that libnvrtc-builtins.so.13.0 is installed correctly.";
        return 7;
    }
    p->ptx = virt;
    // stage
    std::string key = std::to_string(std::hash<std::string>{}(p->src + p->name + extra));
    for (auto& h : p->headers) key = std::to_string(std::hash<std::string>{}(key + h.first + h.second));
    std::string base = std::string(getenv("FAKECUDA_BUILD") ? getenv("FAKECUDA_BUILD") : "/tmp/fakecuda-build") + "/" + key;
    mkdir(base.substr(0, base.rfind('/')).c_str(), 0755);
    mkdir(base.c_str(), 0755);
    std::string so = base + "/" + p->name + ".so";
    // Several processes (ranks under mpirun) may compile the same program at once: one builds, the others wait for it.
    int lock = open((base + "/.lock").c_str(), O_CREAT | O_RDWR, 0644);
    if (lock >= 0) flock(lock, LOCK_EX);
    struct Unlock { int fd; ~Unlock() { if (fd >= 0) { flock(fd, LOCK_UN); close(fd); } } } unlock{lock};
    if (access(so.c_str(), R_OK) != 0) {
        std::ofstream(base + "/" + p->name) << p->src;
        for (auto& h : p->headers) std::ofstream(base + "/" + h.first) << h.second;
        const char* here = getenv("FAKECUDA_HOME") ? getenv("FAKECUDA_HOME") : "/tmp/fakecuda";
        std::string cmd = std::string(here) + "/build_kernel.sh " + base + " " + p->name + " " + so + extra + " > " + base + "/log 2>&1";
        int rc = system(cmd.c_str());
        if (rc != 0) {
            std::ifstream in(base + "/log"); std::stringstream ss; ss << in.rdbuf();
            p->log = ss.str();
            return 6;
        }
    }
    p->cubin = "BLFAKE\n" + so + "\n";
    return 0;
}
int nvrtcGetProgramLogSize(void* prog, size_t* n) { *n = ((Prog*)prog)->log.size() + 1; return 0; }
int nvrtcGetProgramLog(void* prog, char* log) { memcpy(log, ((Prog*)prog)->log.c_str(), ((Prog*)prog)->log.size() + 1); return 0; }
// A program compiled for a virtual architecture has PTX and no cubin (NVRTC_ERROR_INVALID_INPUT), and the reverse.
int nvrtcGetCUBINSize(void* prog, size_t* n) { Prog* p = (Prog*)prog; if (p->ptx || p->cubin.empty()) return 3; *n = p->cubin.size() + 1; return 0; }
int nvrtcGetCUBIN(void* prog, char* out) { Prog* p = (Prog*)prog; if (p->ptx || p->cubin.empty()) return 3; memcpy(out, p->cubin.c_str(), p->cubin.size() + 1); return 0; }
int nvrtcGetPTXSize(void* prog, size_t* n) { Prog* p = (Prog*)prog; if (!p->ptx || p->cubin.empty()) return 3; *n = p->cubin.size() + 1; return 0; }
int nvrtcGetPTX(void* prog, char* out) { Prog* p = (Prog*)prog; if (!p->ptx || p->cubin.empty()) return 3; memcpy(out, p->cubin.c_str(), p->cubin.size() + 1); return 0; }
int nvrtcDestroyProgram(void** prog) { if (!prog || !*prog) return 3; delete (Prog*)*prog; *prog = nullptr; return 0; }
}

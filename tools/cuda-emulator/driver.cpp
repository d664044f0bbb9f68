// libiip-cuda-emulator.so: the subset of the CUDA driver API that IIP.Native binds (Interop.CudaDriver.cs), with
// the kernels of kernels/*.cu compiled for the host (kernel_registry.h) instead of a GPU. Load it in place of
// libcuda.so.1 with IIP_CUDA_DRIVER=<path>. What it emulates:
//  - one device, "IIP CUDA emulator", reporting an H200's compute capability (9.0) and SM count (132) so the backend
//    chooses split K and the split group norm as it does there (IIP_EMULATOR_SMS overrides the count), and
//    IIP_EMULATOR_MEMORY_MIB of memory (default 8192; allocations beyond it fail with CUDA_ERROR_OUT_OF_MEMORY);
//  - device memory is host memory (a device address is a host address), filled with 0xff bytes when allocated so a
//    kernel that reads memory nobody wrote sees NaN;
//  - modules: cuModuleLoadDataEx reads the .entry names of the PTX; cuModuleGetFunction finds a name that both the
//    PTX and the emulator have;
//  - work runs synchronously at the call (streams and events are trivially ordered); a launch checks its shape as the
//    driver does (block size, dynamic shared memory against the function's limit);
//  - stream capture records launches, copies and fills (arguments copied at capture, as the driver does) into a graph
//    that cuGraphLaunch replays; synchronizing a capturing stream fails with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED.
// Every call holds one lock: the runtime may call from several threads, kernels run one at a time.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "block_scheduler.h"
#include "kernel_registry.h"

using CUresult = int;

namespace {

constexpr CUresult Success = 0, InvalidValue = 1, OutOfMemory = 2, NotInitialized = 3, InvalidDevice = 101, InvalidImage = 200,
                   InvalidHandle = 400, NotFound = 500, LaunchFailed = 719, CaptureUnsupported = 900, CaptureInvalidated = 901;

constexpr int DefaultMaxDynamicShared = 48 * 1024, MaxDynamicSharedOptin = 227 * 1024, MaxThreadsPerBlock = 1024;

struct ErrorText {
    CUresult code;
    const char* name;
    const char* text;
};

constexpr ErrorText Errors[] = {
    {Success, "CUDA_SUCCESS", "no error"},
    {InvalidValue, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {OutOfMemory, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {NotInitialized, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {InvalidDevice, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {InvalidImage, "CUDA_ERROR_INVALID_IMAGE", "device kernel image is invalid"},
    {InvalidHandle, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {NotFound, "CUDA_ERROR_NOT_FOUND", "named symbol not found"},
    {LaunchFailed, "CUDA_ERROR_LAUNCH_FAILED", "unspecified launch failure"},
    {CaptureUnsupported, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing"},
    {CaptureInvalidated, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture"},
};

using Operation = std::function<CUresult()>;

struct Graph {
    std::vector<Operation> operations;
};

struct Stream {
    std::unique_ptr<Graph> capture;  // non-null while capturing
};

struct Event {
    std::chrono::steady_clock::time_point at;
    bool recorded = false;
};

struct Function {
    std::string name;
    iip_emulation::KernelBinder binder;
    int max_dynamic_shared = DefaultMaxDynamicShared;
};

struct Module {
    std::set<std::string> entries;
    std::map<std::string, std::unique_ptr<Function>> functions;
};

std::mutex lock;
bool initialized = false;
int context_marker;
void* current_context = nullptr;
Stream default_stream;
std::map<void*, size_t> allocations;
size_t allocated = 0;
int capturing_streams = 0;

std::map<std::string, iip_emulation::KernelBinder>& registry() {
    static std::map<std::string, iip_emulation::KernelBinder> kernels;
    return kernels;
}

int environment_int(const char* name, int fallback) {
    const char* text = std::getenv(name);
    return text != nullptr && std::atoi(text) > 0 ? std::atoi(text) : fallback;
}

size_t total_memory() { return (size_t)environment_int("IIP_EMULATOR_MEMORY_MIB", 8192) << 20; }

Stream& stream_of(void* handle) { return handle == nullptr ? default_stream : *static_cast<Stream*>(handle); }

// Runs the operation now, or records it when the stream is capturing.
CUresult submit(void* stream, Operation operation) {
    Stream& s = stream_of(stream);
    if (s.capture) {
        s.capture->operations.push_back(std::move(operation));
        return Success;
    }
    return operation();
}

}  // namespace

bool iip_emulation::register_kernel(const char* name, KernelBinder binder) {
    registry()[name] = binder;
    return true;
}

#define API extern "C" __attribute__((visibility("default")))
#define LOCKED std::lock_guard<std::mutex> guard(lock)

API CUresult cuInit(unsigned flags) {
    LOCKED;
    if (flags != 0) return InvalidValue;
    initialized = true;
    return Success;
}

API CUresult cuDriverGetVersion(int* version) {
    if (version == nullptr) return InvalidValue;
    *version = 12080;
    return Success;
}

API CUresult cuDeviceGetCount(int* count) {
    LOCKED;
    if (!initialized) return NotInitialized;
    *count = 1;
    return Success;
}

API CUresult cuDeviceGet(int* device, int ordinal) {
    LOCKED;
    if (!initialized) return NotInitialized;
    if (ordinal != 0) return InvalidDevice;
    *device = 0;
    return Success;
}

API CUresult cuDeviceGetName(char* name, int length, int device) {
    if (device != 0) return InvalidDevice;
    if (name == nullptr || length <= 0) return InvalidValue;
    std::snprintf(name, (size_t)length, "IIP CUDA emulator (kernels on the CPU)");
    return Success;
}

API CUresult cuDeviceGetAttribute(int* value, int attribute, int device) {
    if (device != 0) return InvalidDevice;
    switch (attribute) {
        case 1: *value = MaxThreadsPerBlock; break;                       // max threads per block
        case 8: *value = DefaultMaxDynamicShared; break;                  // max shared memory per block
        case 10: *value = 32; break;                                      // warp size
        case 13: *value = 1980000; break;                                 // clock rate, kHz (an H200's)
        case 16: *value = environment_int("IIP_EMULATOR_SMS", 132); break;  // multiprocessors
        case 36: *value = 2619000; break;                                 // memory clock, kHz
        case 37: *value = 6144; break;                                    // memory bus width, bits
        case 38: *value = 50 << 20; break;                                // L2 bytes
        case 75: *value = 9; break;                                       // compute capability
        case 76: *value = 0; break;
        case 81: *value = 228 * 1024; break;                              // shared memory per SM
        case 97: *value = MaxDynamicSharedOptin; break;                   // opt-in shared memory per block
        default: return InvalidValue;
    }
    return Success;
}

API CUresult cuDeviceTotalMem_v2(size_t* bytes, int device) {
    if (device != 0) return InvalidDevice;
    *bytes = total_memory();
    return Success;
}

API CUresult cuDevicePrimaryCtxRetain(void** context, int device) {
    LOCKED;
    if (!initialized) return NotInitialized;
    if (device != 0) return InvalidDevice;
    *context = &context_marker;
    return Success;
}

API CUresult cuDevicePrimaryCtxRelease_v2(int device) { return device == 0 ? Success : InvalidDevice; }

API CUresult cuCtxSetCurrent(void* context) {
    LOCKED;
    if (context != nullptr && context != &context_marker) return InvalidValue;
    current_context = context;
    return Success;
}

API CUresult cuCtxGetCurrent(void** context) {
    LOCKED;
    *context = current_context;
    return Success;
}

API CUresult cuCtxSynchronize() {
    LOCKED;
    return capturing_streams > 0 ? CaptureUnsupported : Success;
}

API CUresult cuModuleLoadDataEx(void** module, const char* image, unsigned option_count, int* options, void** option_values) {
    LOCKED;
    (void)option_count, (void)options, (void)option_values;  // JIT log buffers stay empty: nothing is compiled
    if (image == nullptr) return InvalidValue;
    auto m = std::make_unique<Module>();
    const std::string text(image);
    for (size_t at = text.find(".entry "); at != std::string::npos; at = text.find(".entry ", at + 7)) {
        size_t begin = at + 7, end = text.find_first_of("( \t\r\n", begin);
        m->entries.insert(text.substr(begin, end - begin));
    }
    if (m->entries.empty()) return InvalidImage;
    *module = m.release();
    return Success;
}

API CUresult cuModuleUnload(void* module) {
    LOCKED;
    delete static_cast<Module*>(module);
    return Success;
}

API CUresult cuModuleGetFunction(void** function, void* module, const char* name) {
    LOCKED;
    auto* m = static_cast<Module*>(module);
    if (m == nullptr || name == nullptr) return InvalidValue;
    auto known = registry().find(name);
    if (!m->entries.count(name) || known == registry().end()) return NotFound;
    auto& slot = m->functions[name];
    if (!slot) slot = std::make_unique<Function>(Function{name, known->second});
    *function = slot.get();
    return Success;
}

API CUresult cuFuncGetAttribute(int* value, int attribute, void* function) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (f == nullptr || value == nullptr) return InvalidHandle;
    switch (attribute) {
        case 0: *value = MaxThreadsPerBlock; break;
        case 1: case 2: case 3: case 4: *value = 0; break;  // static shared, constant, local bytes; registers: none on the host
        case 5: case 6: *value = 90; break;                 // PTX and binary version
        case 8: *value = f->max_dynamic_shared; break;
        default: return InvalidValue;
    }
    return Success;
}

API CUresult cuFuncSetAttribute(void* function, int attribute, int value) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (f == nullptr) return InvalidHandle;
    if (attribute != 8 || value < 0 || value > MaxDynamicSharedOptin) return InvalidValue;
    f->max_dynamic_shared = value;
    return Success;
}

API CUresult cuLaunchKernel(void* function, unsigned grid_x, unsigned grid_y, unsigned grid_z, unsigned block_x, unsigned block_y,
                            unsigned block_z, unsigned shared_bytes, void* stream, void** parameters, void** extra) {
    LOCKED;
    auto* f = static_cast<Function*>(function);
    if (f == nullptr) return InvalidHandle;
    const unsigned long long threads = (unsigned long long)block_x * block_y * block_z;
    if (extra != nullptr || parameters == nullptr || grid_x == 0 || grid_y == 0 || grid_z == 0 || grid_y > 65535 || grid_z > 65535
        || threads == 0 || threads > MaxThreadsPerBlock || block_z > 64 || (int)shared_bytes > f->max_dynamic_shared)
        return InvalidValue;
    iip_emulation::BoundKernel kernel = f->binder(parameters);
    const dim3 grid{grid_x, grid_y, grid_z}, block{block_x, block_y, block_z};
    const std::string name = f->name;
    return submit(stream, [kernel, grid, block, shared_bytes, name]() {
        const std::string problem = iip_emulation::run_grid(kernel, grid, block, shared_bytes);
        if (problem.empty()) return Success;
        std::fprintf(stderr, "IIP CUDA emulator: %s: %s\n", name.c_str(), problem.c_str());
        return LaunchFailed;
    });
}

API CUresult cuMemAlloc_v2(unsigned long long* address, size_t bytes) {
    LOCKED;
    if (address == nullptr || bytes == 0) return InvalidValue;
    if (allocated + bytes > total_memory()) return OutOfMemory;
    void* p = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (p == nullptr) return OutOfMemory;
    std::memset(p, 0xff, bytes);
    allocations[p] = bytes;
    allocated += bytes;
    *address = (unsigned long long)p;
    return Success;
}

API CUresult cuMemFree_v2(unsigned long long address) {
    LOCKED;
    auto it = allocations.find((void*)address);
    if (it == allocations.end()) return InvalidValue;
    allocated -= it->second;
    std::free(it->first);
    allocations.erase(it);
    return Success;
}

API CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total_bytes) {
    LOCKED;
    *total_bytes = total_memory();
    *free_bytes = *total_bytes - std::min(allocated, *total_bytes);
    return Success;
}

API CUresult cuMemHostAlloc(void** pointer, size_t bytes, unsigned flags) {
    (void)flags;
    *pointer = std::aligned_alloc(256, (bytes + 255) / 256 * 256);
    return *pointer == nullptr ? OutOfMemory : Success;
}

API CUresult cuMemFreeHost(void* pointer) {
    std::free(pointer);
    return Success;
}

API CUresult cuMemcpyHtoDAsync_v2(unsigned long long destination, const void* source, size_t bytes, void* stream) {
    LOCKED;
    return submit(stream, [=]() {
        std::memcpy((void*)destination, source, bytes);
        return Success;
    });
}

API CUresult cuMemcpyDtoHAsync_v2(void* destination, unsigned long long source, size_t bytes, void* stream) {
    LOCKED;
    return submit(stream, [=]() {
        std::memcpy(destination, (const void*)source, bytes);
        return Success;
    });
}

API CUresult cuMemcpyDtoDAsync_v2(unsigned long long destination, unsigned long long source, size_t bytes, void* stream) {
    LOCKED;
    return submit(stream, [=]() {
        std::memmove((void*)destination, (const void*)source, bytes);
        return Success;
    });
}

API CUresult cuMemsetD8Async(unsigned long long destination, unsigned char value, size_t count, void* stream) {
    LOCKED;
    return submit(stream, [=]() {
        std::memset((void*)destination, value, count);
        return Success;
    });
}

API CUresult cuMemsetD32Async(unsigned long long destination, unsigned value, size_t count, void* stream) {
    LOCKED;
    return submit(stream, [=]() {
        auto* p = (unsigned*)destination;
        for (size_t i = 0; i < count; ++i) p[i] = value;
        return Success;
    });
}

API CUresult cuStreamCreate(void** stream, unsigned flags) {
    (void)flags;
    *stream = new Stream();
    return Success;
}

API CUresult cuStreamDestroy_v2(void* stream) {
    LOCKED;
    if (stream == nullptr) return InvalidHandle;
    delete static_cast<Stream*>(stream);
    return Success;
}

API CUresult cuStreamSynchronize(void* stream) {
    LOCKED;
    return stream_of(stream).capture ? CaptureUnsupported : Success;
}

API CUresult cuStreamWaitEvent(void* stream, void* event, unsigned flags) {
    (void)stream, (void)flags;
    return event == nullptr ? InvalidHandle : Success;  // work already ran in call order
}

API CUresult cuEventCreate(void** event, unsigned flags) {
    (void)flags;
    *event = new Event();
    return Success;
}

API CUresult cuEventDestroy_v2(void* event) {
    if (event == nullptr) return InvalidHandle;
    delete static_cast<Event*>(event);
    return Success;
}

API CUresult cuEventRecord(void* event, void* stream) {
    LOCKED;
    auto* e = static_cast<Event*>(event);
    if (e == nullptr) return InvalidHandle;
    return submit(stream, [e]() {
        e->at = std::chrono::steady_clock::now();
        e->recorded = true;
        return Success;
    });
}

API CUresult cuEventSynchronize(void* event) { return event == nullptr ? InvalidHandle : Success; }

API CUresult cuEventQuery(void* event) { return event == nullptr ? InvalidHandle : Success; }

API CUresult cuEventElapsedTime(float* milliseconds, void* start, void* end) {
    LOCKED;
    auto *a = static_cast<Event*>(start), *b = static_cast<Event*>(end);
    if (a == nullptr || b == nullptr || !a->recorded || !b->recorded) return InvalidHandle;
    *milliseconds = std::chrono::duration<float, std::milli>(b->at - a->at).count();
    return Success;
}

API CUresult cuStreamBeginCapture_v2(void* stream, int mode) {
    LOCKED;
    (void)mode;
    Stream& s = stream_of(stream);
    if (s.capture) return CaptureUnsupported;
    s.capture = std::make_unique<Graph>();
    ++capturing_streams;
    return Success;
}

API CUresult cuStreamEndCapture(void* stream, void** graph) {
    LOCKED;
    Stream& s = stream_of(stream);
    if (!s.capture) return InvalidValue;
    *graph = s.capture.release();
    --capturing_streams;
    return Success;
}

API CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long flags) {
    LOCKED;
    (void)flags;
    if (graph == nullptr) return InvalidValue;
    *exec = new Graph(*static_cast<Graph*>(graph));
    return Success;
}

API CUresult cuGraphLaunch(void* exec, void* stream) {
    LOCKED;
    auto* g = static_cast<Graph*>(exec);
    if (g == nullptr) return InvalidHandle;
    if (stream_of(stream).capture) return CaptureUnsupported;
    for (auto& operation : g->operations)
        if (CUresult r = operation(); r != Success) return r;
    return Success;
}

API CUresult cuGraphExecDestroy(void* exec) {
    delete static_cast<Graph*>(exec);
    return Success;
}

API CUresult cuGraphDestroy(void* graph) {
    delete static_cast<Graph*>(graph);
    return Success;
}

// Not a driver function: the emulator's own switch (block_scheduler.h), for tests that look for order dependence.
API void iip_emulator_set_reverse_thread_order(int reverse) {
    LOCKED;
    iip_emulation::set_reverse_thread_order(reverse != 0);
}

API CUresult cuGetErrorName(CUresult error, const char** text) {
    for (const auto& e : Errors)
        if (e.code == error) {
            *text = e.name;
            return Success;
        }
    *text = nullptr;
    return InvalidValue;
}

API CUresult cuGetErrorString(CUresult error, const char** text) {
    for (const auto& e : Errors)
        if (e.code == error) {
            *text = e.text;
            return Success;
        }
    *text = nullptr;
    return InvalidValue;
}

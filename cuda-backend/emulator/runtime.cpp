// The emulator's runtime: fibers that run a block's threads, the barriers between them, the tensor-core
// instructions, and the part of the CUDA driver API that JCudaDriverApi calls. build.sh links it with the
// kernels into a libcuda.so.1, which JCuda's native library loads when LD_LIBRARY_PATH names its folder.
//
// "Device" memory is host memory: a device pointer is the address of a host allocation. Launches and
// copies run when they are queued, one after another, so the single stream's order holds trivially.
#include <sys/mman.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cuda_emulator.h"
#include "kernel_registry.h"

namespace ladon_emu {

uint3 thread_index;
unsigned long long blocks_started = 0;
uint3 block_index;
uint3 block_dim;
uint3 grid_dim;

// ---- fibers -------------------------------------------------------------------------------------------

// switch_stack(save, next): pushes the callee-saved registers, stores the stack pointer in *save, then pops
// the same from the stack at `next` and returns on it. The SSE and x87 control words are not switched:
// nothing here changes them, so every fiber runs with the launching thread's.
extern "C" void ladon_emu_switch_stack(void** save, void* next);
extern "C" void ladon_emu_fiber_start();
extern "C" void ladon_emu_fiber_main(void* fiber);
asm(R"(
    .text
    .globl ladon_emu_switch_stack
    .type ladon_emu_switch_stack, @function
ladon_emu_switch_stack:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size ladon_emu_switch_stack, .-ladon_emu_switch_stack

    .globl ladon_emu_fiber_start
    .type ladon_emu_fiber_start, @function
ladon_emu_fiber_start:
    movq %r12, %rdi
    andq $-16, %rsp
    call ladon_emu_fiber_main
    ud2
    .size ladon_emu_fiber_start, .-ladon_emu_fiber_start
)");

namespace {

constexpr size_t STACK_BYTES = 256 * 1024;
constexpr int MAX_THREADS = 1024;

enum class State { READY, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

struct Fiber {
    void* sp = nullptr;
    unsigned char* stack = nullptr;
    uint3 index{};
    State state = State::DONE;
    int exchanges = 0;  // warp exchanges so far: their parity picks the exchange area
};

struct Block {
    std::vector<Fiber> fibers;
    void* scheduler_sp = nullptr;
    Fiber* running = nullptr;
    void (*body)(void*) = nullptr;
    void* body_context = nullptr;
    unsigned char exchange[2][MAX_THREADS][64];
    std::vector<unsigned char> dynamic_shared;
};

Block* current_block = nullptr;

// A launch's first problem; the driver calls report it as a failed launch.
std::string launch_error;

void fail_launch(const char* format, ...) {
    if (!launch_error.empty()) return;
    char text[512];
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
    launch_error = text;
    fprintf(stderr, "ladon cuda emulator: %s\n", text);
}

void prepare(Fiber& f) {
    if (f.stack == nullptr) {
        void* mem = mmap(nullptr, STACK_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                         -1, 0);
        if (mem == MAP_FAILED) {
            fprintf(stderr, "ladon cuda emulator: cannot map a fiber stack\n");
            abort();
        }
        f.stack = static_cast<unsigned char*>(mem);
    }
    // The frame switch_stack pops: r15, r14, r13, r12 (the fiber), rbx, rbp, return address.
    uint64_t* top = reinterpret_cast<uint64_t*>(f.stack + STACK_BYTES);
    uint64_t* sp = top - 8;
    sp[0] = sp[1] = sp[2] = 0;
    sp[3] = reinterpret_cast<uint64_t>(&f);
    sp[4] = sp[5] = 0;
    sp[6] = reinterpret_cast<uint64_t>(&ladon_emu_fiber_start);
    sp[7] = 0;
    f.sp = sp;
    f.state = State::READY;
}

void yield_to_scheduler(State waiting) {
    Block* b = current_block;
    Fiber* f = b->running;
    f->state = waiting;
    ladon_emu_switch_stack(&f->sp, b->scheduler_sp);
}

void resume(Block& b, Fiber& f) {
    b.running = &f;
    thread_index = f.index;
    ladon_emu_switch_stack(&b.scheduler_sp, f.sp);
}

// Runs one block to the end. Returns false (after fail_launch) when its threads wait at barriers that
// can never open: threads of one warp at different barriers, or a block barrier some threads never reach.
bool run_block(Block& b, int threads, const char* kernel) {
    for (int i = 0; i < threads; i++) {
        Fiber& f = b.fibers[i];
        f.index = uint3{(unsigned)i, 0, 0};
        f.exchanges = 0;
        prepare(f);
    }
    // Between two barriers the threads run one after another, first to last in one round and last to first
    // in the next (and the other way round in the next block), so that a read of a value another thread
    // writes before the next barrier sees the old value in one of the two orders, whichever thread it is.
    bool forward = (block_index.x + block_index.y + block_index.z) % 2 == 0;
    for (;; forward = !forward) {
        for (int n = 0; n < threads; n++) {
            int i = forward ? n : threads - 1 - n;
            if (b.fibers[i].state == State::READY) resume(b, b.fibers[i]);
        }
        int live = 0;
        bool released = false;
        for (int w = 0; w * 32 < threads; w++) {
            int lanes = 0, waiting = 0, exited = 0;
            for (int i = w * 32; i < threads && i < w * 32 + 32; i++) {
                State s = b.fibers[i].state;
                if (s != State::DONE) lanes++;
                if (s == State::DONE) exited++;
                if (s == State::AT_WARP_BARRIER) waiting++;
            }
            live += lanes;
            if (lanes > 0 && waiting == lanes && exited > 0) {
                // The kernels' shuffles name the whole warp (mask 0xffffffff); on a GPU a named lane that has
                // returned makes the shuffle undefined.
                fail_launch("%s: block (%u, %u, %u), warp %d: a shuffle over the whole warp after %d of its lanes "
                            "returned", kernel, block_index.x, block_index.y, block_index.z, w, exited);
                return false;
            }
            if (lanes > 0 && waiting == lanes) {
                for (int i = w * 32; i < threads && i < w * 32 + 32; i++) b.fibers[i].state = State::READY;
                released = true;
            }
        }
        if (live == 0) return true;
        if (released) continue;
        int atBlock = 0;
        for (int i = 0; i < threads; i++) atBlock += b.fibers[i].state == State::AT_BLOCK_BARRIER;
        if (atBlock == live) {
            for (int i = 0; i < threads; i++) {
                if (b.fibers[i].state == State::AT_BLOCK_BARRIER) b.fibers[i].state = State::READY;
            }
            continue;
        }
        fail_launch("%s: block (%u, %u, %u) is stuck: %d of %d live threads wait at __syncthreads, the others at "
                    "a warp shuffle, so some warp's lanes are at different barriers",
                    kernel, block_index.x, block_index.y, block_index.z, atBlock, live);
        return false;
    }
}

Block& the_block() {
    if (current_block == nullptr) {
        current_block = new Block();
        current_block->fibers.resize(MAX_THREADS);
    }
    return *current_block;
}

}  // namespace

extern "C" void ladon_emu_fiber_main(void* fiber) {
    Block* b = current_block;
    b->body(b->body_context);
    static_cast<Fiber*>(fiber)->state = State::DONE;
    void* ignored;
    ladon_emu_switch_stack(&ignored, b->scheduler_sp);
    abort();  // a finished fiber is never resumed
}

void sync_block() { yield_to_scheduler(State::AT_BLOCK_BARRIER); }

void sync_warp() { yield_to_scheduler(State::AT_WARP_BARRIER); }

unsigned char* warp_exchange() {
    Fiber* f = current_block->running;
    int warp = (int)(thread_index.x >> 5);
    return current_block->exchange[f->exchanges++ & 1][warp * 32];
}

unsigned char* dynamic_shared() { return current_block->dynamic_shared.data(); }

// ---- tensor-core instructions, from the fragment layouts of the PTX ISA ------------------------------

namespace {

// The warp's lanes publish their fragments; each lane then computes its own four accumulators.
struct MmaFragments {
    uint32_t a[4];
    uint32_t b[2];
};

float tf32_value(uint32_t bits) {
    bits &= 0xffffe000u;  // the mma reads 19 bits: sign, exponent, 10 mantissa bits
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

float bf16_value(uint32_t word, int half) {
    uint32_t bits = (half == 0 ? word & 0xffffu : word >> 16) << 16;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

template <typename ElementOfA, typename ElementOfB>
void mma(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2], int depth, ElementOfA elementOfA,
         ElementOfB elementOfB) {
    int lane = (int)(thread_index.x & 31);
    MmaFragments mine;
    std::memcpy(mine.a, a, sizeof mine.a);
    std::memcpy(mine.b, b, sizeof mine.b);
    unsigned char* slots = warp_exchange();
    std::memcpy(slots + 64 * lane, &mine, sizeof mine);
    sync_warp();
    MmaFragments all[32];
    for (int l = 0; l < 32; l++) std::memcpy(&all[l], slots + 64 * l, sizeof(MmaFragments));
    int g = lane >> 2, t = lane & 3;
    for (int q = 0; q < 4; q++) {
        int row = g + 8 * (q >> 1), col = 2 * t + (q & 1);
        double sum = 0;
        for (int k = 0; k < depth; k++) sum += (double)elementOfA(all, row, k) * elementOfB(all, k, col);
        d[q] = (float)(d[q] + sum);
    }
}

}  // namespace

uint32_t tf32_round(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) return u;  // inf and NaN unchanged
    return (u + 0x1000u) & 0xffffe000u;              // to nearest, ties away from zero (cvt.rna)
}

// m16n8k8, A row-major and B column-major, one tf32 per register. A's element (row, k) is in lane
// 4 (row % 8) + k % 4, register (row / 8) + 2 (k / 4); B's (k, col) in lane 4 col + k % 4, register k / 4.
void mma_m16n8k8_tf32(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma(
        d, a, b, 8,
        [](const MmaFragments* all, int row, int k) {
            return tf32_value(all[4 * (row % 8) + k % 4].a[row / 8 + 2 * (k / 4)]);
        },
        [](const MmaFragments* all, int k, int col) { return tf32_value(all[4 * col + k % 4].b[k / 4]); });
}

// m16n8k16, two bf16 per register (the lower k in the low half). A's element (row, k) is in lane
// 4 (row % 8) + (k % 8) / 2, register (row / 8) + 2 (k / 8); B's (k, col) in lane 4 col + (k % 8) / 2,
// register k / 8.
void mma_m16n8k16_bf16(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    mma(
        d, a, b, 16,
        [](const MmaFragments* all, int row, int k) {
            return bf16_value(all[4 * (row % 8) + (k % 8) / 2].a[row / 8 + 2 * (k / 8)], k % 2);
        },
        [](const MmaFragments* all, int k, int col) {
            return bf16_value(all[4 * col + (k % 8) / 2].b[k / 8], k % 2);
        });
}

// ---- kernels and launches -----------------------------------------------------------------------------

namespace {

std::map<std::string, KernelInvoker>& registry() {
    static std::map<std::string, KernelInvoker> kernels;
    return kernels;
}

struct LaunchConfig {
    const char* kernel;
    uint3 grid, block;
    size_t shared;
};
LaunchConfig launch_config;

}  // namespace

KernelRegistration::KernelRegistration(const char* name, KernelInvoker invoker) { registry()[name] = invoker; }

void run_grid(void (*body)(void*), void* context) {
    Block& b = the_block();
    const LaunchConfig& c = launch_config;
    b.body = body;
    b.body_context = context;
    b.dynamic_shared.resize(c.shared);
    grid_dim = c.grid;
    block_dim = c.block;
    // A GPU runs blocks in no set order: every other launch runs them last to first, so that a block that
    // reads what another block of the same launch writes gets a wrong result in one of the two.
    static unsigned long long launches = 0;
    bool backwards = launches++ % 2 == 1;
    unsigned long long count = (unsigned long long)c.grid.x * c.grid.y * c.grid.z;
    for (unsigned long long n = 0; n < count; n++) {
        unsigned long long i = backwards ? count - 1 - n : n;
        block_index = uint3{(unsigned)(i % c.grid.x), (unsigned)(i / c.grid.x % c.grid.y),
                            (unsigned)(i / c.grid.x / c.grid.y)};
        // Shared memory starts as garbage on a GPU; NaN bytes here, as for fresh device memory.
        std::fill(b.dynamic_shared.begin(), b.dynamic_shared.end(), (unsigned char)0xff);
        blocks_started++;
        if (!run_block(b, (int)c.block.x, c.kernel)) return;
    }
}

}  // namespace ladon_emu

// ---- the driver API ---------------------------------------------------------------------------------

using namespace ladon_emu;

namespace {

enum : int {
    SUCCESS = 0,
    ERROR_INVALID_VALUE = 1,
    ERROR_OUT_OF_MEMORY = 2,
    ERROR_INVALID_DEVICE = 101,
    ERROR_INVALID_IMAGE = 200,
    ERROR_NOT_FOUND = 500,
    ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
    ERROR_LAUNCH_FAILED = 719,
    ERROR_NOT_SUPPORTED = 801,
};

constexpr int FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;
constexpr size_t STATIC_SHARED_LIMIT = 48 * 1024;
constexpr size_t OPT_IN_SHARED_LIMIT = 227 * 1024;  // an H100's per-block maximum

struct Function {
    std::string name;
    KernelInvoker invoker;
    int maxThreads;
    size_t sharedLimit = STATIC_SHARED_LIMIT;
};

struct Module {
    std::map<std::string, int> entries;  // kernel name -> .maxntid (1024 when the PTX sets none)
    std::map<std::string, Function*> functions;
};

std::mutex driver_lock;
std::map<uint64_t, size_t> allocations;
size_t allocated_bytes = 0;
int context_token, stream_token;

size_t device_bytes() {
    const char* mib = getenv("LADON_EMULATOR_MEMORY_MIB");
    return (mib != nullptr ? strtoull(mib, nullptr, 10) : 4096ull) << 20;
}

// A failed launch is reported by the next call, once (the real driver would keep failing: its context is
// lost; here the rest of a test run can still say what else is wrong). stderr has the details.
int sticky() {
    if (launch_error.empty()) return SUCCESS;
    launch_error.clear();
    return ERROR_LAUNCH_FAILED;
}

// Fresh memory holds garbage on a GPU; here it holds NaN (every float and double of all-one bytes) and -1,
// so a kernel that reads what nobody wrote gives a result the tests notice.
constexpr unsigned char FRESH_FILL = 0xff;
// Each allocation has GUARD_BYTES of GUARD_FILL before it and after its exact end; a launch that changes
// them wrote outside its operands.
constexpr size_t GUARD_BYTES = 256;
constexpr unsigned char GUARD_FILL = 0xfd;

bool guard_intact(const unsigned char* p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (p[i] != GUARD_FILL) return false;
    }
    return true;
}

// The allocations that the pointer parameters of the launch being made point into.
std::vector<uint64_t> launch_allocations;

// Checks the guards of the launch's allocations after a launch of `kernel`, restoring any it overwrote.
void check_guards(const char* kernel) {
    for (uint64_t address : launch_allocations) {
        size_t bytes = allocations[address];
        unsigned char* p = reinterpret_cast<unsigned char*>(address);
        size_t after = ((bytes + 255) & ~(size_t)255) - bytes + GUARD_BYTES;
        bool before_ok = guard_intact(p - GUARD_BYTES, GUARD_BYTES), after_ok = guard_intact(p + bytes, after);
        if (!before_ok || !after_ok) {
            fail_launch("%s wrote %s the %zu-byte allocation at 0x%llx", kernel,
                        before_ok ? "past the end of" : "before the start of", bytes, (unsigned long long)address);
            memset(p - GUARD_BYTES, GUARD_FILL, GUARD_BYTES);
            memset(p + bytes, GUARD_FILL, after);
        }
    }
}

bool is_device_range(uint64_t address, size_t bytes) {
    auto it = allocations.upper_bound(address);
    if (it == allocations.begin()) return false;
    --it;
    return address >= it->first && address + bytes <= it->first + it->second;
}

// The allocation holding `address`, or 0.
uint64_t allocation_holding(uint64_t address) {
    auto it = allocations.upper_bound(address);
    if (it == allocations.begin()) return 0;
    --it;
    return address < it->first + it->second ? it->first : 0;
}

int check_range(const char* call, uint64_t address, size_t bytes) {
    if (bytes == 0 || is_device_range(address, bytes)) return SUCCESS;
    fprintf(stderr, "ladon cuda emulator: %s of %zu bytes at 0x%llx is outside every allocation\n", call, bytes,
            (unsigned long long)address);
    return ERROR_INVALID_VALUE;
}

}  // namespace

void ladon_emu::note_pointer_parameter(const void* p) {
    uint64_t holder = allocation_holding(reinterpret_cast<uint64_t>(p));
    if (holder != 0) launch_allocations.push_back(holder);
}

extern "C" {

int cuInit(unsigned) { return SUCCESS; }

int cuDriverGetVersion(int* version) {
    *version = 12060;
    return SUCCESS;
}

int cuDeviceGetCount(int* count) {
    *count = 1;
    return SUCCESS;
}

int cuDeviceGet(int* device, int ordinal) {
    if (ordinal != 0) return ERROR_INVALID_DEVICE;
    *device = 0;
    return SUCCESS;
}

int cuDeviceGetName(char* name, int length, int) {
    snprintf(name, (size_t)length, "Ladon CUDA emulator (CPU)");
    return SUCCESS;
}

int cuDevicePrimaryCtxRetain(void** context, int) {
    *context = &context_token;
    return SUCCESS;
}

int cuCtxSetCurrent(void*) { return SUCCESS; }

int cuCtxGetCurrent(void** context) {
    *context = &context_token;
    return SUCCESS;
}

int cuStreamCreate(void** stream, unsigned) {
    *stream = &stream_token;
    return SUCCESS;
}

int cuStreamSynchronize(void*) { return sticky(); }

int cuCtxSynchronize() { return sticky(); }

int cuMemGetInfo_v2(size_t* free, size_t* total) {
    std::lock_guard<std::mutex> hold(driver_lock);
    *total = device_bytes();
    *free = *total - allocated_bytes;
    return SUCCESS;
}

int cuMemAlloc_v2(uint64_t* address, size_t bytes) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (bytes == 0) return ERROR_INVALID_VALUE;
    if (bytes > device_bytes() - allocated_bytes) return ERROR_OUT_OF_MEMORY;
    // 256-byte aligned, as device allocations are, with a guard on each side (from the exact end).
    size_t rounded = (bytes + 255) & ~(size_t)255;
    unsigned char* base = static_cast<unsigned char*>(aligned_alloc(256, GUARD_BYTES + rounded + GUARD_BYTES));
    if (base == nullptr) return ERROR_OUT_OF_MEMORY;
    unsigned char* p = base + GUARD_BYTES;
    memset(base, GUARD_FILL, GUARD_BYTES);
    memset(p, FRESH_FILL, bytes);
    memset(p + bytes, GUARD_FILL, rounded - bytes + GUARD_BYTES);
    *address = reinterpret_cast<uint64_t>(p);
    allocations[*address] = bytes;
    allocated_bytes += bytes;
    return SUCCESS;
}

int cuMemFree_v2(uint64_t address) {
    std::lock_guard<std::mutex> hold(driver_lock);
    auto it = allocations.find(address);
    if (it == allocations.end()) return ERROR_INVALID_VALUE;
    allocated_bytes -= it->second;
    allocations.erase(it);
    free(reinterpret_cast<unsigned char*>(address) - GUARD_BYTES);
    return sticky();
}

int cuMemsetD8Async(uint64_t address, unsigned char value, size_t bytes, void*) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemsetD8Async", address, bytes)) return r;
    memset(reinterpret_cast<void*>(address), value, bytes);
    return sticky();
}

int cuMemcpyDtoDAsync_v2(uint64_t dst, uint64_t src, size_t bytes, void*) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemcpyDtoDAsync (destination)", dst, bytes)) return r;
    if (int r = check_range("cuMemcpyDtoDAsync (source)", src, bytes)) return r;
    memmove(reinterpret_cast<void*>(dst), reinterpret_cast<void*>(src), bytes);
    return sticky();
}

int cuMemcpyHtoD_v2(uint64_t dst, const void* src, size_t bytes) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemcpyHtoD", dst, bytes)) return r;
    memcpy(reinterpret_cast<void*>(dst), src, bytes);
    return sticky();
}

int cuMemcpyDtoH_v2(void* dst, uint64_t src, size_t bytes) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = check_range("cuMemcpyDtoH", src, bytes)) return r;
    memcpy(dst, reinterpret_cast<void*>(src), bytes);
    return sticky();
}

// Records the module's kernels and their .maxntid from the PTX text.
int cuModuleLoadData(void** module, const void* image) {
    const char* ptx = static_cast<const char*>(image);
    Module* m = new Module();
    const char* entry = "\n.visible .entry ";
    for (const char* p = strstr(ptx, entry); p != nullptr; p = strstr(p + 1, entry)) {
        const char* name = p + strlen(entry);
        const char* end = strchr(name, '(');
        if (end == nullptr) return ERROR_INVALID_IMAGE;
        std::string kernel(name, end);
        int maxThreads = 1024;
        const char* next = strstr(end, entry);
        const char* bound = strstr(end, ".maxntid ");
        if (bound != nullptr && (next == nullptr || bound < next)) maxThreads = atoi(bound + strlen(".maxntid "));
        m->entries[kernel] = maxThreads;
    }
    if (m->entries.empty()) {
        delete m;
        return ERROR_INVALID_IMAGE;
    }
    *module = m;
    return SUCCESS;
}

int cuModuleGetFunction(void** function, void* module, const char* name) {
    Module* m = static_cast<Module*>(module);
    auto entry = m->entries.find(name);
    if (entry == m->entries.end()) return ERROR_NOT_FOUND;
    auto kernel = registry().find(name);
    if (kernel == registry().end()) {
        fprintf(stderr, "ladon cuda emulator: the PTX has kernel %s but the emulator was not built with it "
                        "(run cuda-backend/emulator/build.sh again)\n", name);
        return ERROR_NOT_FOUND;
    }
    Function*& f = m->functions[name];
    if (f == nullptr) f = new Function{name, kernel->second, entry->second};
    *function = f;
    return SUCCESS;
}

int cuFuncSetAttribute(void* function, int attribute, int value) {
    Function* f = static_cast<Function*>(function);
    if (attribute != FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) return ERROR_NOT_SUPPORTED;
    if (value < 0 || (size_t)value > OPT_IN_SHARED_LIMIT) return ERROR_INVALID_VALUE;
    f->sharedLimit = (size_t)value > STATIC_SHARED_LIMIT ? (size_t)value : STATIC_SHARED_LIMIT;
    return SUCCESS;
}

int cuLaunchKernel(void* function, unsigned gridX, unsigned gridY, unsigned gridZ, unsigned blockX, unsigned blockY,
                   unsigned blockZ, unsigned sharedBytes, void*, void** params, void** extra) {
    std::lock_guard<std::mutex> hold(driver_lock);
    if (int r = sticky()) return r;
    Function* f = static_cast<Function*>(function);
    if (extra != nullptr) return ERROR_NOT_SUPPORTED;  // params may be null for a kernel without any
    if (gridX == 0 || gridY == 0 || gridZ == 0 || gridX > 0x7fffffffu || gridY > 65535 || gridZ > 65535) {
        fprintf(stderr, "ladon cuda emulator: %s launched with grid %u x %u x %u\n", f->name.c_str(), gridX, gridY,
                gridZ);
        return ERROR_INVALID_VALUE;
    }
    if (blockY != 1 || blockZ != 1 || blockX == 0 || blockX > (unsigned)f->maxThreads) {
        fprintf(stderr, "ladon cuda emulator: %s launched with block %u x %u x %u (at most %d threads)\n",
                f->name.c_str(), blockX, blockY, blockZ, f->maxThreads);
        return blockX > (unsigned)f->maxThreads ? ERROR_LAUNCH_OUT_OF_RESOURCES : ERROR_INVALID_VALUE;
    }
    if (sharedBytes > f->sharedLimit) {
        fprintf(stderr, "ladon cuda emulator: %s asks for %u bytes of dynamic shared memory, above its limit %zu\n",
                f->name.c_str(), sharedBytes, f->sharedLimit);
        return ERROR_INVALID_VALUE;
    }
    launch_config = LaunchConfig{f->name.c_str(), uint3{gridX, gridY, gridZ}, uint3{blockX, 1, 1}, sharedBytes};
    launch_allocations.clear();
    f->invoker(params);
    check_guards(f->name.c_str());
    return SUCCESS;
}

int cuGetErrorName(int error, const char** name) {
    *name = error == SUCCESS ? "CUDA_SUCCESS" : "CUDA_ERROR (emulated)";
    return SUCCESS;
}

int cuGetErrorString(int error, const char** text) { return cuGetErrorName(error, text); }

}  // extern "C"

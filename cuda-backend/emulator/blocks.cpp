// Running a launch: block after block, each block's threads as fibers on the calling thread, and the
// barriers between them (__syncthreads, warp shuffles). A fiber runs until it reaches a barrier or
// returns; when every live thread of the block (or of the warp) waits at it, the barrier opens.
//
// A GPU promises no order between blocks, nor between threads until a barrier. The emulator varies both
// with each launch of a kernel: one launch runs its blocks first to last, the next last to first, and
// within a block the threads run first to last between one pair of barriers and last to first between the
// next (starting the other way in every other block and launch). A result that depends on an order shows
// as a wrong value in one of them.
#include <sys/mman.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "kernel_registry.h"
#include "launch.h"

namespace ladon_emu {

uint3 thread_index;
uint3 block_index;
uint3 block_dim;
uint3 grid_dim;
unsigned long long blocks_started = 0;
Launch current_launch;

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

constexpr size_t PAGE_BYTES = 4096;
// A fiber's stack, above one inaccessible page: an overflow faults there instead of running into the
// next fiber's stack.
constexpr size_t STACK_BYTES = 256 * 1024;
constexpr int MAX_THREADS = 1024;

enum class State { READY, AT_BLOCK_BARRIER, AT_WARP_BARRIER, DONE };

// A cp.async copy that has not landed yet: its bytes were read when it was issued.
struct AsyncCopy {
    void* destination;
    unsigned char bytes[16];
    int size;
    int group;
};

struct Fiber {
    std::vector<AsyncCopy> async_copies;
    int async_groups = 0;  // groups committed so far
    void* sp = nullptr;
    unsigned char* stack = nullptr;
    uint3 index{};
    State state = State::DONE;
    int exchanges = 0;  // warp exchanges so far: their parity picks the exchange area
};

struct Block {
    std::vector<Fiber> fibers = std::vector<Fiber>(MAX_THREADS);
    int threads = 0;
    void* scheduler_sp = nullptr;
    Fiber* running = nullptr;
    void (*body)(void*) = nullptr;
    void* body_context = nullptr;
    unsigned char exchange[2][MAX_THREADS][64];
    std::vector<unsigned char> dynamic_shared;
};

Block* the_block = nullptr;
std::string launch_error;

void start(Fiber& f, unsigned index) {
    if (f.stack == nullptr) {
        void* mem = mmap(nullptr, PAGE_BYTES + STACK_BYTES, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (mem == MAP_FAILED || mprotect(mem, PAGE_BYTES, PROT_NONE) != 0) {
            fprintf(stderr, "ladon cuda emulator: cannot map a fiber stack\n");
            abort();
        }
        f.stack = static_cast<unsigned char*>(mem) + PAGE_BYTES;
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
    f.index = uint3{index, 0, 0};
    f.exchanges = 0;
    f.async_copies.clear();
    f.async_groups = 0;
    f.state = State::READY;
}

void wait_at(State barrier) {
    Fiber* f = the_block->running;
    f->state = barrier;
    ladon_emu_switch_stack(&f->sp, the_block->scheduler_sp);
}

// Runs every READY fiber until it waits or returns, in the given order.
void run_ready_fibers(Block& b, bool first_to_last) {
    for (int n = 0; n < b.threads; n++) {
        Fiber& f = b.fibers[first_to_last ? n : b.threads - 1 - n];
        if (f.state != State::READY) continue;
        b.running = &f;
        thread_index = f.index;
        ladon_emu_switch_stack(&b.scheduler_sp, f.sp);
    }
}

// Opens the barrier of each warp whose live lanes all wait at a shuffle; false (after fail_launch) for a
// shuffle that lanes which already returned should take part in (the kernels' shuffles name the whole
// warp, and on a GPU a named lane that has returned makes the result undefined).
bool open_warp_barriers(Block& b, bool& opened) {
    for (int start = 0; start < b.threads; start += 32) {
        int end = std::min(start + 32, b.threads), waiting = 0, returned = 0;
        for (int i = start; i < end; i++) {
            waiting += b.fibers[i].state == State::AT_WARP_BARRIER;
            returned += b.fibers[i].state == State::DONE;
        }
        if (waiting == 0 || waiting + returned < end - start) continue;
        if (returned > 0) {
            fail_launch("%s: block (%u, %u, %u), warp %d: a shuffle over the whole warp after %d of its lanes "
                        "returned", current_launch.kernel, block_index.x, block_index.y, block_index.z, start / 32,
                        returned);
            return false;
        }
        for (int i = start; i < end; i++) b.fibers[i].state = State::READY;
        opened = true;
    }
    return true;
}

// Runs one block to the end. Returns false (after fail_launch) when its threads wait at barriers that
// can never open: lanes of one warp at different barriers, or a warp barrier with lanes that returned.
bool run_block(Block& b, bool first_to_last) {
    for (int i = 0; i < b.threads; i++) start(b.fibers[i], (unsigned)i);
    for (;; first_to_last = !first_to_last) {
        run_ready_fibers(b, first_to_last);
        bool opened = false;
        if (!open_warp_barriers(b, opened)) return false;
        if (opened) continue;
        int live = 0, at_block_barrier = 0;
        for (int i = 0; i < b.threads; i++) {
            live += b.fibers[i].state != State::DONE;
            at_block_barrier += b.fibers[i].state == State::AT_BLOCK_BARRIER;
        }
        if (live == 0) return true;
        if (at_block_barrier < live) {
            fail_launch("%s: block (%u, %u, %u) is stuck: %d of %d live threads wait at __syncthreads, the others "
                        "at a warp shuffle, so some warp's lanes are at different barriers",
                        current_launch.kernel, block_index.x, block_index.y, block_index.z, at_block_barrier, live);
            return false;
        }
        // Threads that returned count as arrived, as on a GPU.
        for (int i = 0; i < b.threads; i++) {
            if (b.fibers[i].state == State::AT_BLOCK_BARRIER) b.fibers[i].state = State::READY;
        }
    }
}

}  // namespace

extern "C" void ladon_emu_fiber_main(void* fiber) {
    Block* b = the_block;
    b->body(b->body_context);
    Fiber* f = static_cast<Fiber*>(fiber);
    if (!f->async_copies.empty()) {
        fail_launch("%s: block (%u, %u, %u), thread %u ended with %zu cp.async copies it never waited for",
                    current_launch.kernel, block_index.x, block_index.y, block_index.z, f->index.x,
                    f->async_copies.size());
    }
    f->state = State::DONE;
    void* ignored;
    ladon_emu_switch_stack(&ignored, b->scheduler_sp);
    abort();  // a finished fiber is never resumed
}

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

std::string take_launch_error() {
    std::string e;
    e.swap(launch_error);
    return e;
}

void sync_block() { wait_at(State::AT_BLOCK_BARRIER); }

void sync_warp() { wait_at(State::AT_WARP_BARRIER); }

unsigned char* warp_exchange() {
    Fiber* f = the_block->running;
    int warp = (int)(thread_index.x >> 5);
    return the_block->exchange[f->exchanges++ & 1][warp * 32];
}

bool check_shuffle(unsigned mask, int source) {
    int warp_start = (int)(thread_index.x & ~31u);
    if (mask != 0xffffffffu) {
        fail_launch("%s: a shuffle with mask 0x%x: the emulator runs whole-warp shuffles only", current_launch.kernel,
                    mask);
        return false;
    }
    if (source < 0 || source >= 32 || warp_start + source >= (int)block_dim.x) {
        fail_launch("%s: thread %u shuffles from lane %d, which its warp does not have (block of %u threads)",
                    current_launch.kernel, thread_index.x, source, block_dim.x);
        return false;
    }
    return true;
}

unsigned char* dynamic_shared() { return the_block->dynamic_shared.data(); }

void async_copy(void* destination, const void* source, int bytes, int source_bytes) {
    if (bytes > 16 || source_bytes < 0 || source_bytes > bytes) {
        fail_launch("%s: cp.async of %d bytes reading %d of them", current_launch.kernel, bytes, source_bytes);
        return;
    }
    Fiber* f = the_block->running;
    AsyncCopy c{destination, {}, bytes, f->async_groups};
    std::memcpy(c.bytes, source, (size_t)source_bytes);
    f->async_copies.push_back(c);
}

void async_commit() { the_block->running->async_groups++; }

void async_wait(int pending) {
    Fiber* f = the_block->running;
    std::vector<AsyncCopy> later;
    for (const AsyncCopy& c : f->async_copies) {
        if (c.group < f->async_groups - pending) {
            std::memcpy(c.destination, c.bytes, (size_t)c.size);
        } else {
            later.push_back(c);
        }
    }
    f->async_copies.swap(later);
}

void run_grid(void (*body)(void*), void* context) {
    if (the_block == nullptr) the_block = new Block();
    Block& b = *the_block;
    const Launch& c = current_launch;
    b.body = body;
    b.body_context = context;
    b.threads = (int)c.block.x;
    b.dynamic_shared.resize(c.shared_bytes);
    grid_dim = c.grid;
    block_dim = c.block;
    bool blocks_backwards = c.number % 2 == 1;
    unsigned long long count = (unsigned long long)c.grid.x * c.grid.y * c.grid.z;
    for (unsigned long long n = 0; n < count; n++) {
        unsigned long long i = blocks_backwards ? count - 1 - n : n;
        block_index = uint3{(unsigned)(i % c.grid.x), (unsigned)(i / c.grid.x % c.grid.y),
                            (unsigned)(i / c.grid.x / c.grid.y)};
        // Shared memory starts as garbage on a GPU; NaN bytes here, as for fresh device memory.
        std::fill(b.dynamic_shared.begin(), b.dynamic_shared.end(), (unsigned char)0xff);
        blocks_started++;
        bool threads_first_to_last = (block_index.x + block_index.y + block_index.z + c.number) % 2 == 0;
        if (!run_block(b, threads_first_to_last)) return;
    }
}

}  // namespace ladon_emu

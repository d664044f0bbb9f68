// Blocks run one after another; a block's threads are fibers of the calling thread, resumed round-robin (first to last,
// or last to first: set_reverse_thread_order). A thread runs
// until it reaches a barrier (__syncthreads) or a warp collective, arrives there and yields until the last live thread
// of its block or warp arrives; the scheduler skips threads whose barrier has not completed. Warp collectives exchange
// data through per-lane slots, two sets used in turn (a lane cannot reach the collective after next before every lane
// has read this one), so one wait suffices. Threads that return early count as arrived at every later barrier, as on
// the GPU. A round in which no thread arrives, passes a barrier or finishes is a deadlock, reported instead of hanging.
// Fibers switch with a few instructions (iip_switch_stack below; ucontext's swapcontext makes a system call per switch,
// which took 70% of the time).
#include "block_scheduler.h"

#include <sys/mman.h>

#include <cstdio>
#include <vector>

#if !defined(__x86_64__)
#error "the kernel emulator's fiber switch is written for x86-64 (System V ABI)"
#endif

// iip_switch_stack(save, next): pushes the callee-saved registers, stores the stack pointer in *save, loads `next` as
// the stack pointer, pops the registers saved there and returns into that fiber (System V x86-64: rbx, rbp, r12-r15
// are callee-saved; the SSE and x87 control words are shared by all fibers and not switched).
asm(R"(
    .text
    .globl iip_switch_stack
    .hidden iip_switch_stack
    .type iip_switch_stack, @function
iip_switch_stack:
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
    .size iip_switch_stack, .-iip_switch_stack
)");

extern "C" void iip_switch_stack(void** save, void* next);

namespace iip_emulation {
namespace {

constexpr int WarpSize = 32;
constexpr size_t StackBytes = 256 * 1024, GuardBytes = 4096;  // per fiber, with a no-access page below to catch overflow

// A group of threads that meet at barriers: the block, or one warp.
struct Group {
    int size = 0, arrived = 0, exited = 0;
    unsigned generation = 0;  // counts completed barriers
};

// What one lane contributes to a warp collective.
struct Slot {
    uint32_t a[4], b[2];
    float c[4], d[4];  // mma: the lane's accumulators in, its results out
    const void* address;
    float value;
};

struct Warp : Group {
    Slot slots[2][WarpSize];
    unsigned computed[2] = {~0u, ~0u};  // the generation whose mma results slot set i holds
};

struct Fiber {
    void* stack_pointer = nullptr;  // saved by iip_switch_stack while the fiber is not running
    void* stack = nullptr;          // StackBytes above a guard page, kept for later launches
    dim3 index;
    int warp = 0, lane = 0;
    bool finished = false;
    const Group* waiting = nullptr;  // the barrier this fiber waits at, and its generation
    unsigned waiting_generation = 0;
};

struct Launch {
    const std::function<void()>* body = nullptr;
    dim3 grid, block, block_index;
    std::vector<Fiber> fibers;  // grows to the largest block seen
    std::vector<Warp> warps;
    Group block_group;
    std::vector<uint4> dynamic_shared;  // 16-byte aligned
    void* scheduler_stack_pointer = nullptr;
    Fiber* current = nullptr;
    bool progress = false;
};

Launch state;  // one launch at a time (the driver's lock)
bool reverse_order = false;

void* allocate_stack() {
    void* base = mmap(nullptr, StackBytes + GuardBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) return nullptr;
    mprotect(base, GuardBytes, PROT_NONE);
    return static_cast<char*>(base) + GuardBytes;
}

void release(Group& g) {
    g.arrived = 0;
    ++g.generation;
    state.progress = true;
}

// Arrives at the group's barrier of generation `generation` and returns once every live member has arrived.
void arrive_and_wait(Group& g, unsigned generation) {
    state.progress = true;
    if (++g.arrived + g.exited == g.size) {
        release(g);
        return;
    }
    Fiber& me = *state.current;
    me.waiting = &g;
    me.waiting_generation = generation;
    while (g.generation == generation) iip_switch_stack(&me.stack_pointer, state.scheduler_stack_pointer);
    me.waiting = nullptr;
}

void leave(Group& g) {
    ++g.exited;
    if (g.arrived > 0 && g.arrived + g.exited == g.size) release(g);
}

// Where a new fiber starts (entered by iip_switch_stack's ret); it never returns: it switches to the scheduler for good.
[[noreturn]] void fiber_main() {
    (*state.body)();
    Fiber& me = *state.current;
    me.finished = true;
    state.progress = true;
    leave(state.block_group);
    leave(state.warps[me.warp]);
    iip_switch_stack(&me.stack_pointer, state.scheduler_stack_pointer);
    __builtin_unreachable();
}

// A stack that iip_switch_stack enters at fiber_main: six zero registers to pop, then fiber_main as the return address,
// placed so the stack pointer is 8 mod 16 on entry, as after a call.
void* fresh_stack(void* stack) {
    auto* top = reinterpret_cast<uintptr_t*>(static_cast<char*>(stack) + StackBytes);  // 16-byte aligned
    top[-1] = 0;
    top[-2] = reinterpret_cast<uintptr_t>(&fiber_main);
    for (int i = 3; i <= 8; ++i) top[-i] = 0;
    return top - 8;
}

// The calling lane deposits into its slot, waits for the warp, then collects from all 32 slots (collect gets the
// warp and the generation too, for work done once per warp).
template <class Deposit, class Collect>
void warp_exchange(Deposit deposit, Collect collect) {
    Fiber& me = *state.current;
    Warp& w = state.warps[me.warp];
    const unsigned generation = w.generation;
    Slot* slots = w.slots[generation & 1];
    deposit(slots[me.lane]);
    arrive_and_wait(w, generation);
    collect(slots, me.lane, w, generation);
}

// Every fp16 bit pattern as a float (256 KiB), for the MMA's operand reads.
const std::vector<float> HalfToFloat = [] {
    std::vector<float> table(65536);
    for (unsigned bits = 0; bits < 65536; ++bits) table[bits] = __half2float(__ushort_as_half((unsigned short)bits));
    return table;
}();

float half_of(uint32_t word, int high) { return HalfToFloat[high ? word >> 16 : word & 0xffffu]; }

uint32_t pack_halves(__half lo, __half hi) { return (uint32_t)lo.bits | ((uint32_t)hi.bits << 16); }

}  // namespace

const dim3& thread_index() { return state.current->index; }
const dim3& block_index() { return state.block_index; }
const dim3& block_dim() { return state.block; }
const dim3& grid_dim() { return state.grid; }
unsigned char* dynamic_shared_memory() { return reinterpret_cast<unsigned char*>(state.dynamic_shared.data()); }

void sync_block() { arrive_and_wait(state.block_group, state.block_group.generation); }

float shfl_xor(float value, int lane_mask) {
    float result = 0.0f;
    warp_exchange([&](Slot& s) { s.value = value; },
                  [&](const Slot* slots, int lane, Warp&, unsigned) { result = slots[(lane ^ lane_mask) & 31].value; });
    return result;
}

// With g = lane / 4, t = lane % 4 (kernels/common.cuh): lane (g, t) holds A[g][2t..], A[g+8][2t..], A[g][2t+8..],
// A[g+8][2t+8..] in a[0..3], B[2t..][g] and B[2t+8..][g] in b0, b1, and C/D[g][2t..], D[g+8][2t..] in d[0..3].
// D = A B + C, each output summed over k in order in fp32 (fp16 products are exact in fp32). The first lane to collect
// computes the whole 16 x 8 D for the warp into the slots.
void compute_mma(Slot* slots) {
    float a[16][16], b[16][8], d[16][8];
    for (int lane = 0; lane < WarpSize; ++lane) {
        const Slot& s = slots[lane];
        const int g = lane >> 2, t = lane & 3;
        for (int h = 0; h < 2; ++h) {
            a[g][2 * t + h] = half_of(s.a[0], h);
            a[g + 8][2 * t + h] = half_of(s.a[1], h);
            a[g][2 * t + 8 + h] = half_of(s.a[2], h);
            a[g + 8][2 * t + 8 + h] = half_of(s.a[3], h);
            b[2 * t + h][g] = half_of(s.b[0], h);
            b[2 * t + 8 + h][g] = half_of(s.b[1], h);
            d[g][2 * t + h] = s.c[h];
            d[g + 8][2 * t + h] = s.c[2 + h];
        }
    }
    for (int row = 0; row < 16; ++row)
        for (int k = 0; k < 16; ++k)
            for (int col = 0; col < 8; ++col) d[row][col] += a[row][k] * b[k][col];
    for (int lane = 0; lane < WarpSize; ++lane) {
        const int g = lane >> 2, t = lane & 3;
        for (int e = 0; e < 4; ++e) slots[lane].d[e] = d[g + (e >> 1) * 8][2 * t + (e & 1)];
    }
}

void mma_m16n8k16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    warp_exchange(
        [&](Slot& s) {
            for (int i = 0; i < 4; ++i) s.a[i] = a[i], s.c[i] = d[i];
            s.b[0] = b0;
            s.b[1] = b1;
        },
        [&](Slot* slots, int lane, Warp& w, unsigned generation) {
            if (w.computed[generation & 1] != generation) {
                compute_mma(slots);
                w.computed[generation & 1] = generation;
            }
            for (int e = 0; e < 4; ++e) d[e] = slots[lane].d[e];
        });
}

// Lane i addresses row i % 8 of matrix i / 8; register q of lane (g, t) receives matrix q's [row 2t][col g] (low half)
// and [row 2t + 1][col g] (high half).
void ldmatrix_x4_trans(uint32_t (&r)[4], const void* row_address) {
    warp_exchange([&](Slot& s) { s.address = row_address; },
                  [&](const Slot* slots, int lane, Warp&, unsigned) {
                      const int g = lane >> 2, t = lane & 3;
                      for (int q = 0; q < 4; ++q) {
                          const __half* row0 = static_cast<const __half*>(slots[q * 8 + 2 * t].address);
                          const __half* row1 = static_cast<const __half*>(slots[q * 8 + 2 * t + 1].address);
                          r[q] = pack_halves(row0[g], row1[g]);
                      }
                  });
}

void set_reverse_thread_order(bool reverse) { reverse_order = reverse; }

std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block, unsigned dynamic_shared_bytes) {
    const int threads = (int)(block.x * block.y * block.z), warp_count = (threads + WarpSize - 1) / WarpSize;
    state.body = &body;
    state.grid = grid;
    state.block = block;
    // the launch's bytes, then a guard that must survive each block (a kernel that writes past its dynamic shared memory)
    const size_t guard_vectors = 64, shared_vectors = (dynamic_shared_bytes + 15) / 16;
    state.dynamic_shared.assign(shared_vectors + guard_vectors, uint4{});
    unsigned char* const guard = reinterpret_cast<unsigned char*>(state.dynamic_shared.data() + shared_vectors);
    while ((int)state.fibers.size() < threads) {
        Fiber f;
        f.stack = allocate_stack();
        if (f.stack == nullptr) return "out of host memory for " + std::to_string(threads) + " thread stacks";
        state.fibers.push_back(f);
    }
    state.warps.assign(warp_count, Warp{});
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                state.block_index = {bx, by, bz};
                // uninitialized shared memory reads as NaN (fp16 and fp32 alike), as a check that kernels write before reading
                std::memset(state.dynamic_shared.data(), 0xff, shared_vectors * sizeof(uint4));
                std::memset(guard, 0xa5, guard_vectors * sizeof(uint4));
                state.block_group = Group{threads, 0, 0, 0};
                for (int w = 0; w < warp_count; ++w) {
                    state.warps[w].size = std::min(WarpSize, threads - w * WarpSize);
                    state.warps[w].arrived = state.warps[w].exited = 0;
                    state.warps[w].computed[0] = state.warps[w].computed[1] = ~0u;
                }
                for (int i = 0; i < threads; ++i) {
                    Fiber& f = state.fibers[i];
                    f.stack_pointer = fresh_stack(f.stack);
                    f.waiting = nullptr;
                    f.index = {(unsigned)i % block.x, (unsigned)i / block.x % block.y, (unsigned)i / (block.x * block.y)};
                    f.warp = i / WarpSize;
                    f.lane = i % WarpSize;
                    f.finished = false;
                }
                int remaining = threads;
                while (remaining > 0) {
                    state.progress = false;
                    for (int n = 0; n < threads; ++n) {
                        Fiber& f = state.fibers[reverse_order ? threads - 1 - n : n];
                        if (f.finished || (f.waiting != nullptr && f.waiting->generation == f.waiting_generation)) continue;
                        state.current = &f;
                        iip_switch_stack(&state.scheduler_stack_pointer, f.stack_pointer);
                        if (f.finished) --remaining;
                    }
                    if (!state.progress && remaining > 0) {
                        return "deadlock in block (" + std::to_string(bx) + ", " + std::to_string(by) + ", " + std::to_string(bz) + "): "
                               + std::to_string(remaining) + " of " + std::to_string(threads)
                               + " threads wait at a barrier or warp collective that the others never reach";
                    }
                }
                for (size_t i = 0; i < guard_vectors * sizeof(uint4); ++i)
                    if (guard[i] != 0xa5)
                        return "block (" + std::to_string(bx) + ", " + std::to_string(by) + ", " + std::to_string(bz) + ") wrote past its "
                               + std::to_string(dynamic_shared_bytes) + " bytes of dynamic shared memory";
            }
    state.current = nullptr;
    return {};
}

}  // namespace iip_emulation

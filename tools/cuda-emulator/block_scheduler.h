// Runs a kernel launch on the host: blocks one after another, each block's threads as fibers of the calling thread,
// switched at barriers and warp collectives (device_runtime.h). Not thread-safe: the driver (driver.cpp) holds its
// lock around every launch.
#pragma once

#include <functional>
#include <string>

#include "device_runtime.h"

namespace iip_emulation {

// Runs body() once per thread of every block of the grid. Returns an empty string, or what went wrong (a deadlock:
// threads waiting at a barrier that the others never reach).
std::string run_grid(const std::function<void()>& body, dim3 grid, dim3 block, unsigned dynamic_shared_bytes);

// Resume a block's threads last to first instead of first to last: threads then reach shared memory in the other
// order between barriers, so a kernel that relies on an order the GPU does not promise gives other results.
void set_reverse_thread_order(bool reverse);

}  // namespace iip_emulation

// What the emulator's runtime files share (blocks.cpp runs a launch, driver.cpp makes it, and
// tensor_cores.cpp computes the mma instructions inside it). Not seen by the kernels.
#pragma once
#include <string>

#include "cuda_emulator.h"

namespace ladon_emu {

// The launch being made: which kernel, its geometry, and its number among that kernel's launches (the
// order in which blocks and threads run alternates with it).
struct Launch {
    const char* kernel;
    uint3 grid, block;
    size_t shared_bytes;
    unsigned long long number;
};
extern Launch current_launch;

// Records the launch's first problem and prints it; the driver reports it as a failed launch.
void fail_launch(const char* format, ...) __attribute__((format(printf, 1, 2)));

// The recorded problem, cleared: empty when there was none.
std::string take_launch_error();

}  // namespace ladon_emu

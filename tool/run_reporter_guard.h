// A RunReporter that never lets an exception out: `wandb-job exec` must run the program even
// when reporting it breaks on a damaged store file or an odd server reply.
#pragma once

#include <memory>

#include "exec_shim.h"

namespace wandb_job {

/// `inner` with its exceptions caught. One thrown by Start disables reporting with a warning
/// (the program still runs, unreported); one thrown by any other call makes that call fail with
/// the exception's message, which the caller reports as a warning.
std::unique_ptr<RunReporter> GuardReporter(std::unique_ptr<RunReporter> inner);

}  // namespace wandb_job

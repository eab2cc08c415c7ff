// A RunReporter that never lets an exception out: `wandb-job exec` must run the program even
// when reporting it breaks on a damaged store file or an odd server reply.
#pragma once

#include <memory>

#include "exec_shim.h"

namespace wandb_job {

/// `inner` with its failures contained. When Start fails or throws, reporting is off with a
/// warning and the program runs unreported, so the caller checks its inputs (run ID, job
/// reference) first; an exception from any other call makes that call fail with the exception's
/// message, which the caller reports as a warning.
std::unique_ptr<RunReporter> GuardReporter(std::unique_ptr<RunReporter> inner);

}  // namespace wandb_job

#include "job_views.h"

#include <gtest/gtest.h>

namespace wandb_job {
namespace {}  // namespace
}  // namespace wandb_job

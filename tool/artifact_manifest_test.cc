#include "artifact_manifest.h"

#include <gtest/gtest.h>

namespace wandb_job {
namespace {}  // namespace
}  // namespace wandb_job

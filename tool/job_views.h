// The views of the Jobs page, as text and as JSON: the job list (`wandb-job ls`) and one job's
// details, versions and runs (`wandb-job show`). Rendering only: the data comes from a store.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "job_store.h"

namespace wandb_job {

}  // namespace wandb_job

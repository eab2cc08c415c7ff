#include "job_spec.h"

namespace wandb_job {}  // namespace wandb_job

#include "job_views.h"

namespace wandb_job {}  // namespace wandb_job

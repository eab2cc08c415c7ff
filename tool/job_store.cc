#include "job_store.h"

namespace wandb_job {}  // namespace wandb_job

#include "lockfile.h"

namespace wandb_job {}  // namespace wandb_job

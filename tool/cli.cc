#include "cli.h"

namespace wandb_job {}  // namespace wandb_job

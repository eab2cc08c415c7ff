#include "path_filter.h"

namespace wandb_job {}  // namespace wandb_job

#include "wandb_types.h"

namespace wandb_job {}  // namespace wandb_job

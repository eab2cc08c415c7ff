#include "hash.h"

namespace wandb_job {}  // namespace wandb_job

#include "publish.h"

namespace wandb_job {}  // namespace wandb_job

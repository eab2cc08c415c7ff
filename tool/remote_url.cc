#include "remote_url.h"

namespace wandb_job {}  // namespace wandb_job

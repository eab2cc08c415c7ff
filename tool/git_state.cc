#include "git_state.h"

namespace wandb_job {}  // namespace wandb_job

#include "file_util.h"

namespace wandb_job {}  // namespace wandb_job

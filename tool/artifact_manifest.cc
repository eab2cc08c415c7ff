#include "artifact_manifest.h"

namespace wandb_job {}  // namespace wandb_job

#include "elf_closure.h"

namespace wandb_job {}  // namespace wandb_job

// ~/.docker/config.json. Credential helpers are looked up in an empty PATH, so none runs.
#include <stdlib.h>

#include <string>

#include "docker_config.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool path_emptied = [] {
    return setenv("PATH", (wandb_job_fuzz::ScratchDir() + "/no-programs").c_str(), 1) == 0;
  }();
  (void)path_emptied;
  wandb_job_fuzz::WriteScratchFile("config.json", wandb_job_fuzz::AsView(data, size));
  for (const char* registry : {"registry-1.docker.io", "localhost:5000", "r.io"}) {
    wandb_job::RegistryCredentials credentials;
    std::string err;
    (void)wandb_job::LookUpRegistryCredentials(registry, wandb_job_fuzz::ScratchDir(),
                                               &credentials, &err);
  }
  return 0;
}

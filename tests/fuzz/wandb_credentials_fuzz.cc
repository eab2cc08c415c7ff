// netrc files, WANDB_BASE_URL and API keys: the first line is a base URL, the rest a netrc file.
#include <string>

#include "fuzz_util.h"
#include "wandb_credentials.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view netrc;
  std::string_view url = wandb_job_fuzz::SplitFirst(wandb_job_fuzz::AsView(data, size), '\n', &netrc);
  std::string normalized, err, password;
  bool found = false;
  std::string machine = wandb_job::NormalizeBaseUrl(url, &normalized, &err)
                            ? wandb_job::NetrcMachine(normalized)
                            : "api.wandb.ai";
  if (wandb_job::NetrcPassword(netrc, machine, &password, &found, &err) && found) {
    (void)wandb_job::ValidateApiKey(password, &err);
  }
  wandb_job::WandbMode mode;
  (void)wandb_job::ParseWandbMode(url, &mode, &err);
  return 0;
}

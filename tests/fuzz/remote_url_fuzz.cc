// Git remote URLs from .git/config: credentials are stripped whatever the URL looks like, and
// stripping is idempotent.
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "remote_url.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view url = wandb_job_fuzz::AsView(data, size);
  std::string once = wandb_job::StripUrlCredentials(url);
  if (wandb_job::StripUrlCredentials(once) != once) {
    abort();
  }
  (void)wandb_job::ClassifyRemote(url);
  (void)wandb_job::AgentCanClone(once);
  return 0;
}

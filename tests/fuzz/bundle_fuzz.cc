// A bundle read back for publishing (it sits in the build tree, where anything may have touched
// it): the input is bundle.json, then a NUL byte and the text of manifest.json, which the
// artifacts may name.
#include <string>

#include "bundle.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view manifest;
  std::string_view bundle_json =
      wandb_job_fuzz::SplitFirst(wandb_job_fuzz::AsView(data, size), '\0', &manifest);
  wandb_job_fuzz::WriteScratchFile("bundle.json", bundle_json);
  wandb_job_fuzz::WriteScratchFile("manifest.json", manifest);
  wandb_job::Bundle bundle;
  std::string err;
  if (wandb_job::LoadBundle(wandb_job_fuzz::ScratchDir(), &bundle, &err)) {
    (void)bundle.ResolveProject();
  }
  return 0;
}

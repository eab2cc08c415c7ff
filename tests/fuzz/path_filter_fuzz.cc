// .wandbignore files and EXCLUDE patterns: the first line is a path, the rest an ignore file.
#include "fuzz_util.h"
#include "path_filter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest;
  std::string_view path = wandb_job_fuzz::SplitFirst(wandb_job_fuzz::AsView(data, size), '\n', &rest);
  wandb_job::IgnoreRules rules;
  if (rules.AddFile(rest, "sub")) {
    (void)rules.IsExcluded(path, false);
    (void)rules.IsExcluded(path, true);
  }
  std::string_view pattern = wandb_job_fuzz::SplitFirst(rest, '\n', &rest);
  if (pattern.size() <= wandb_job::IgnoreRules::kMaxPatternBytes) {
    (void)wandb_job::GlobMatch(pattern, path);
  }
  (void)wandb_job::LooksLikeSecret(path);
  return 0;
}

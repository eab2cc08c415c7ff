// The ARGS template against a config: the first line is the config JSON (as WANDB_CONFIG
// gives it at run time), each further line one template argument.
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "job_args.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest;
  std::string_view config = wandb_job_fuzz::SplitFirst(wandb_job_fuzz::AsView(data, size), '\n', &rest);
  std::vector<std::string> args_template;
  while (!rest.empty()) {
    args_template.emplace_back(wandb_job_fuzz::SplitFirst(rest, '\n', &rest));
  }
  std::vector<std::string> out;
  std::string err;
  (void)wandb_job::RenderArgs(args_template, std::string(config), &out, &err);
  return 0;
}

// Which files make up a job's code: the files needed to rebuild the target, chosen from the work
// tree (tracked and untracked-not-ignored) or the source directory outside git, minus build
// directories, secrets, .wandbignore and EXCLUDE patterns.
#pragma once

#include <string>
#include <vector>

namespace wandb_job {

struct CodeSelectionInput {
  std::string code_dir;     // absolute
  std::string git_root;     // absolute work tree root, or "" outside git
  std::string binary_dir;   // never packaged when inside code_dir
  std::vector<std::string> exclude;      // EXCLUDE patterns, gitignore syntax, relative to code_dir
  std::vector<std::string> extra_files;  // absolute; must lie inside code_dir
};

struct CodeSelection {
  std::vector<std::string> files;            // relative to code_dir, sorted
  std::vector<std::string> secrets_skipped;  // relative to code_dir
  std::vector<std::string> ignore_files;     // absolute paths of the .wandbignore files read
};

/// Lists the code files. Secrets are reported in `secrets_skipped` (the caller warns) and never
/// listed, even when EXCLUDE or .wandbignore would re-include them.
bool SelectCodeFiles(const CodeSelectionInput& input, CodeSelection* out, std::string* err);

}  // namespace wandb_job

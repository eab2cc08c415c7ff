// Which files make up a job's code: the files needed to rebuild the target, chosen from the work
// tree (tracked and untracked-not-ignored) or the source directory outside git, minus build
// directories, secrets, .wandbignore and EXCLUDE patterns.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wandb_job {

struct CodeSelectionInput {
  std::string code_dir;     // absolute
  std::string git_root;     // absolute work tree root, or "" outside git
  std::string binary_dir;   // never packaged when inside code_dir
  std::vector<std::string> exclude;      // EXCLUDE patterns, gitignore syntax, relative to code_dir
  std::vector<std::string> extra_files;  // absolute; must lie inside code_dir
  /// A file larger than this is an error naming it; 0: no limit.
  uint64_t max_file_bytes = 0;
};

/// A file of the tree that is not taken, and why ("a FIFO", "a symlink out of the code
/// directory").
struct LeftOutFile {
  std::string path;  // relative to code_dir
  std::string reason;
};

struct CodeSelection {
  std::vector<std::string> files;            // relative to code_dir, sorted
  std::vector<std::string> secrets_skipped;  // relative to code_dir
  std::vector<std::string> ignore_files;     // absolute paths of the .wandbignore files read
  std::vector<LeftOutFile> left_out;         // not regular files, or links not followed
};

/// Lists the code files. Secrets are reported in `secrets_skipped` (the caller warns) and never
/// listed, even when EXCLUDE or .wandbignore would re-include them. Only regular files are
/// listed, and a symlink only when it resolves to a listed file inside code_dir (docs/bundle.md):
/// nothing outside code_dir is ever read. The rest is reported in `left_out`.
bool SelectCodeFiles(const CodeSelectionInput& input, CodeSelection* out, std::string* err);

}  // namespace wandb_job

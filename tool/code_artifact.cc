#include "code_artifact.h"

#include <algorithm>
#include <set>

#include "file_util.h"
#include "git_state.h"
#include "path_filter.h"

namespace wandb_job {
namespace {

// Directories that hold a CMakeCache.txt are build trees: never source.
std::set<std::string> BuildDirsAmong(const std::vector<std::string>& files) {
  std::set<std::string> dirs;
  for (const std::string& f : files) {
    if (f == "CMakeCache.txt") {
      dirs.insert("");
    } else if (f.size() > 15 && f.compare(f.size() - 15, 15, "/CMakeCache.txt") == 0) {
      dirs.insert(f.substr(0, f.size() - 15));
    }
  }
  return dirs;
}

bool UnderAny(const std::string& rel, const std::set<std::string>& dirs) {
  for (const std::string& d : dirs) {
    if (d.empty() || (rel.size() > d.size() && rel.compare(0, d.size(), d) == 0 &&
                      rel[d.size()] == '/')) {
      return true;
    }
  }
  return false;
}

bool BaseNameIs(const std::string& rel, const char* name) {
  size_t slash = rel.rfind('/');
  return rel.compare(slash == std::string::npos ? 0 : slash + 1, std::string::npos, name) == 0;
}

}  // namespace

bool SelectCodeFiles(const CodeSelectionInput& input, CodeSelection* out, std::string* err) {
  std::vector<std::string> candidates;  // relative to code_dir
  if (!input.git_root.empty()) {
    std::vector<std::string> from_root;
    if (!ListWorkTreeFiles(input.git_root, input.code_dir, &from_root, err)) {
      return false;
    }
    for (const std::string& f : from_root) {
      std::string abs = JoinPath(input.git_root, f);
      if (IsWithin(abs, input.code_dir)) {
        candidates.push_back(RelativePath(abs, input.code_dir));
      }
    }
  } else {
    if (!WalkDirectory(input.code_dir,
                       [&](const DirEntry& e) {
                         if (e.is_dir) {
                           return e.relpath != ".git" && !BaseNameIs(e.relpath, ".git");
                         }
                         if (!BaseNameIs(e.relpath, ".git")) {
                           candidates.push_back(e.relpath);
                         }
                         return true;
                       },
                       err)) {
      return false;
    }
  }

  std::set<std::string> build_dirs = BuildDirsAmong(candidates);
  if (IsWithin(input.binary_dir, input.code_dir)) {
    std::string rel = RelativePath(input.binary_dir, input.code_dir);
    build_dirs.insert(rel == "." ? "" : rel);
  }

  // .wandbignore files anywhere in the code, each applying below its own directory.
  IgnoreRules rules;
  for (const std::string& f : candidates) {
    if (BaseNameIs(f, ".wandbignore") && !UnderAny(f, build_dirs)) {
      std::string text;
      std::string abs = JoinPath(input.code_dir, f);
      if (!ReadFile(abs, &text, err)) {
        return false;
      }
      size_t slash = f.rfind('/');
      if (!rules.AddFile(text, slash == std::string::npos ? "" : f.substr(0, slash))) {
        *err = abs + " has a pattern longer than " +
               std::to_string(IgnoreRules::kMaxPatternBytes) + " bytes; shorten it";
        return false;
      }
      out->ignore_files.push_back(abs);
    }
  }
  for (const std::string& pattern : input.exclude) {
    if (!rules.AddPattern(pattern)) {
      *err = "an EXCLUDE pattern is longer than " +
             std::to_string(IgnoreRules::kMaxPatternBytes) + " bytes; shorten it";
      return false;
    }
  }

  for (const std::string& extra : input.extra_files) {
    if (!IsWithin(extra, input.code_dir)) {
      *err = "extra file " + extra + " (WANDB_JOB_EXTRA_FILES) is outside the code directory " +
             input.code_dir + "; move it inside or set CODE_DIR";
      return false;
    }
    if (!FileExists(extra)) {
      *err = "extra file " + extra + " (WANDB_JOB_EXTRA_FILES) does not exist";
      return false;
    }
    candidates.push_back(RelativePath(extra, input.code_dir));
  }

  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  out->files.clear();
  out->secrets_skipped.clear();
  for (const std::string& f : candidates) {
    if (f == ".git" || f.rfind(".git/", 0) == 0 || UnderAny(f, build_dirs)) {
      continue;
    }
    if (LooksLikeSecret(f)) {
      out->secrets_skipped.push_back(f);
      continue;
    }
    if (!rules.empty() && rules.IsExcluded(f)) {
      continue;
    }
    out->files.push_back(f);
  }
  return true;
}

}  // namespace wandb_job

#include "code_artifact.h"

#include <sys/stat.h>

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

// The file a symlink leads to, relative to `real_code_dir`; false (with the reason) when it leads
// nowhere or out of the code directory. Its content is never opened here.
bool LinkTargetInside(const std::string& abs, const std::string& real_code_dir,
                      std::string* target_rel, std::string* reason) {
  std::string real;
  std::string ignored;
  if (!RealPath(abs, &real, &ignored)) {
    *reason = "a dangling symlink";
    return false;
  }
  if (!IsWithin(real, real_code_dir)) {
    *reason = "a symlink out of the code directory";
    return false;
  }
  *target_rel = RelativePath(real, real_code_dir);
  return true;
}

// A .wandbignore is read only when it is a regular file, or a link to one, inside the code.
bool ReadableRuleFile(const std::string& abs, const std::string& real_code_dir) {
  struct stat st;
  if (lstat(abs.c_str(), &st) != 0) {
    return false;
  }
  std::string target, reason;
  return S_ISREG(st.st_mode) ||
         (S_ISLNK(st.st_mode) && LinkTargetInside(abs, real_code_dir, &target, &reason) &&
          IsRegularFile(abs));
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

  std::string real_code_dir;
  if (!RealPath(input.code_dir, &real_code_dir, err)) {
    return false;
  }
  std::set<std::string> build_dirs = BuildDirsAmong(candidates);
  if (IsWithin(input.binary_dir, input.code_dir)) {
    std::string rel = RelativePath(input.binary_dir, input.code_dir);
    build_dirs.insert(rel == "." ? "" : rel);
  }

  // .wandbignore files anywhere in the code, each applying below its own directory.
  IgnoreRules rules;
  for (const std::string& f : candidates) {
    std::string abs = JoinPath(input.code_dir, f);
    if (BaseNameIs(f, ".wandbignore") && !UnderAny(f, build_dirs) &&
        ReadableRuleFile(abs, real_code_dir)) {
      std::string text;
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
  out->left_out.clear();
  std::vector<std::string> links;
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
    // lstat, never open: a FIFO blocks its reader, and a link's content may lie anywhere.
    struct stat st;
    std::string abs = JoinPath(input.code_dir, f);
    if (lstat(abs.c_str(), &st) != 0) {
      continue;  // vanished since it was listed
    }
    if (S_ISLNK(st.st_mode)) {
      links.push_back(f);
      continue;
    }
    if (!S_ISREG(st.st_mode)) {
      out->left_out.push_back({f, SpecialKind(st.st_mode)});
      continue;
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    if (input.max_file_bytes > 0 && size > input.max_file_bytes) {
      *err = f + " is " + std::to_string(size) + " bytes, over the limit of " +
             std::to_string(input.max_file_bytes) +
             " bytes per code file; leave it out (EXCLUDE or .wandbignore) or raise "
             "MAX_FILE_SIZE";
      return false;
    }
    out->files.push_back(f);
  }
  // A link is taken, as a copy of its target, only when the target is taken itself: a link can
  // never bring in a secret, an excluded file or anything outside the code directory.
  std::vector<std::string> targets = out->files;  // sorted
  for (const std::string& link : links) {
    std::string target, reason;
    if (!LinkTargetInside(JoinPath(input.code_dir, link), real_code_dir, &target, &reason)) {
      out->left_out.push_back({link, reason});
    } else if (!std::binary_search(targets.begin(), targets.end(), target)) {
      out->left_out.push_back({link, "a symlink to " + target + ", which is not taken itself"});
    } else {
      out->files.push_back(link);
    }
  }
  std::sort(out->files.begin(), out->files.end());
  return true;
}

}  // namespace wandb_job

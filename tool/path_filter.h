// Which files go into a code artifact: gitignore-syntax rules (.wandbignore, EXCLUDE) and the
// names that look like secrets. Pure string matching; no filesystem access.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace wandb_job {

/// An ordered list of gitignore-syntax patterns. The last matching pattern decides; "!" negates,
/// a trailing "/" matches directories only, a "/" at the start or in the middle anchors the
/// pattern to `base`, "*" and "?" do not cross "/", "**" does, "\" escapes.
class IgnoreRules {
 public:
  /// Longest pattern accepted (longer than any path): matching time grows with pattern length
  /// times path length, so a hostile .wandbignore can't make it unbounded.
  static constexpr size_t kMaxPatternBytes = 4096;

  /// Adds the lines of a .gitignore-style file whose directory is `base` (relative to the root
  /// the paths will be given in, "" for the root). Blank lines and "#" comments are skipped.
  /// Its rules apply only to paths below `base`. As in git, a deeper file overrides its parents:
  /// add the files of parent directories first. False (nothing added) when a line is longer
  /// than kMaxPatternBytes.
  bool AddFile(std::string_view text, std::string_view base = "");
  /// Adds one pattern, as if it were a line of a file in `base`. False (nothing added) when it
  /// is longer than kMaxPatternBytes.
  bool AddPattern(std::string_view pattern, std::string_view base = "");

  /// True when `relpath` ("/"-separated, relative to the root) is excluded, either itself or
  /// because one of its parent directories is (a file below an ignored directory can't be
  /// re-included, as in git).
  bool IsExcluded(std::string_view relpath, bool is_dir = false) const;

  bool empty() const { return rules_.empty(); }

 private:
  struct Rule {
    std::string base;
    std::string pattern;
    bool negate = false;
    bool dir_only = false;
    bool anchored = false;
  };
  /// nullptr-like: -1 no rule matched, 0 included, 1 excluded.
  int Match(std::string_view relpath, bool is_dir) const;
  std::vector<Rule> rules_;
};

/// Glob match of one gitignore-syntax pattern (no "!" or trailing "/") against a whole path, as
/// git's match_pathname() does it (literal prefix compared first; see path_filter.cc). Takes
/// polynomial time: `evaluations`, when given, receives the number of (pattern position, path
/// position) states evaluated, each at most once.
bool GlobMatch(std::string_view pattern, std::string_view path, size_t* evaluations = nullptr);

/// True for names that usually hold credentials: .env and .env.*, *.pem, *.key, *.p12, *.pfx,
/// id_rsa*, id_dsa*, id_ecdsa*, id_ed25519*, .netrc, _netrc, .npmrc, .pypirc, .git-credentials,
/// credentials* (any directory). Decided on the file name alone, ignoring ASCII case.
bool LooksLikeSecret(std::string_view relpath);

}  // namespace wandb_job

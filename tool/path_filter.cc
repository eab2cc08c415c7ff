#include "path_filter.h"

#include <cctype>
#include <cstdint>
#include <vector>

namespace wandb_job {

namespace {

// The glob matcher follows git's wildmatch() with WM_PATHNAME (no library in Debian implements
// gitignore's "**" rules; fnmatch(3) has no "**"), so results agree with `git check-ignore`.
enum class Wild { kMatch, kNoMatch, kAbortAll, kAbortToStarStar };

// A view with a NUL sentinel past the end, so the matcher can look one character ahead.
struct Cursor {
  std::string_view s;
  size_t i = 0;
  unsigned char at(size_t k) const { return k < s.size() ? static_cast<unsigned char>(s[k]) : 0; }
};

bool MatchesPosixClass(std::string_view name, unsigned char c, bool* known) {
  *known = true;
  if (name == "alnum") {
    return std::isalnum(c) != 0;
  }
  if (name == "alpha") {
    return std::isalpha(c) != 0;
  }
  if (name == "blank") {
    return c == ' ' || c == '\t';
  }
  if (name == "cntrl") {
    return std::iscntrl(c) != 0;
  }
  if (name == "digit") {
    return std::isdigit(c) != 0;
  }
  if (name == "graph") {
    return std::isgraph(c) != 0;
  }
  if (name == "lower") {
    return std::islower(c) != 0;
  }
  if (name == "print") {
    return std::isprint(c) != 0;
  }
  if (name == "punct") {
    return std::ispunct(c) != 0;
  }
  if (name == "space") {
    return std::isspace(c) != 0;
  }
  if (name == "upper") {
    return std::isupper(c) != 0;
  }
  if (name == "xdigit") {
    return std::isxdigit(c) != 0;
  }
  *known = false;
  return false;
}

// Matches the bracket expression starting at pattern[*p] == '[' against `t`. Advances *p to the
// closing ']'. Returns kMatch/kNoMatch, or kAbortAll for an unterminated class.
Wild MatchClass(const Cursor& pat, size_t* p, unsigned char t) {
  size_t q = *p;
  unsigned char pc = pat.at(++q);
  if (pc == '^') {
    pc = '!';
  }
  bool negated = pc == '!';
  if (negated) {
    pc = pat.at(++q);
  }
  unsigned char prev = 0;
  bool matched = false;
  do {
    if (pc == 0) {
      return Wild::kAbortAll;
    }
    if (pc == '\\') {
      pc = pat.at(++q);
      if (pc == 0) {
        return Wild::kAbortAll;
      }
      if (t == pc) {
        matched = true;
      }
    } else if (pc == '-' && prev != 0 && pat.at(q + 1) != 0 && pat.at(q + 1) != ']') {
      pc = pat.at(++q);
      if (pc == '\\') {
        pc = pat.at(++q);
        if (pc == 0) {
          return Wild::kAbortAll;
        }
      }
      if (t <= pc && t >= prev) {
        matched = true;
      }
      pc = 0;  // a range can't start another range
    } else if (pc == '[' && pat.at(q + 1) == ':') {
      size_t start = q + 2;
      size_t r = start;
      while (pat.at(r) != 0 && pat.at(r) != ']') {
        ++r;
      }
      if (pat.at(r) == 0) {
        return Wild::kAbortAll;
      }
      if (r < start + 1 || pat.at(r - 1) != ':') {
        // No ":]": a plain '[' in the set.
        if (t == '[') {
          matched = true;
        }
        pc = '[';
      } else {
        bool known = false;
        if (MatchesPosixClass(pat.s.substr(start, r - 1 - start), t, &known)) {
          matched = true;
        }
        if (!known) {
          return Wild::kAbortAll;
        }
        q = r;
        pc = 0;
      }
    } else if (t == pc) {
      matched = true;
    }
    prev = pc;
    pc = pat.at(++q);
  } while (pc != ']');
  *p = q;
  if (matched == negated || t == '/') {
    return Wild::kNoMatch;
  }
  return Wild::kMatch;
}

// git's wildmatch() recursing at every "*" can take exponential time ("**/" repeated: 107 bytes
// took seconds). Its result for a (pattern position, text position) pair depends on nothing else,
// so each pair is evaluated once and remembered: at most (pattern + 1) * (text + 1) evaluations,
// each scanning at most the pattern and the text.
class WildMatcher {
 public:
  WildMatcher(const Cursor& pat, std::string_view text) : pat_(pat), text_(text) {}

  Wild Match(size_t p, size_t t) {
    if (memo_.empty()) {
      memo_.assign((pat_.s.size() + 1) * (text_.size() + 1), 0);
    }
    uint8_t& slot = memo_[p * (text_.size() + 1) + t];
    if (slot == 0) {
      slot = static_cast<uint8_t>(Evaluate(p, t)) + 1;
    }
    return static_cast<Wild>(slot - 1);
  }

  // The whole match: position (0, 0) is never reached again (recursion starts after a "*").
  Wild Run() { return Evaluate(0, 0); }

  size_t evaluations() const { return evaluations_; }

 private:
  Wild Evaluate(size_t p, size_t t);

  const Cursor& pat_;
  std::string_view text_;
  std::vector<uint8_t> memo_;  // 0: not evaluated yet, else Wild + 1
  size_t evaluations_ = 0;
};

Wild WildMatcher::Evaluate(size_t p, size_t t) {
  ++evaluations_;
  const Cursor& pat = pat_;
  std::string_view text = text_;
  auto text_at = [&](size_t k) -> unsigned char {
    return k < text.size() ? static_cast<unsigned char>(text[k]) : 0;
  };
  for (; pat.at(p) != 0; ++t, ++p) {
    unsigned char pc = pat.at(p);
    unsigned char tc = text_at(t);
    if (tc == 0 && pc != '*') {
      return Wild::kAbortAll;
    }
    switch (pc) {
      case '\\':
        pc = pat.at(++p);
        if (tc != pc) {
          return Wild::kNoMatch;
        }
        continue;
      case '?':
        if (tc == '/') {
          return Wild::kNoMatch;
        }
        continue;
      case '[': {
        Wild w = MatchClass(pat, &p, tc);
        if (w != Wild::kMatch) {
          return w;
        }
        continue;
      }
      case '*': {
        bool match_slash = false;
        if (pat.at(p + 1) == '*') {
          bool at_start = p == 0 || pat.at(p - 1) == '/';
          ++p;
          while (pat.at(p + 1) == '*') {
            ++p;
          }
          ++p;  // first character after the stars
          unsigned char next = pat.at(p);
          if (at_start && (next == 0 || next == '/' || (next == '\\' && pat.at(p + 1) == '/'))) {
            // "**/" may match no directory at all: try the rest right here.
            if (next == '/' && Match(p + 1, t) == Wild::kMatch) {
              return Wild::kMatch;
            }
            match_slash = true;
          }
        } else {
          ++p;
        }
        if (pat.at(p) == 0) {
          // A trailing "**" matches everything; a trailing "*" only up to the next "/".
          if (!match_slash && text.find('/', t) != std::string_view::npos) {
            return Wild::kNoMatch;
          }
          return Wild::kMatch;
        }
        if (!match_slash && pat.at(p) == '/') {
          // "*/" matches one whole directory name.
          size_t slash = text.find('/', t);
          if (slash == std::string_view::npos) {
            return Wild::kNoMatch;
          }
          t = slash;
          // The loop's increments consume the "/" of both.
          break;
        }
        while (true) {
          unsigned char c = text_at(t);
          if (c == 0) {
            break;
          }
          Wild w = Match(p, t);
          if (w != Wild::kNoMatch) {
            if (!match_slash || w != Wild::kAbortToStarStar) {
              return w;
            }
          } else if (!match_slash && c == '/') {
            return Wild::kAbortToStarStar;
          }
          ++t;
        }
        return Wild::kAbortAll;
      }
      default:
        if (tc != pc) {
          return Wild::kNoMatch;
        }
        continue;
    }
  }
  return t < text.size() ? Wild::kNoMatch : Wild::kMatch;
}

// git's trim_trailing_spaces(): drops trailing spaces unless the first of them is escaped.
void TrimTrailingSpaces(std::string* s) {
  size_t last_space = std::string::npos;
  for (size_t i = 0; i < s->size(); ++i) {
    char c = (*s)[i];
    if (c == ' ') {
      if (last_space == std::string::npos) {
        last_space = i;
      }
    } else if (c == '\\') {
      ++i;
      if (i >= s->size()) {
        return;
      }
      last_space = std::string::npos;
    } else {
      last_space = std::string::npos;
    }
  }
  if (last_space != std::string::npos) {
    s->resize(last_space);
  }
}

std::string NormalizeBase(std::string_view base) {
  while (!base.empty() && base.front() == '/') {
    base.remove_prefix(1);
  }
  while (!base.empty() && base.back() == '/') {
    base.remove_suffix(1);
  }
  if (base == ".") {
    return "";
  }
  return std::string(base);
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view path, size_t* evaluations) {
  if (evaluations != nullptr) {
    *evaluations = 0;
  }
  // As git's match_pathname(): the literal prefix (up to the first of "*?[\\") is compared
  // first and cut off both sides before wildmatch runs. That is observable: a "**" right after
  // the prefix then counts as leading, so "b**/a" matches "ba" and "x/a**" matches "x/a/b/c",
  // exactly as `git check-ignore` reports.
  size_t prefix = pattern.find_first_of("*?[\\");
  if (prefix == std::string_view::npos) {
    return pattern == path;
  }
  if (path.size() < prefix || path.compare(0, prefix, pattern, 0, prefix) != 0) {
    return false;
  }
  Cursor pat{pattern.substr(prefix), 0};
  WildMatcher matcher(pat, path.substr(prefix));
  bool matched = matcher.Run() == Wild::kMatch;
  if (evaluations != nullptr) {
    *evaluations = matcher.evaluations();
  }
  return matched;
}

bool IgnoreRules::AddFile(std::string_view text, std::string_view base) {
  if (text.substr(0, 3) == "\xEF\xBB\xBF") {
    text.remove_prefix(3);  // git skips a UTF-8 byte order mark
  }
  IgnoreRules added;  // All lines or none.
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!added.AddPattern(line, base)) {
      return false;
    }
  }
  for (Rule& rule : added.rules_) {
    rules_.push_back(std::move(rule));
  }
  return true;
}

bool IgnoreRules::AddPattern(std::string_view pattern, std::string_view base) {
  if (!pattern.empty() && pattern.back() == '\r') {
    pattern.remove_suffix(1);
  }
  if (pattern.empty() || pattern.front() == '#') {
    return true;
  }
  if (pattern.size() > kMaxPatternBytes) {
    return false;
  }
  std::string p(pattern);
  TrimTrailingSpaces(&p);
  Rule rule;
  rule.base = NormalizeBase(base);
  if (!p.empty() && p.front() == '!') {
    rule.negate = true;
    p.erase(0, 1);
  }
  if (!p.empty() && p.back() == '/') {
    rule.dir_only = true;
    p.pop_back();
  }
  if (p.empty()) {
    return true;
  }
  rule.anchored = p.find('/') != std::string::npos;
  if (p.front() == '/') {
    p.erase(0, 1);
  }
  rule.pattern = std::move(p);
  rules_.push_back(std::move(rule));
  return true;
}

int IgnoreRules::Match(std::string_view relpath, bool is_dir) const {
  for (auto it = rules_.rbegin(); it != rules_.rend(); ++it) {
    const Rule& rule = *it;
    if (rule.dir_only && !is_dir) {
      continue;
    }
    std::string_view rel = relpath;
    if (!rule.base.empty()) {
      if (rel.size() <= rule.base.size() || rel.compare(0, rule.base.size(), rule.base) != 0 ||
          rel[rule.base.size()] != '/') {
        continue;
      }
      rel.remove_prefix(rule.base.size() + 1);
    }
    if (!rule.anchored) {
      size_t slash = rel.rfind('/');
      if (slash != std::string_view::npos) {
        rel.remove_prefix(slash + 1);
      }
    }
    if (GlobMatch(rule.pattern, rel)) {
      return rule.negate ? 0 : 1;
    }
  }
  return -1;
}

bool IgnoreRules::IsExcluded(std::string_view relpath, bool is_dir) const {
  while (relpath.substr(0, 2) == "./") {
    relpath.remove_prefix(2);
  }
  while (!relpath.empty() && relpath.front() == '/') {
    relpath.remove_prefix(1);
  }
  while (!relpath.empty() && relpath.back() == '/') {
    relpath.remove_suffix(1);
    is_dir = true;
  }
  if (relpath.empty() || rules_.empty()) {
    return false;
  }
  // Top-down, as git does: once a directory is excluded, nothing below it can come back.
  for (size_t slash = relpath.find('/'); slash != std::string_view::npos;
       slash = relpath.find('/', slash + 1)) {
    if (Match(relpath.substr(0, slash), true) == 1) {
      return true;
    }
  }
  return Match(relpath, is_dir) == 1;
}

bool LooksLikeSecret(std::string_view relpath) {
  size_t slash = relpath.rfind('/');
  std::string name(slash == std::string_view::npos ? relpath : relpath.substr(slash + 1));
  for (char& c : name) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  std::string_view n = name;
  auto starts = [&](std::string_view prefix) { return n.substr(0, prefix.size()) == prefix; };
  auto ends = [&](std::string_view suffix) {
    return n.size() >= suffix.size() && n.substr(n.size() - suffix.size()) == suffix;
  };
  if (n == ".env" || starts(".env.")) {
    return true;
  }
  for (std::string_view ext : {".pem", ".key", ".p12", ".pfx"}) {
    if (ends(ext)) {
      return true;
    }
  }
  for (std::string_view prefix : {"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials"}) {
    if (starts(prefix)) {
      return true;
    }
  }
  for (std::string_view exact : {".netrc", "_netrc", ".npmrc", ".pypirc", ".git-credentials"}) {
    if (n == exact) {
      return true;
    }
  }
  return false;
}

}  // namespace wandb_job

#include "path_filter.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "test_util.h"

namespace wandb_job {
namespace {

TEST(PathFilterGlobTest, StarAndQuestionDoNotCrossSlash) {
  EXPECT_TRUE(GlobMatch("*.c", "main.c"));
  EXPECT_FALSE(GlobMatch("*.c", "src/main.c"));
  EXPECT_TRUE(GlobMatch("src/*.c", "src/main.c"));
  EXPECT_FALSE(GlobMatch("src/*.c", "src/a/main.c"));
  EXPECT_TRUE(GlobMatch("a?c", "abc"));
  EXPECT_FALSE(GlobMatch("a?c", "a/c"));
  EXPECT_FALSE(GlobMatch("a?c", "ac"));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_FALSE(GlobMatch("*", "a/b"));
  EXPECT_TRUE(GlobMatch("*/b", "a/b"));
  EXPECT_FALSE(GlobMatch("*/b", "a/x/b"));
}

TEST(PathFilterGlobTest, DoubleStar) {
  EXPECT_TRUE(GlobMatch("**/foo", "foo"));
  EXPECT_TRUE(GlobMatch("**/foo", "a/b/foo"));
  EXPECT_FALSE(GlobMatch("**/foo", "a/bfoo"));
  EXPECT_TRUE(GlobMatch("abc/**", "abc/x"));
  EXPECT_TRUE(GlobMatch("abc/**", "abc/x/y"));
  EXPECT_FALSE(GlobMatch("abc/**", "abc"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/b"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/x/b"));
  EXPECT_TRUE(GlobMatch("a/**/b", "a/x/y/b"));
  EXPECT_FALSE(GlobMatch("a/**/b", "a/x/y/bc"));
  EXPECT_TRUE(GlobMatch("**", "a/b/c"));
  // Not bordered by slashes: "**" is a plain "*".
  EXPECT_TRUE(GlobMatch("a**b", "axxb"));
  EXPECT_FALSE(GlobMatch("a**b", "a/b"));
  // git cuts the literal prefix off before matching, so a "**" right after it acts as leading.
  EXPECT_TRUE(GlobMatch("x**/y", "x/z/y"));
  EXPECT_TRUE(GlobMatch("b**/a", "ba"));
  EXPECT_TRUE(GlobMatch("x/a**", "x/a/b/c"));
  EXPECT_FALSE(GlobMatch("x/*a**", "x/ba/b"));
  EXPECT_TRUE(GlobMatch("x/**/*.tmp", "x/a/b/c.tmp"));
  EXPECT_TRUE(GlobMatch("x/**/*.tmp", "x/c.tmp"));
}

TEST(PathFilterGlobTest, BracketClasses) {
  EXPECT_TRUE(GlobMatch("file[0-9].dat", "file7.dat"));
  EXPECT_FALSE(GlobMatch("file[0-9].dat", "filex.dat"));
  EXPECT_TRUE(GlobMatch("file[!0-9].dat", "filex.dat"));
  EXPECT_FALSE(GlobMatch("file[!0-9].dat", "file7.dat"));
  EXPECT_TRUE(GlobMatch("file[^0-9].dat", "filex.dat"));
  EXPECT_TRUE(GlobMatch("[]x]", "]"));
  EXPECT_TRUE(GlobMatch("[a-]", "-"));
  EXPECT_TRUE(GlobMatch("[[:digit:]]z", "5z"));
  EXPECT_FALSE(GlobMatch("[[:digit:]]z", "az"));
  EXPECT_TRUE(GlobMatch("[[:upper:][:digit:]]", "Q"));
  EXPECT_FALSE(GlobMatch("a[/]b", "a/b"));
  EXPECT_FALSE(GlobMatch("a[!x]b", "a/b"));
  EXPECT_TRUE(GlobMatch("[\\]]", "]"));
  // Unterminated and unknown classes never match.
  EXPECT_FALSE(GlobMatch("[abc", "a"));
  EXPECT_FALSE(GlobMatch("[[:nope:]]", "a"));
}

TEST(PathFilterGlobTest, Escapes) {
  EXPECT_TRUE(GlobMatch("\\*", "*"));
  EXPECT_FALSE(GlobMatch("\\*", "x"));
  EXPECT_TRUE(GlobMatch("a\\?b", "a?b"));
  EXPECT_FALSE(GlobMatch("a\\?b", "axb"));
  EXPECT_FALSE(GlobMatch("trailing\\", "trailing"));
}

// "**/" repeated made git's recursive algorithm exponential: "**/" x 30 + "?" against
// "a/" x 10 + "/" (112 bytes) made billions of calls. Each (pattern position, path position) state
// is evaluated at most once now.
TEST(PathFilterGlobTest, PathologicalPatternsTakePolynomialTime) {
  auto repeat = [](const std::string& unit, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      out += unit;
    }
    return out;
  };
  struct Case {
    std::string pattern, path;
    bool match;
  };
  const std::vector<Case> cases = {
      {repeat("**/", 30) + "?", repeat("a/", 10) + "/", false},
      {repeat("**/", 30) + "*a**/", repeat("a/", 10) + "b//", false},
      {repeat("**/", 30) + "?", repeat("a/", 10) + "b", true},
      {repeat("**/", 35) + "x", repeat("a/", 30) + "y", false},
      {repeat("**/", 35) + "x", repeat("a/", 30) + "x", true},
      {repeat("*a", 40) + "*b", std::string(200, 'a'), false},
      {repeat("*a", 40) + "*b", std::string(200, 'a') + "b", true},
      {"**/" + repeat("*a", 40) + "*b", "d/" + std::string(200, 'a'), false},
  };
  for (const Case& c : cases) {
    size_t evaluations = 0;
    EXPECT_EQ(GlobMatch(c.pattern, c.path, &evaluations), c.match) << c.pattern << " " << c.path;
    EXPECT_LE(evaluations, (c.pattern.size() + 1) * (c.path.size() + 1)) << c.pattern;
  }
  IgnoreRules rules;
  EXPECT_TRUE(rules.AddPattern(cases[0].pattern));
  EXPECT_FALSE(rules.IsExcluded("bb/cc"));
  EXPECT_TRUE(rules.IsExcluded("bb/c"));
}

TEST(PathFilterRulesTest, OverlongPatternsAreRefused) {
  IgnoreRules rules;
  std::string longest(IgnoreRules::kMaxPatternBytes, '*');
  EXPECT_TRUE(rules.AddPattern(longest));
  EXPECT_FALSE(rules.AddPattern(longest + "*"));
  // A comment of any length is fine; a file with one overlong line adds nothing.
  IgnoreRules from_file;
  EXPECT_TRUE(from_file.AddFile("#" + longest + "\n"));
  EXPECT_TRUE(from_file.empty());
  EXPECT_FALSE(from_file.AddFile("*.o\n" + longest + "x\n"));
  EXPECT_TRUE(from_file.empty());
}

TEST(PathFilterRulesTest, LastMatchWinsAndNegation) {
  IgnoreRules rules;
  EXPECT_TRUE(rules.empty());
  rules.AddFile("*.log\n!keep.log\n# comment\n\n");
  EXPECT_FALSE(rules.empty());
  EXPECT_TRUE(rules.IsExcluded("a.log"));
  EXPECT_TRUE(rules.IsExcluded("dir/a.log"));
  EXPECT_FALSE(rules.IsExcluded("keep.log"));
  EXPECT_FALSE(rules.IsExcluded("dir/keep.log"));
  rules.AddPattern("keep.log");
  EXPECT_TRUE(rules.IsExcluded("keep.log"));
}

TEST(PathFilterRulesTest, DirOnlyAndParents) {
  IgnoreRules rules;
  rules.AddFile("build/\n!build/keep.txt\n");
  EXPECT_TRUE(rules.IsExcluded("build", true));
  EXPECT_TRUE(rules.IsExcluded("build/"));
  EXPECT_FALSE(rules.IsExcluded("build"));  // a file named build
  EXPECT_TRUE(rules.IsExcluded("build/x.o"));
  EXPECT_TRUE(rules.IsExcluded("src/build/x.o"));
  // A file below an excluded directory can't be re-included.
  EXPECT_TRUE(rules.IsExcluded("build/keep.txt"));
}

TEST(PathFilterRulesTest, Anchoring) {
  IgnoreRules rules;
  rules.AddPattern("/top.txt");
  rules.AddPattern("doc/*.md");
  EXPECT_TRUE(rules.IsExcluded("top.txt"));
  EXPECT_FALSE(rules.IsExcluded("sub/top.txt"));
  EXPECT_TRUE(rules.IsExcluded("doc/a.md"));
  EXPECT_FALSE(rules.IsExcluded("x/doc/a.md"));
  EXPECT_TRUE(rules.IsExcluded("./top.txt"));
}

TEST(PathFilterRulesTest, BaseDirectory) {
  IgnoreRules rules;
  rules.AddFile("*.txt\n/only_here.c\n", "sub");
  EXPECT_FALSE(rules.IsExcluded("a.txt"));
  EXPECT_FALSE(rules.IsExcluded("sub", true));
  EXPECT_TRUE(rules.IsExcluded("sub/a.txt"));
  EXPECT_TRUE(rules.IsExcluded("sub/deep/a.txt"));
  EXPECT_TRUE(rules.IsExcluded("sub/only_here.c"));
  EXPECT_FALSE(rules.IsExcluded("sub/deep/only_here.c"));
  EXPECT_FALSE(rules.IsExcluded("only_here.c"));
  EXPECT_FALSE(rules.IsExcluded("subx/a.txt"));
}

TEST(PathFilterRulesTest, TrailingSpacesCommentsAndBom) {
  IgnoreRules rules;
  rules.AddFile("\xEF\xBB\xBFspaced.txt   \r\nescaped\\ \n\\#hash\n\\!bang\n   \n!\n/\n");
  EXPECT_TRUE(rules.IsExcluded("spaced.txt"));
  EXPECT_TRUE(rules.IsExcluded("escaped "));
  EXPECT_FALSE(rules.IsExcluded("escaped"));
  EXPECT_TRUE(rules.IsExcluded("#hash"));
  EXPECT_TRUE(rules.IsExcluded("!bang"));
  EXPECT_FALSE(rules.IsExcluded("other"));
}

TEST(PathFilterRulesTest, EmptyRulesExcludeNothing) {
  IgnoreRules rules;
  EXPECT_FALSE(rules.IsExcluded("a"));
  rules.AddPattern("*");
  EXPECT_FALSE(rules.IsExcluded(""));
  EXPECT_TRUE(rules.IsExcluded("a/b"));
}

TEST(PathFilterSecretTest, Names) {
  for (const char* yes : {".env",
                          ".env.local",
                          "cfg/.env.production",
                          "server.pem",
                          "a/b/tls.key",
                          "x.p12",
                          "x.pfx",
                          "id_rsa",
                          "id_rsa.pub",
                          "home/id_dsa",
                          "id_ecdsa",
                          "id_ed25519",
                          ".netrc",
                          "_netrc",
                          ".npmrc",
                          ".pypirc",
                          ".git-credentials",
                          "credentials",
                          "aws/credentials.json",
                          "SERVER.PEM"}) {
    EXPECT_TRUE(LooksLikeSecret(yes)) << yes;
  }
  for (const char* no : {"env", ".envrc", "environment.txt", "key.txt", "keys/readme.md",
                         "my_id_rsa", "src/main.cc", ".env/readme", "pem", "netrc"}) {
    EXPECT_FALSE(LooksLikeSecret(no)) << no;
  }
}

// Every path is checked against real `git check-ignore --no-index`, with a root .gitignore and
// one in a subdirectory.
TEST(PathFilterGitTest, AgreesWithGitCheckIgnore) {
  const std::string root_ignore =
      "# comment line\n"
      "\\#hash.txt\n"
      "*.log\n"
      "!important.log\n"
      "build/\n"
      "/root_only.txt\n"
      "docs/*.md\n"
      "!docs/keep.md\n"
      "**/cache\n"
      "logs/**\n"
      "a/**/z\n"
      "tmp?.txt\n"
      "file[0-9].dat\n"
      "file[!0-9].bin\n"
      "[Rr]eadme.old\n"
      "trail\\ \n"
      "spaces.txt   \n"
      "\\!bang.txt\n"
      "out/\n"
      "!out/keep.txt\n"
      "*.o\n"
      "!keep.o\n"
      "x/**/*.tmp\n"
      "**/node_modules/\n"
      "foo/bar\n"
      "name\\*star.txt\n"
      "mid/*/end\n"
      "deep**name\n"
      "*.cls[[:digit:]]\n"
      "lib**/x\n";
  const std::string sub_ignore =
      "*.txt\n"
      "!keep-sub.txt\n"
      "/anchored.c\n";
  const std::vector<std::string> files = {"#hash.txt",
                                          "hash.txt",
                                          "a.log",
                                          "d/b.log",
                                          "important.log",
                                          "d/important.log",
                                          "build/x.o",
                                          "src/build/y.c",
                                          "build.c",
                                          "root_only.txt",
                                          "d/root_only.txt",
                                          "docs/a.md",
                                          "docs/keep.md",
                                          "docs/sub/a.md",
                                          "cache/x",
                                          "p/q/cache/y",
                                          "cachex",
                                          "logs/a",
                                          "logs/b/c",
                                          "a/z",
                                          "a/b/c/z",
                                          "a/b/zz",
                                          "tmp1.txt",
                                          "tmp12.txt",
                                          "file3.dat",
                                          "filex.dat",
                                          "filex.bin",
                                          "file3.bin",
                                          "Readme.old",
                                          "readme.old",
                                          "README.old",
                                          "trail ",
                                          "trail",
                                          "spaces.txt",
                                          "!bang.txt",
                                          "bang.txt",
                                          "out/keep.txt",
                                          "out/other.c",
                                          "main.o",
                                          "keep.o",
                                          "x/a/b/t.tmp",
                                          "x/t.tmp",
                                          "y/t.tmp",
                                          "web/node_modules/m.js",
                                          "node_modules/n.js",
                                          "foo/barx",
                                          "q/foo/bar",
                                          "foo/bar/baz",
                                          "name*star.txt",
                                          "nameXstar.txt",
                                          "mid/a/end",
                                          "mid/a/b/end",
                                          "deepXname",
                                          "deep/name",
                                          "a.cls5",
                                          "a.clsx",
                                          "sub/a.txt",
                                          "sub/keep-sub.txt",
                                          "sub/deep/b.txt",
                                          "sub/anchored.c",
                                          "sub/deep/anchored.c",
                                          "anchored.c",
                                          "top.txt",
                                          "libx",
                                          "libz/q/x",
                                          "libx2"};
  const std::vector<std::string> dirs = {
      "build",    "src/build",        "out", "cache",   "p/q/cache", "logs", "docs", "sub",
      "sub/deep", "web/node_modules", "foo", "foo/bar", "mid/a"};

  ScopedTempDir tmp;
  WriteTestFile(tmp.path(), ".gitignore", root_ignore);
  WriteTestFile(tmp.path(), "sub/.gitignore", sub_ignore);
  for (const std::string& f : files) {
    WriteTestFile(tmp.path(), f, "x");
  }
  std::string stdin_text;
  std::vector<std::pair<std::string, bool>> paths;
  for (const std::string& f : files) {
    paths.emplace_back(f, false);
  }
  for (const std::string& d : dirs) {
    paths.emplace_back(d, true);
  }
  for (const auto& [p, is_dir] : paths) {
    stdin_text += p;
    stdin_text.push_back('\0');
  }
  WriteTestFile(tmp.path(), "paths.bin", stdin_text);
  RunShell(tmp.path(), "git init -q .");
  std::string out =
      RunShell(tmp.path(),
               "git check-ignore --no-index -z --stdin < paths.bin > ignored.bin; test $? -le 1 && "
               "cat ignored.bin");
  std::set<std::string> git_ignored;
  size_t start = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\0') {
      git_ignored.insert(out.substr(start, i - start));
      start = i + 1;
    }
  }
  ASSERT_FALSE(git_ignored.empty());

  IgnoreRules rules;
  rules.AddFile(root_ignore);
  rules.AddFile(sub_ignore, "sub");
  int excluded = 0;
  for (const auto& [p, is_dir] : paths) {
    bool ours = rules.IsExcluded(p, is_dir);
    excluded += ours ? 1 : 0;
    EXPECT_EQ(ours, git_ignored.count(p) == 1) << p << (is_dir ? " (dir)" : "");
  }
  // The table is only useful if it has both outcomes in quantity.
  EXPECT_GT(excluded, 20);
  EXPECT_LT(excluded, static_cast<int>(paths.size()) - 20);
}

}  // namespace
}  // namespace wandb_job

#include "remote_url.h"

#include <gtest/gtest.h>

namespace wandb_job {
namespace {

struct StripCase {
  const char* in;
  const char* out;
};

const StripCase kStripCases[] = {
    // https: every userinfo goes, the user name with the token.
    {"https://user:ghp_secret@github.com/acme/t.git", "https://github.com/acme/t.git"},
    {"https://ghp_secret@github.com/acme/t.git", "https://github.com/acme/t.git"},
    {"https://gitlab-ci-token:glcbt-TOKEN@gitlab.com/g/p.git", "https://gitlab.com/g/p.git"},
    {"https://oauth2:tok@gitlab.example.com/g/sub/p.git", "https://gitlab.example.com/g/sub/p.git"},
    {"https://x-access-token:tok@github.com/acme/t.git", "https://github.com/acme/t.git"},
    {"https://user:@github.com/acme/t.git", "https://github.com/acme/t.git"},
    {"https://user:p@ss@github.com/acme/t.git", "https://github.com/acme/t.git"},
    {"https://user:pa/ss@github.com/acme/t.git", "https://github.com/acme/t.git"},
    {"https://user:pa/ss@github.com/acme/t.git?x=@y", "https://github.com/acme/t.git"},
    // A password with an unencoded '?', '#', '/' or '@': the whole userinfo goes.
    {"https://user:pa?ss@host/o/r", "https://host/o/r"},
    {"https://user:pa#ss@host/o/r", "https://host/o/r"},
    {"https://user:pa?ss@host", "https://host"},
    {"https://user:pa/s?s#x@host:8443/o/r?q=1", "https://host:8443/o/r"},
    {"https://us@er:pa?s@s@host/o/r", "https://host/o/r"},
    {"https://user:pa/ss@s@host/o/r", "https://host/o/r"},
    {"https://user:pa?ss@Host/o/r@v1.git", "https://host/o/r@v1.git"},
    {"https://user:pa?ss@[::1]:8443/o", "https://[::1]:8443/o"},
    {"ssh://git:pa?ss@host/p.git", "ssh://git@host/p.git"},
    {"https://github.com/acme/t@v1.git", "https://github.com/acme/t@v1.git"},
    {"https://git.example.com:8443/acme/t@v1.git", "https://git.example.com:8443/acme/t@v1.git"},
    {"https://user:tok@github.com/acme/t@v1.git", "https://github.com/acme/t@v1.git"},
    {"https://github.com/acme/t.git", "https://github.com/acme/t.git"},
    {"https://user:tok@git.example.com:8443/acme/t.git", "https://git.example.com:8443/acme/t.git"},
    {"HTTPS://GitHub.COM/Acme/T.git", "https://github.com/Acme/T.git"},
    {"https://tok@github.com", "https://github.com"},
    // Query strings and fragments carry tokens on some servers.
    {"https://gitlab.com/g/p.git?private_token=glpat-x", "https://gitlab.com/g/p.git"},
    {"https://gitlab.com/g/p.git#frag", "https://gitlab.com/g/p.git"},
    {"https://gitlab.com?private_token=x", "https://gitlab.com"},
    {"http://user:pw@git.local/p.git", "http://git.local/p.git"},
    {"git://user:pw@Git.Kernel.org/pub/scm/git/git.git",
     "git://git.kernel.org/pub/scm/git/git.git"},
    // ssh: the user is part of the address, the password is not.
    {"ssh://git@github.com/acme/t.git", "ssh://git@github.com/acme/t.git"},
    {"ssh://git:pw@host:2222/p.git", "ssh://git@host:2222/p.git"},
    {"ssh://:pw@host/p.git", "ssh://host/p.git"},
    {"ssh://host/p.git", "ssh://host/p.git"},
    {"ssh://git@GitHub.com:22/acme/t.git", "ssh://git@github.com:22/acme/t.git"},
    {"ssh://[::1]:22/x", "ssh://[::1]:22/x"},
    {"ssh://git@[fe80::1]:2222/x.git", "ssh://git@[fe80::1]:2222/x.git"},
    {"git+ssh://git@github.com/acme/t.git", "git+ssh://git@github.com/acme/t.git"},
    {"git+ssh://git:pw@github.com/acme/t.git", "git+ssh://git@github.com/acme/t.git"},
    // scp-like.
    {"git@github.com:acme/t.git", "git@github.com:acme/t.git"},
    {"git@GitHub.com:Acme/t.git", "git@github.com:Acme/t.git"},
    {"user:pw@host:org/r.git", "user@host:org/r.git"},
    {"host:org/r.git", "host:org/r.git"},
    {"git@host:2222/r.git", "git@host:2222/r.git"},
    {"host:org/r@v2.git", "host:org/r@v2.git"},
    {"[git@host:22]:r.git", "[git@host:22]:r.git"},
    // The last '@' before "host:" ends the userinfo: the password may hold '@'.
    {"user:p@ss@host:org/r.git", "user@host:org/r.git"},
    {"user:pw@@host:org/r.git", "user@host:org/r.git"},
    {":pw@@host:r.git", "host:r.git"},
    {"git@host:org/r@v2.git", "git@host:org/r@v2.git"},
    // An empty scp user before a URL: what is left is read as a URL.
    {"@https://user:pa?ss@github.com/o/r.git", "https://github.com/o/r.git"},
    // Local: nothing to strip, nothing to normalise.
    {"file:///srv/git/p.git", "file:///srv/git/p.git"},
    {"file:///srv/odd?name.git", "file:///srv/odd?name.git"},
    {"/srv/git/p.git", "/srv/git/p.git"},
    {"../p.git", "../p.git"},
    {"./a:b", "./a:b"},
    {"p.git", "p.git"},
    {"", ""},
};

TEST(RemoteUrlTest, StripUrlCredentials) {
  for (const StripCase& c : kStripCases) {
    EXPECT_EQ(StripUrlCredentials(c.in), c.out) << "input: " << c.in;
  }
}

TEST(RemoteUrlTest, StrippedUrlsNeverContainTheSecrets) {
  for (const StripCase& c : kStripCases) {
    std::string out = StripUrlCredentials(c.in);
    for (const char* secret : {"ghp_secret", "TOKEN", "tok@", "pw@", "private_token", ":@",
                               "user:", "pa?", "pa#", "pa/", "p@ss"}) {
      EXPECT_EQ(out.find(secret), std::string::npos) << c.in << " -> " << out;
    }
  }
}

TEST(RemoteUrlTest, StripIsIdempotent) {
  for (const StripCase& c : kStripCases) {
    EXPECT_EQ(StripUrlCredentials(c.out), c.out) << c.out;
  }
}

// Found by tests/fuzz/remote_url_fuzz.cc: an empty user before "@@" left "@host:path", which a
// second strip changed again.
TEST(RemoteUrlTest, StripIsIdempotentOnFuzzInput) {
  const char bytes[] = ":s\x8fss\rs\x8f\x19" "e~g_@@\0exok\xc3\xd5#i\xff\xff_@\0exok\xc3\xd5#ftg:";
  const std::string input(bytes, sizeof(bytes) - 1);
  ASSERT_EQ(input.size(), 40u);
  std::string once = StripUrlCredentials(input);
  EXPECT_EQ(StripUrlCredentials(once), once);
}

// Well-formed both ways: git sends the password "p" to host "ss", and so only "p" goes. A real
// remote with '@' in its path has the same shape, so it is read as git reads it.
TEST(RemoteUrlTest, AmbiguousUrlsAreReadAsGitReadsThem) {
  EXPECT_EQ(StripUrlCredentials("https://user:p@ss/w@host/o"), "https://ss/w@host/o");
  EXPECT_EQ(StripUrlCredentials("https://user:12/w@host/o"), "https://user:12/w@host/o");
}

// Inputs of the shapes the fuzzer explores: delimiters and '@' in every order.
TEST(RemoteUrlTest, StripIsIdempotentOnDelimiterMixes) {
  for (const char* in :
       {"https://a:b?c@d?e@f/g", "https://a:b/c#d@e@f:1/g@h?i@j", "https://[a/b@c/d",
        "https://[a?b@[::1]/d", "ssh://[a/b@host/p", "ssh://a:b?c@d@e/f", "https://@/@/@",
        "https://a:b/@", "https://:/?#@", "git://a:x/y@b:c@d/e", "https://a:1?@b:2#@c:x/",
        "@sh://git/:pw@Host.example:22/p?tok=1#frag", "@ttps://uer:pa?ss@github.com/boa/r.git"}) {
    std::string once = StripUrlCredentials(in);
    EXPECT_EQ(StripUrlCredentials(once), once) << in << " -> " << once;
  }
}

TEST(RemoteUrlTest, ClassifyRemote) {
  EXPECT_EQ(ClassifyRemote("https://github.com/a/b.git"), RemoteKind::kHttps);
  EXPECT_EQ(ClassifyRemote("HTTPS://github.com/a/b.git"), RemoteKind::kHttps);
  EXPECT_EQ(ClassifyRemote("http://git.local/a.git"), RemoteKind::kHttp);
  EXPECT_EQ(ClassifyRemote("ssh://git@host/a.git"), RemoteKind::kSsh);
  EXPECT_EQ(ClassifyRemote("git+ssh://git@host/a.git"), RemoteKind::kSsh);
  EXPECT_EQ(ClassifyRemote("ssh+git://host/a.git"), RemoteKind::kSsh);
  EXPECT_EQ(ClassifyRemote("git@github.com:a/b.git"), RemoteKind::kScpLike);
  EXPECT_EQ(ClassifyRemote("host:a.git"), RemoteKind::kScpLike);
  EXPECT_EQ(ClassifyRemote("git://host/a.git"), RemoteKind::kGit);
  EXPECT_EQ(ClassifyRemote("file:///srv/a.git"), RemoteKind::kLocalPath);
  EXPECT_EQ(ClassifyRemote("/srv/a.git"), RemoteKind::kLocalPath);
  EXPECT_EQ(ClassifyRemote("../a.git"), RemoteKind::kLocalPath);
  EXPECT_EQ(ClassifyRemote("a.git"), RemoteKind::kLocalPath);
  EXPECT_EQ(ClassifyRemote("./x:y"), RemoteKind::kLocalPath);
  EXPECT_EQ(ClassifyRemote("ftp://host/a.git"), RemoteKind::kUnknown);
  EXPECT_EQ(ClassifyRemote(""), RemoteKind::kUnknown);
}

TEST(RemoteUrlTest, AgentCanClone) {
  EXPECT_TRUE(AgentCanClone("https://github.com/a/b.git"));
  EXPECT_TRUE(AgentCanClone("ssh://git@github.com/a/b.git"));
  EXPECT_TRUE(AgentCanClone("git@github.com:a/b.git"));
  EXPECT_FALSE(AgentCanClone("http://github.com/a/b.git"));
  EXPECT_FALSE(AgentCanClone("git://github.com/a/b.git"));
  EXPECT_FALSE(AgentCanClone("file:///srv/a.git"));
  EXPECT_FALSE(AgentCanClone("/srv/a.git"));
  EXPECT_FALSE(AgentCanClone(""));
  // Refused by the newest agent's _validate_uri: other ssh schemes, scp-like without a user, a
  // leading '-', characters outside its user and host classes.
  EXPECT_TRUE(AgentCanClone("SSH://git@github.com/a/b.git"));
  EXPECT_TRUE(AgentCanClone("git.user+x@git-hub.example.com:a/b.git"));
  EXPECT_FALSE(AgentCanClone("git+ssh://git@github.com/a/b.git"));
  EXPECT_FALSE(AgentCanClone("ssh+git://git@github.com/a/b.git"));
  EXPECT_FALSE(AgentCanClone("github.com:a/b.git"));
  EXPECT_FALSE(AgentCanClone("-oProxyCommand=x@host:a"));
  EXPECT_FALSE(AgentCanClone("git@host:"));
  EXPECT_FALSE(AgentCanClone("@host:a"));
  EXPECT_FALSE(AgentCanClone("git@[::1]:a"));
}

}  // namespace
}  // namespace wandb_job

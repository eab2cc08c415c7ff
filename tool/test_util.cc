#include "test_util.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>

#include "file_util.h"

namespace wandb_job {

ScopedTempDir::ScopedTempDir() {
  std::string tmpl = GetEnv("TMPDIR");
  if (tmpl.empty()) {
    tmpl = "/tmp";
  }
  tmpl += "/wandb-job-test-XXXXXX";
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
  }
  path_ = tmpl;
}

ScopedTempDir::~ScopedTempDir() {
  std::string err;
  RemoveTree(path_, &err);
}

void WriteTestFile(const std::string& root, const std::string& rel, const std::string& contents) {
  std::string path = root + "/" + rel;
  std::string err;
  size_t slash = path.rfind('/');
  ASSERT_TRUE(MakeDirs(path.substr(0, slash), &err)) << err;
  FILE* f = fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  fwrite(contents.data(), 1, contents.size(), f);
  fclose(f);
}

std::string RunShell(const std::string& dir, const std::string& command) {
  std::string full =
      "cd '" + dir +
      "' && export GIT_AUTHOR_NAME=Test GIT_AUTHOR_EMAIL=test@example.com "
      "GIT_COMMITTER_NAME=Test GIT_COMMITTER_EMAIL=test@example.com "
      "GIT_AUTHOR_DATE='2024-01-02T03:04:05Z' GIT_COMMITTER_DATE='2024-01-02T03:04:05Z' "
      "GIT_CONFIG_NOSYSTEM=1 HOME='" +
      dir + "' && (" + command + ")";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed: " << command;
    return "";
  }
  std::string out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    out.append(buf.data(), n);
  }
  int status = pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ADD_FAILURE() << "command failed (" << status << "): " << command << "\n" << out;
  }
  return out;
}

void MakeTestRepo(const std::string& dir,
                  const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [rel, contents] : files) {
    WriteTestFile(dir, rel, contents);
  }
  RunShell(dir, "git init -q -b main . && git add -A && git commit -q -m initial");
}

}  // namespace wandb_job

// --- FakeTransport ------------------------------------------------------------------------------

namespace wandb_job {

bool FakeTransport::Send(const HttpRequest& request, HttpResponse* response, std::string* err) {
  HttpRequest recorded = request;
  if (!request.body_file.empty()) {
    std::string contents;
    if (!ReadFile(request.body_file, &contents, err)) {
      return false;
    }
    size_t off = std::min<size_t>(request.body_offset, contents.size());
    size_t len = request.body_length < 0 ? contents.size() - off
                                         : static_cast<size_t>(request.body_length);
    recorded.body = contents.substr(off, len);
  }
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->requests.push_back(recorded);
    handler = state_->handler;
  }
  *response = HttpResponse();
  return handler(recorded, response, err);
}

std::vector<HttpRequest> FakeTransport::requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->requests;
}

std::unique_ptr<HttpTransport> FakeTransport::Share() const {
  return std::unique_ptr<HttpTransport>(new FakeTransport(state_));
}

}  // namespace wandb_job

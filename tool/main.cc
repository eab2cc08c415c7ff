// The wandb-job helper: library set-up and tear-down around RunCli(); nothing else.
#include <curl/curl.h>
#include <git2.h>

#include <cstring>

#include "cli.h"

namespace {

// Commands that never use libgit2 skip its set-up, which loads the system's CA certificates
// (about a fifth of the helper's start-up): a no-op publish is then little more than the
// program's loading. libcurl is set up by its first transport (http.cc).
bool NeedsGit(int argc, char** argv) {
  if (argc < 2) {
    return true;
  }
  for (const char* command : {"--version", "version", "publish", "ls", "show", "store"}) {
    if (strcmp(argv[1], command) == 0) {
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  bool git = NeedsGit(argc, argv);
  if (git) {
    git_libgit2_init();
  }
  int rc = wandb_job::RunCli(argc, argv);
  curl_global_cleanup();
  if (git) {
    git_libgit2_shutdown();
  }
  return rc;
}

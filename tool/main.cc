// The wandb-job helper: library set-up and tear-down around RunCli(); nothing else.
#include <curl/curl.h>
#include <git2.h>

#include "cli.h"

int main(int argc, char** argv) {
  git_libgit2_init();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = wandb_job::RunCli(argc, argv);
  curl_global_cleanup();
  git_libgit2_shutdown();
  return rc;
}

// ELF headers of the job's executable and of the libraries found for it.
#include <string>

#include "elf_closure.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = wandb_job_fuzz::WriteScratchFile("a.out", wandb_job_fuzz::AsView(data, size));
  wandb_job::ElfInfo info;
  std::string err;
  (void)wandb_job::ReadElfInfo(path, &info, &err);
  return 0;
}

// An OCI layout on disk (a base image or a layout left by an earlier build): the input is its
// index.json; the blobs it points to are absent or damaged.
#include <string>

#include "fuzz_util.h"
#include "oci_layout.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string layout = [] {
    std::string dir = wandb_job_fuzz::ScratchDir() + "/layout";
    std::string err;
    if (!wandb_job::InitLayout(dir, &err)) {
      abort();
    }
    return dir;
  }();
  wandb_job_fuzz::WriteScratchFile("layout/index.json", wandb_job_fuzz::AsView(data, size));
  std::string err;
  wandb_job::ImageIndex index;
  (void)wandb_job::ReadIndex(layout, &index, &err);
  wandb_job::Descriptor desc;
  wandb_job::Manifest manifest;
  (void)wandb_job::ReadImageManifest(layout, &desc, &manifest, &err);
  return 0;
}

// OCI and Docker JSON from registries and base images: manifests, indexes, image configs (also
// merged into ours) and image references.
#include <string>

#include "fuzz_util.h"
#include "oci_image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = wandb_job_fuzz::AsView(data, size);
  std::string err;
  wandb_job::Manifest manifest;
  if (wandb_job::ParseManifest(text, &manifest, &err)) {
    (void)manifest.ToJson();
  }
  wandb_job::ImageIndex index;
  if (wandb_job::ParseIndex(text, &index, &err)) {
    (void)index.ToJson();
  }
  wandb_job::ImageConfig config;
  if (wandb_job::ParseImageConfig(text, &config, &err)) {
    (void)config.ToJson();
  }
  (void)wandb_job::MediaTypeOf(text);
  std::string merged;
  (void)wandb_job::MergeBaseConfig(text, wandb_job::ImageConfig(), &merged, &err);
  wandb_job::ImageReference ref;
  if (size < 4096 && wandb_job::ParseImageReference(text, &ref, &err)) {
    (void)ref.ToString();
    (void)ref.Identifier();
  }
  (void)wandb_job::IsSha256Digest(text);
  return 0;
}

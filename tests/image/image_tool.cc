// A thin command-line driver over the image modules for the end-to-end image tests and the
// benchmark: build a layout from an executable, write a docker-archive, push to a registry.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>


#include "elf_closure.h"
#include "image_builder.h"
#include "oci_layout.h"
#include "registry_client.h"

namespace {

int Usage() {
  fprintf(stderr,
          "usage: image_tool build --target-file F --out DIR [--binary-dir D] [--arg A]...\n"
          "                        [--file SRC=DEST]... [--env K=V]... [--created SECONDS]\n"
          "                        [--image REF] [--base REF] [--cache DIR] [--source URL]\n"
          "                        [--revision SHA] [--workdir DIR] [--user U]\n"
          "       image_tool archive LAYOUT OUT.tar TAG...\n"
          "       image_tool push LAYOUT REF [--tag T]... [--insecure] [--chunk BYTES]\n"
          "                       [--mount-from REPO]\n");
  return 2;
}

int Fail(const std::string& what, const std::string& err) {
  fprintf(stderr, "image_tool: %s: %s\n", what.c_str(), err.c_str());
  return 1;
}

int Build(int argc, char** argv) {
  wandb_job::BundleImageInput in;
  std::string out;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc) {
      return Usage();
    }
    std::string v = argv[++i];
    if (a == "--target-file") {
      in.target_file = v;
      in.target = v.substr(v.rfind('/') + 1);
    } else if (a == "--out") {
      out = v;
    } else if (a == "--binary-dir") {
      in.binary_dir = v;
    } else if (a == "--arg") {
      in.args.push_back(v);
    } else if (a == "--file") {
      size_t eq = v.find('=');
      in.files.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (a == "--env") {
      in.env.push_back(v);
    } else if (a == "--created") {
      in.created = std::atoll(v.c_str());
    } else if (a == "--image") {
      in.image = v;
    } else if (a == "--base") {
      in.base_image = v;
    } else if (a == "--cache") {
      in.layer_cache_dir = v;
    } else if (a == "--source") {
      in.source_url = v;
    } else if (a == "--revision") {
      in.revision = v;
    } else if (a == "--workdir") {
      in.working_dir = v;
    } else if (a == "--user") {
      in.user = v;
    } else {
      return Usage();
    }
  }
  if (in.target_file.empty() || out.empty()) {
    return Usage();
  }
  std::string err;
  if (!wandb_job::ResolveRuntimeClosure(in.target_file, wandb_job::ClosureOptions{}, &in.closure,
                                        &err)) {
    return Fail("resolving libraries", err);
  }
  if (!wandb_job::BuildBundleImage(in, out, &err)) {
    return Fail("building image", err);
  }
  return 0;
}

int Archive(int argc, char** argv) {
  if (argc < 2) {
    return Usage();
  }
  std::vector<std::string> tags(argv + 2, argv + argc);
  std::string err;
  if (!wandb_job::WriteDockerArchive(argv[0], tags, argv[1], &err)) {
    return Fail("writing docker archive", err);
  }
  return 0;
}

int Push(int argc, char** argv) {
  if (argc < 2) {
    return Usage();
  }
  wandb_job::PushOptions options;
  options.layout_dir = argv[0];
  options.reference = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--insecure") {
      options.plain_http = wandb_job::PlainHttp::kAllowed;
    } else if (i + 1 < argc && a == "--tag") {
      options.tags.push_back(argv[++i]);
    } else if (i + 1 < argc && a == "--chunk") {
      options.chunk_size = std::strtoull(argv[++i], nullptr, 10);
    } else if (i + 1 < argc && a == "--mount-from") {
      options.mount_from.push_back(argv[++i]);
    } else {
      return Usage();
    }
  }
  wandb_job::PushResult result;
  std::string err;
  if (!wandb_job::PushImage(options, &result, &err)) {
    return Fail("pushing " + options.reference, err);
  }
  printf("%s\n", result.pinned_reference.c_str());
  fprintf(stderr, "uploaded %d blobs (%lld bytes), skipped %d, mounted %d, copied %d\n",
          result.blobs_uploaded, static_cast<long long>(result.bytes_uploaded),
          result.blobs_skipped, result.blobs_mounted, result.blobs_copied);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    return Usage();
  }
  std::string cmd = argv[1];
  int rc = cmd == "build"     ? Build(argc - 2, argv + 2)
           : cmd == "archive" ? Archive(argc - 2, argv + 2)
           : cmd == "push"    ? Push(argc - 2, argv + 2)
                              : Usage();
  return rc;
}

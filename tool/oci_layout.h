// An OCI image layout on disk (oci-layout, index.json, blobs/sha256/<hex>): writing blobs and
// gzip layers (parallel, concatenated gzip members), reading them back for pushing, and the
// `docker load` tarball. Offline: nothing here touches the network.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "oci_image.h"
#include "tar_writer.h"

namespace wandb_job {

/// Creates `dir` with its oci-layout file and an empty blobs/sha256.
bool InitLayout(const std::string& dir, std::string* err);
std::string BlobPath(const std::string& layout_dir, const std::string& digest);
/// Stores `data` as a blob (skipped when present); fills digest and size of `out`.
bool WriteBlob(const std::string& layout_dir, const std::string& data, const std::string& media_type,
               Descriptor* out, std::string* err);
/// Reads a blob and checks its digest.
bool ReadBlob(const std::string& layout_dir, const std::string& digest, std::string* data,
              std::string* err);
bool WriteIndex(const std::string& layout_dir, const ImageIndex& index, std::string* err);
bool ReadIndex(const std::string& layout_dir, ImageIndex* index, std::string* err);

/// Reads the layout's one image: its manifest (and that manifest's descriptor).
bool ReadImageManifest(const std::string& layout_dir, Descriptor* manifest_desc,
                       Manifest* manifest, std::string* err);

struct LayerOptions {
  int64_t mtime = 0;
  /// Compressed layers by diff ID, shared between builds ("" for none): a layer whose tar stream
  /// is unchanged is linked from here instead of being compressed again.
  std::string cache_dir;
  int gzip_level = 6;
  /// Uncompressed bytes per gzip member; members are compressed in parallel. Fixed, so the
  /// output does not depend on the number of cores.
  size_t gzip_chunk_size = 1 << 20;
  int threads = 0;  // 0: one per core
};

/// Writes `entries` as a deterministic tar.gz layer blob into the layout.
bool WriteTarLayer(const std::string& layout_dir, const std::vector<TarEntry>& entries,
                   const LayerOptions& options, Layer* out, std::string* err);

/// gzip of `data` as concatenated members of `chunk_size` input bytes each, compressed by up to
/// `threads` threads; appended to `out`. Exposed for tests and benchmarks.
bool ParallelGzip(const std::string& data, int level, size_t chunk_size, int threads,
                  std::string* out, std::string* err);

/// Writes a tarball `docker load` and `skopeo copy docker-archive:` read: the OCI layout plus
/// Docker's manifest.json (Docker 25 writes the same shape), tagged `repo_tags`.
bool WriteDockerArchive(const std::string& layout_dir, const std::vector<std::string>& repo_tags,
                        const std::string& out_path, std::string* err);

}  // namespace wandb_job

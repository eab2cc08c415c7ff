// Streaming MD5 and SHA-256 over OpenSSL EVP, and the encodings W&B and OCI use for them
// (base64 MD5 for artifact entries, hex MD5 for artifact digests, "sha256:<hex>" for OCI).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace wandb_job {

enum class HashAlgorithm { kMd5, kSha256 };

class Hasher {
 public:
  explicit Hasher(HashAlgorithm algorithm);
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  /// The raw digest bytes; the hasher can't be updated afterwards.
  std::string Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

std::string HexEncode(std::string_view bytes);
std::string Base64Encode(std::string_view bytes);
bool Base64Decode(std::string_view text, std::string* bytes);

std::string Md5Base64(std::string_view data);
std::string Md5Hex(std::string_view data);
std::string Sha256Hex(std::string_view data);

struct FileHashes {
  std::string md5;     // raw bytes
  std::string sha256;  // raw bytes
  uint64_t size = 0;
};
/// Reads `path` once, streaming, computing both digests.
bool HashFile(const std::string& path, FileHashes* out, std::string* err);

}  // namespace wandb_job

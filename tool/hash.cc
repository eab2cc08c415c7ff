#include "hash.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "log.h"

namespace wandb_job {

struct Hasher::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Hasher::Hasher(HashAlgorithm algorithm) : impl_(new Impl) {
  impl_->ctx = EVP_MD_CTX_new();
  const EVP_MD* md = algorithm == HashAlgorithm::kMd5 ? EVP_md5() : EVP_sha256();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, md, nullptr) != 1) {
    Fatal("EVP_DigestInit_ex failed");
  }
}

Hasher::~Hasher() { EVP_MD_CTX_free(impl_->ctx); }

void Hasher::Update(const void* data, size_t size) {
  if (EVP_DigestUpdate(impl_->ctx, data, size) != 1) {
    Fatal("EVP_DigestUpdate failed");
  }
}

std::string Hasher::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out, &len) != 1) {
    Fatal("EVP_DigestFinal_ex failed");
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string HexEncode(std::string_view bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n);
  return out;
}

bool Base64Decode(std::string_view text, std::string* bytes) {
  if (text.size() % 4 != 0) {
    return false;
  }
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) {
    return false;
  }
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  size_t pad = 0;
  if (!text.empty() && text.back() == '=') {
    pad = (text.size() >= 2 && text[text.size() - 2] == '=') ? 2 : 1;
  }
  out.resize(static_cast<size_t>(n) - pad);
  *bytes = std::move(out);
  return true;
}

namespace {
std::string Digest(HashAlgorithm algorithm, std::string_view data) {
  Hasher h(algorithm);
  h.Update(data);
  return h.Finish();
}
}  // namespace

std::string Md5Base64(std::string_view data) { return Base64Encode(Digest(HashAlgorithm::kMd5, data)); }
std::string Md5Hex(std::string_view data) { return HexEncode(Digest(HashAlgorithm::kMd5, data)); }
std::string Sha256Hex(std::string_view data) {
  return HexEncode(Digest(HashAlgorithm::kSha256, data));
}

bool HashFile(const std::string& path, FileHashes* out, std::string* err) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *err = "reading " + path + ": " + strerror(errno);
    return false;
  }
  Hasher md5(HashAlgorithm::kMd5);
  Hasher sha256(HashAlgorithm::kSha256);
  std::vector<char> buf(1 << 20);
  uint64_t size = 0;
  for (;;) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      *err = "reading " + path + ": " + strerror(errno);
      close(fd);
      return false;
    }
    if (n == 0) {
      break;
    }
    md5.Update(buf.data(), static_cast<size_t>(n));
    sha256.Update(buf.data(), static_cast<size_t>(n));
    size += static_cast<uint64_t>(n);
  }
  close(fd);
  out->md5 = md5.Finish();
  out->sha256 = sha256.Finish();
  out->size = size;
  return true;
}

}  // namespace wandb_job

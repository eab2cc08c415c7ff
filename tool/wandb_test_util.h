// Test helpers shared by the W&B client and sink tests: canned replies, header lookup, and a
// WandbClient over a FakeTransport that records its sleeps instead of sleeping.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "http.h"
#include "test_util.h"
#include "wandb_client.h"

namespace wandb_job {

inline const char kBase[] = "http://wandb.test:8080";
inline const std::string kKey(40, 'k');

inline HttpResponse Reply(long status, const std::string& body, HttpHeaders headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  r.headers = std::move(headers);
  return r;
}

inline bool HasHeader(const HttpRequest& r, const std::string& name, std::string* value = nullptr) {
  for (const auto& [k, v] : r.headers) {
    if (HeaderNameEquals(k, name)) {
      if (value != nullptr) {
        *value = v;
      }
      return true;
    }
  }
  return false;
}

struct Harness {
  explicit Harness(FakeTransport::Handler handler) : fake(std::move(handler)) {
    WandbClientOptions o;
    o.base_url = kBase;
    o.api_key = kKey;
    o.retry = RetryPolicy();
    o.progress = ProgressMode::kNone;
    o.make_transport = [this]() { return fake.Share(); };
    o.sleep = [this](double s) {
      std::lock_guard<std::mutex> lock(mu);
      sleeps.push_back(s);
    };
    client = std::make_unique<WandbClient>(std::move(o));
  }
  FakeTransport fake;
  std::mutex mu;
  std::vector<double> sleeps;
  std::unique_ptr<WandbClient> client;
};

}  // namespace wandb_job

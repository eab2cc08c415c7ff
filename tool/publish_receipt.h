// Publish receipts: what publishing one bundle to one destination gave, kept next to the bundle,
// so that publishing the same bundle to the same destination again (a no-op
// `cmake --build build --target job-publish`) needs neither the network nor the store's files.
#pragma once

#include <string>
#include <vector>

#include "bundle.h"
#include "publish.h"

namespace wandb_job {

/// Everything the outcome of publishing `bundle` depends on besides the destination's state:
/// the bundle's description and manifests (and image index), `destination` (the store's root,
/// or W&B's URL and a hash of the key), the environment that resolves entity and project, the
/// extra aliases and this helper's version. A hex digest; "" when a file can't be read.
std::string ReceiptKey(const Bundle& bundle, const std::string& destination,
                       const PublishOptions& options);

/// The directory of `bundle_dir`'s receipts: a sibling, "<bundle_dir>.publish-receipts", so that
/// capture, which owns the bundle directory, never sees it.
std::string ReceiptDir(const std::string& bundle_dir);

/// The result recorded for `key`, and the sink's stamps of its versions at the time (see
/// ArtifactSink::VersionStamp). False when there is none or it can't be read (never an error:
/// the bundle is then published as usual).
bool ReadReceipt(const Bundle& bundle, const std::string& key, JobPublishResult* result,
                 std::vector<std::string>* stamps);

/// Records `result` (published, not a dry run) under `key` with the sink's stamps.
bool WriteReceipt(const Bundle& bundle, const std::string& key, const JobPublishResult& result,
                  const std::vector<std::string>& stamps, std::string* err);

/// The stamps of the versions `result` names (the code artifact's, then the job's), as `sink`
/// sees them now.
std::vector<std::string> CurrentStamps(ArtifactSink* sink, const Bundle& bundle,
                                       const JobPublishResult& result);

}  // namespace wandb_job

// Git remote URLs: removing credentials in every URL form while keeping the URL clonable, and
// telling whether W&B's launch agent could clone it at all.
#pragma once

#include <string>
#include <string_view>

namespace wandb_job {

/// Removes passwords and tokens from a git remote URL and keeps everything needed to clone it.
/// https://user:tok@host/p -> https://host/p; https://tok@host/p -> https://host/p;
/// ssh://git:pw@host:22/p -> ssh://git@host:22/p (the ssh user is kept: it is part of the
/// address, not a secret); git@host:p (scp-like) unchanged; a query string or fragment is dropped
/// because hosted git servers put tokens there. Host names are lower-cased.
std::string StripUrlCredentials(std::string_view url);

enum class RemoteKind {
  kHttps,      // https://
  kSsh,        // ssh:// or git+ssh://
  kScpLike,    // user@host:path
  kHttp,       // http:// (cloneable by git, refused by W&B's agent)
  kGit,        // git:// (likewise)
  kLocalPath,  // /path, ./path, file://... : only this machine can clone it
  kUnknown,
};
RemoteKind ClassifyRemote(std::string_view url);
/// True for the forms W&B's agent accepts, old and newest: https://, ssh:// and scp-like
/// user@host:path.
bool AgentCanClone(std::string_view url);

}  // namespace wandb_job

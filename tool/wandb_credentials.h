// Where W&B publishing goes and with which key, read at publish time only: WANDB_BASE_URL,
// WANDB_API_KEY or the netrc entry for the base URL's host[:port], and WANDB_MODE. The key is
// never written, logged or put into an error message here.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace wandb_job {

inline constexpr char kDefaultWandbBaseUrl[] = "https://api.wandb.ai";

enum class WandbMode { kOnline, kOffline, kDisabled };

struct WandbCredentials {
  std::string base_url;    // normalised, without a trailing "/"
  std::string api_key;     // "" when no key was found
  std::string key_source;  // "WANDB_API_KEY" or the netrc file's path ("" without a key)
  WandbMode mode = WandbMode::kOnline;

  /// True when publishing and reading go to W&B: online with a key.
  bool UseWandb() const { return mode == WandbMode::kOnline && !api_key.empty(); }
};

/// Reads one environment variable; "" when unset. GetEnv in production, a map in tests.
using EnvLookup = std::function<std::string(const char* name)>;

/// The base URL (WANDB_BASE_URL, else the default), the mode (WANDB_MODE) and the key:
/// WANDB_API_KEY, else the password of the netrc entry `machine <host[:port]>` from $NETRC,
/// else ~/.netrc if it exists, else ~/_netrc if it exists ($HOME from `env`). No key is not an
/// error (the caller falls back to the local store); a malformed key, URL or mode is.
bool LoadWandbCredentials(const EnvLookup& env, WandbCredentials* out, std::string* err);
/// The same with the process environment.
bool LoadWandbCredentials(WandbCredentials* out, std::string* err);

/// WANDB_MODE: "" / "online" / "run" → online, "offline" / "dryrun" → offline, "disabled".
bool ParseWandbMode(std::string_view text, WandbMode* out, std::string* err);

/// Strips trailing "/"; requires http(s)://host; rejects *wandb.ai hosts other than api.* and
/// plain http to wandb.ai, as the SDK does.
bool NormalizeBaseUrl(std::string_view url, std::string* out, std::string* err);

/// The netrc machine name of a base URL: its host, plus ":port" when the URL has one.
std::string NetrcMachine(std::string_view base_url);

/// The password of `machine` in netrc text (falling back to a `default` entry). `*found` tells
/// whether an entry matched; false only for malformed text (an unterminated quote).
bool NetrcPassword(std::string_view netrc_text, std::string_view machine, std::string* password,
                   bool* found, std::string* err);

/// W&B's client-side key check: a JWT (three base64url segments), or, after an optional
/// "<prefix>-", at least 40 characters of [A-Za-z0-9_-]. The error never contains the key.
bool ValidateApiKey(std::string_view key, std::string* err);

/// "Basic " + base64("api:" + key): the Authorization value for requests under the base URL.
std::string WandbAuthorization(std::string_view api_key);

}  // namespace wandb_job

#include "wandb_credentials.h"

#include <cctype>
#include <vector>

#include "file_util.h"
#include "hash.h"
#include "remote_url.h"

namespace wandb_job {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// "scheme://authority/path" → authority (without userinfo).
std::string_view Authority(std::string_view url) {
  size_t start = url.find("://");
  if (start == std::string_view::npos) {
    return {};
  }
  start += 3;
  size_t end = url.find_first_of("/?#", start);
  std::string_view auth = url.substr(start, end == std::string_view::npos ? end : end - start);
  size_t at = auth.rfind('@');
  return at == std::string_view::npos ? auth : auth.substr(at + 1);
}

// Splits netrc text into tokens: whitespace-separated, "..." quoted with \ escapes, and the
// bodies of `macdef` (up to an empty line) skipped.
bool NetrcTokens(std::string_view text, std::vector<std::string>* out, std::string* err) {
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    if (c == '#' && (i == 0 || text[i - 1] == '\n')) {  // a comment line
      size_t nl = text.find('\n', i);
      i = nl == std::string_view::npos ? text.size() : nl + 1;
      continue;
    }
    std::string token;
    if (c == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '\\' && i + 1 < text.size()) {
          token += text[i + 1];
          i += 2;
        } else if (text[i] == '"') {
          ++i;
          closed = true;
          break;
        } else {
          token += text[i++];
        }
      }
      if (!closed) {
        *err = "unterminated quote";
        return false;
      }
    } else {
      while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) {
        token += text[i++];
      }
    }
    out->push_back(token);
    if (token == "macdef") {
      size_t blank = text.find("\n\n", i);
      i = blank == std::string_view::npos ? text.size() : blank + 2;
    }
  }
  return true;
}

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
}

bool IsBase64UrlSegment(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (!IsKeyChar(c) && c != '=') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool ParseWandbMode(std::string_view text, WandbMode* out, std::string* err) {
  std::string mode = Lower(text);
  if (mode.empty() || mode == "online" || mode == "run") {
    *out = WandbMode::kOnline;
  } else if (mode == "offline" || mode == "dryrun") {
    *out = WandbMode::kOffline;
  } else if (mode == "disabled") {
    *out = WandbMode::kDisabled;
  } else {
    *err = "WANDB_MODE '" + std::string(text) + "' is not one of online, offline, disabled";
    return false;
  }
  return true;
}

bool NormalizeBaseUrl(std::string_view url, std::string* out, std::string* err) {
  std::string lower = Lower(url);
  bool https = lower.rfind("https://", 0) == 0;
  if (!https && lower.rfind("http://", 0) != 0) {
    // Not a URL we can read, so it is not echoed: it may hold a password.
    *err = url.find('@') == std::string_view::npos
               ? "WANDB_BASE_URL '" + std::string(url) + "' must start with http:// or https://"
               : "WANDB_BASE_URL must start with http:// or https://";
    return false;
  }
  // W&B takes the key in its own header, never from the URL; a userinfo would only be
  // printed in messages and logs, so it goes here, before anything can show it.
  std::string u = StripUrlCredentials(url);
  while (!u.empty() && u.back() == '/') {
    u.pop_back();
  }
  std::string authority = Lower(Authority(u));
  std::string host = authority.substr(0, authority.find(':'));
  if (host.empty()) {
    *err = "WANDB_BASE_URL '" + u + "' has no host";
    return false;
  }
  if (host == "wandb.ai" || EndsWith(host, ".wandb.ai")) {
    if (host.rfind("api.", 0) != 0) {
      *err = "WANDB_BASE_URL '" + u + "' is not an API host; did you mean https://api." + host +
             "?";
      return false;
    }
    if (!https) {
      *err = "WANDB_BASE_URL '" + u + "' must use https for wandb.ai";
      return false;
    }
  }
  *out = u;
  return true;
}

std::string NetrcMachine(std::string_view base_url) {
  return Lower(Authority(base_url));
}

bool NetrcPassword(std::string_view netrc_text, std::string_view machine, std::string* password,
                   bool* found, std::string* err) {
  std::vector<std::string> tokens;
  if (!NetrcTokens(netrc_text, &tokens, err)) {
    return false;
  }
  *found = false;
  std::string default_password;
  bool has_default = false;
  std::string lower_machine = Lower(machine);
  for (size_t i = 0; i < tokens.size(); ++i) {
    bool is_default = tokens[i] == "default";
    bool is_match = tokens[i] == "machine" && i + 1 < tokens.size() &&
                    Lower(tokens[i + 1]) == lower_machine;
    if (!is_default && !is_match) {
      continue;
    }
    size_t j = i + (is_default ? 1 : 2);
    std::string pw;
    for (; j < tokens.size() && tokens[j] != "machine" && tokens[j] != "default"; ++j) {
      if ((tokens[j] == "password" || tokens[j] == "login" || tokens[j] == "account") &&
          j + 1 < tokens.size()) {
        if (tokens[j] == "password") {
          pw = tokens[j + 1];
        }
        ++j;
      }
    }
    if (is_match) {  // The first matching machine wins, as in Python's netrc.
      *password = pw;
      *found = true;
      return true;
    }
    if (!has_default) {
      has_default = true;
      default_password = pw;
    }
    i = j - 1;
  }
  if (has_default) {
    *password = default_password;
    *found = true;
  }
  return true;
}

bool ValidateApiKey(std::string_view key, std::string* err) {
  size_t dot1 = key.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : key.find('.', dot1 + 1);
  if (dot2 != std::string_view::npos && key.find('.', dot2 + 1) == std::string_view::npos &&
      IsBase64UrlSegment(key.substr(0, dot1)) &&
      IsBase64UrlSegment(key.substr(dot1 + 1, dot2 - dot1 - 1)) &&
      IsBase64UrlSegment(key.substr(dot2 + 1))) {
    return true;  // A JWT.
  }
  std::string_view rest = key;
  size_t dash = key.find('-');
  if (dash != std::string_view::npos && key.size() - dash - 1 >= 40) {
    rest = key.substr(dash + 1);  // An on-prem "<prefix>-<key>".
  }
  for (char c : rest) {
    if (!IsKeyChar(c)) {
      *err = "contains characters other than letters, digits, '_' and '-'";
      return false;
    }
  }
  if (rest.size() < 40) {
    *err = "is " + std::to_string(rest.size()) + " characters long; W&B keys have at least 40";
    return false;
  }
  return true;
}

std::string WandbAuthorization(std::string_view api_key) {
  return "Basic " + Base64Encode("api:" + std::string(api_key));
}

bool LoadWandbCredentials(const EnvLookup& env, WandbCredentials* out, std::string* err) {
  WandbCredentials c;
  if (!ParseWandbMode(env("WANDB_MODE"), &c.mode, err)) {
    return false;
  }
  std::string base = env("WANDB_BASE_URL");
  if (!NormalizeBaseUrl(base.empty() ? kDefaultWandbBaseUrl : base, &c.base_url, err)) {
    return false;
  }
  std::string key = env("WANDB_API_KEY");
  if (!key.empty()) {
    c.api_key = key;
    c.key_source = "WANDB_API_KEY";
  } else {
    std::string path = env("NETRC");
    if (path.empty()) {
      std::string home = env("HOME");
      if (home.empty()) {
        home = HomeDirectory();
      }
      for (const char* name : {".netrc", "_netrc"}) {
        if (FileExists(JoinPath(home, name))) {
          path = JoinPath(home, name);
          break;
        }
      }
    }
    if (!path.empty() && FileExists(path)) {
      std::string text;
      bool found = false;
      if (!ReadFile(path, &text, err) ||
          !NetrcPassword(text, NetrcMachine(c.base_url), &c.api_key, &found, err)) {
        *err = "reading netrc file " + path + ": " + *err;
        return false;
      }
      if (found && !c.api_key.empty()) {
        c.key_source = path;
      }
    }
  }
  if (c.mode == WandbMode::kOnline && !c.api_key.empty() && !ValidateApiKey(c.api_key, err)) {
    *err = "the W&B API key from " + c.key_source + " " + *err;
    return false;
  }
  *out = std::move(c);
  return true;
}

bool LoadWandbCredentials(WandbCredentials* out, std::string* err) {
  return LoadWandbCredentials([](const char* name) { return GetEnv(name); }, out, err);
}

}  // namespace wandb_job

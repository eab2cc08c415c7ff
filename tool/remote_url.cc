#include "remote_url.h"

#include <cctype>

namespace wandb_job {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

/// The scheme of "scheme://rest" (lower-cased), or "" when `url` is not in URL form.
std::string Scheme(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    return "";
  }
  for (size_t i = 0; i < sep; ++i) {
    unsigned char c = static_cast<unsigned char>(url[i]);
    bool ok = std::isalpha(c) || (i > 0 && (std::isdigit(c) || c == '+' || c == '-' || c == '.'));
    if (!ok) {
      return "";
    }
  }
  return Lower(url.substr(0, sep));
}

bool IsSshScheme(const std::string& scheme) {
  return scheme == "ssh" || scheme == "git+ssh" || scheme == "ssh+git";
}

/// Git's own test (connect.c, url_is_local_not_ssh): without "://", a string is a local path
/// when it has no ':' or a '/' comes before the first ':'.
bool IsLocalPathForm(std::string_view url) {
  size_t colon = url.find(':');
  size_t slash = url.find('/');
  return colon == std::string_view::npos || (slash != std::string_view::npos && slash < colon);
}

/// True when `authority` has no userinfo and its ":port" is not a number (nor an IPv6 literal).
bool HasBadPort(std::string_view authority) {
  if (authority.find('@') != std::string_view::npos ||
      authority.find('[') != std::string_view::npos) {
    return false;
  }
  size_t colon = authority.find(':');
  if (colon == std::string_view::npos) {
    return false;
  }
  for (char c : authority.substr(colon + 1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return true;
    }
  }
  return false;
}

/// "scheme://[userinfo@]host[:port][/path][?query][#fragment]"
std::string StripUrlForm(std::string_view url, const std::string& scheme) {
  if (scheme == "file") {
    return std::string(url);  // a path on this machine: nothing secret, '?' may be part of it
  }
  size_t auth_begin = url.find("://") + 3;
  size_t auth_end = url.find_first_of("/?#", auth_begin);
  if (auth_end == std::string_view::npos) {
    auth_end = url.size();
  }
  if (HasBadPort(url.substr(auth_begin, auth_end - auth_begin))) {
    // "user:pa/ss@host": an unencoded '/' in the password cut the authority short. The
    // userinfo must still go, so it ends at the last '@' before any query or fragment.
    size_t at = url.substr(0, url.find_first_of("?#", auth_begin)).rfind('@');
    if (at != std::string_view::npos && at > auth_end) {
      auth_end = url.find_first_of("/?#", at);
      auth_end = auth_end == std::string_view::npos ? url.size() : auth_end;
    }
  }
  std::string_view authority = url.substr(auth_begin, auth_end - auth_begin);
  // The last '@' ends the userinfo: an unencoded '@' in a token must not leak into the host.
  std::string user;
  size_t at = authority.rfind('@');
  std::string_view host_port = authority;
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    host_port = authority.substr(at + 1);
    if (IsSshScheme(scheme)) {
      // The ssh user is part of the address (git@github.com); only the password is secret.
      user = std::string(userinfo.substr(0, userinfo.find(':')));
    }
  }
  std::string_view path = url.substr(auth_end);
  size_t query = path.find_first_of("?#");
  if (query != std::string_view::npos) {
    path = path.substr(0, query);
  }
  std::string out = scheme + "://";  // git looks transports up by the lower-case name
  if (!user.empty()) {
    out += user;
    out += '@';
  }
  out += Lower(host_port);  // the port and an IPv6 literal are unaffected by lower-casing
  out += path;
  return out;
}

/// "[user[:password]@]host:path": the user stays, a password goes.
std::string StripScpForm(std::string_view url) {
  constexpr auto npos = std::string_view::npos;
  std::string_view userinfo;
  std::string_view rest = url;
  // The '@' ends a userinfo only when "host:path" follows it; else it belongs to the path. The
  // last such '@' wins, as in ssh: a password may hold '@' ("user:p@ss@host:path").
  for (size_t at = url.rfind('@'); at != npos; at = at == 0 ? npos : url.rfind('@', at - 1)) {
    std::string_view after = url.substr(at + 1);
    size_t colon = after.find(':');
    if (url.substr(0, at).find('/') == npos && colon != npos &&
        after.substr(0, colon).find('/') == npos) {
      userinfo = url.substr(0, at);
      rest = after;
      break;
    }
  }
  std::string out(userinfo.substr(0, userinfo.find(':')));
  if (!out.empty()) {
    out += '@';
  }
  size_t host_end = rest.find(':');  // present: the string is not in local-path form
  out += Lower(rest.substr(0, host_end));
  out += rest.substr(host_end);
  return out;
}

}  // namespace

std::string StripUrlCredentials(std::string_view url) {
  std::string scheme = Scheme(url);
  if (!scheme.empty()) {
    return StripUrlForm(url, scheme);
  }
  if (url.empty() || IsLocalPathForm(url)) {
    return std::string(url);
  }
  return StripScpForm(url);
}

RemoteKind ClassifyRemote(std::string_view url) {
  if (url.empty()) {
    return RemoteKind::kUnknown;
  }
  std::string scheme = Scheme(url);
  if (scheme.empty()) {
    return IsLocalPathForm(url) ? RemoteKind::kLocalPath : RemoteKind::kScpLike;
  }
  if (scheme == "https") {
    return RemoteKind::kHttps;
  }
  if (scheme == "http") {
    return RemoteKind::kHttp;
  }
  if (IsSshScheme(scheme)) {
    return RemoteKind::kSsh;
  }
  if (scheme == "git") {
    return RemoteKind::kGit;
  }
  if (scheme == "file") {
    return RemoteKind::kLocalPath;
  }
  return RemoteKind::kUnknown;
}

bool AgentCanClone(std::string_view url) {
  RemoteKind kind = ClassifyRemote(url);
  return kind == RemoteKind::kHttps || kind == RemoteKind::kSsh || kind == RemoteKind::kScpLike;
}

}  // namespace wandb_job

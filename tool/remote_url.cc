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

/// True when `host_port` reads as "host", "host:digits", "[v6]" or "[v6]:digits".
bool IsHostPort(std::string_view host_port) {
  if (host_port.find('@') != std::string_view::npos) {
    return false;
  }
  size_t port_colon = std::string_view::npos;
  if (!host_port.empty() && host_port[0] == '[') {
    size_t close = host_port.find(']');
    if (close == std::string_view::npos) {
      return false;
    }
    if (close + 1 < host_port.size()) {
      if (host_port[close + 1] != ':') {
        return false;
      }
      port_colon = close + 1;
    }
  } else {
    port_colon = host_port.find(':');
  }
  if (port_colon == std::string_view::npos) {
    return true;
  }
  for (char c : host_port.substr(port_colon + 1)) {
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

/// True when `authority` is "[userinfo@]host[:port]", the userinfo ending at its last '@'.
bool IsAuthority(std::string_view authority) {
  size_t at = authority.rfind('@');
  return IsHostPort(at == std::string_view::npos ? authority : authority.substr(at + 1));
}

/// "scheme://[userinfo@]host[:port][/path][?query][#fragment]"
///
/// Git and curl end the authority at the first '/', '?' or '#' after "//" and the userinfo at
/// the last '@' within it (RFC 3986); a URL they can use is read the same way here, so what goes
/// is exactly what git would send as credentials. A password holding an unencoded '/', '?' or
/// '#' cuts that authority short and leaves "user:pa" as a host with a port that is no number:
/// git cannot use such a URL, but the password must still go, so the userinfo then ends at the
/// first later '@' that a well-formed host[:port] follows. A reading that is well-formed but
/// not what was meant ("user:12/ss@host", whose port is a number) cannot be told apart from a
/// real host and port, and is kept as git reads it.
std::string StripUrlForm(std::string_view url, const std::string& scheme) {
  if (scheme == "file") {
    return std::string(url);  // a path on this machine: nothing secret, '?' may be part of it
  }
  constexpr auto npos = std::string_view::npos;
  size_t auth_begin = url.find("://") + 3;
  size_t auth_end = url.find_first_of("/?#", auth_begin);
  if (auth_end == npos) {
    auth_end = url.size();
  }
  if (!IsAuthority(url.substr(auth_begin, auth_end - auth_begin))) {
    for (size_t at = url.find('@', auth_end); at != npos; at = url.find('@', at + 1)) {
      size_t host_end = url.find_first_of("/?#", at + 1);
      host_end = host_end == npos ? url.size() : host_end;
      if (IsHostPort(url.substr(at + 1, host_end - at - 1))) {
        auth_end = host_end;
        break;
      }
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
  std::string out = StripScpForm(url);
  // "@https://user:pw@host/r" (an empty scp user) leaves a URL, which is read as one in turn.
  scheme = Scheme(out);
  return scheme.empty() ? out : StripUrlForm(out, scheme);
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
  // W&B's newest agent (git_reference.py, _validate_uri) takes exactly https://, ssh:// and
  // user@host:path with ASCII [\w.+-] users and [\w.-] hosts; git+ssh://, host:path without a
  // user and a leading '-' are refused there, so they are not cloneable for us either.
  auto word = [](char c, const char* extra) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
           std::string_view(extra).find(c) != std::string_view::npos;
  };
  if (url.empty() || url[0] == '-') {
    return false;
  }
  std::string scheme = Scheme(url);
  if (!scheme.empty()) {
    return scheme == "https" || scheme == "ssh";
  }
  if (ClassifyRemote(url) != RemoteKind::kScpLike) {
    return false;
  }
  size_t at = url.find('@');
  size_t colon = url.find(':');
  if (at == 0 || at == std::string_view::npos || colon == std::string_view::npos || colon < at ||
      at + 1 == colon || colon + 1 == url.size()) {
    return false;
  }
  for (size_t i = 0; i < colon; ++i) {
    if (i != at && !word(url[i], i < at ? ".+-" : ".-")) {
      return false;
    }
  }
  return true;
}

}  // namespace wandb_job

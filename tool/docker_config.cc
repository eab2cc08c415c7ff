#include "docker_config.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>

#include "file_util.h"
#include "hash.h"
#include "json_access.h"

namespace wandb_job {
namespace {

using json = nlohmann::json;

constexpr char kDockerHubKey[] = "https://index.docker.io/v1/";

// "https://host:port/v1/" -> "host:port".
std::string HostOfKey(std::string key) {
  size_t scheme = key.find("://");
  if (scheme != std::string::npos) {
    key = key.substr(scheme + 3);
  }
  return key.substr(0, key.find('/'));
}

bool IsDockerHub(const std::string& registry) {
  return registry == "registry-1.docker.io" || registry == "docker.io" ||
         registry == "index.docker.io";
}

// A file descriptor closed on every path out of its scope.
class Fd {
 public:
  Fd() = default;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Close(); }
  int* Ptr() { return &fd_; }
  int get() const { return fd_; }
  void Close() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
};

// Runs `docker-credential-<helper> get` with `server` on stdin; its stdout in `*out`.
// `*found` is false when the helper says it has nothing for the server.
bool RunHelper(const std::string& helper, const std::string& server, std::string* out, bool* found,
               std::string* err) {
  std::string program = "docker-credential-" + helper;
  // stdin is a socket, so that writing to a helper that exited without reading it is EPIPE
  // (MSG_NOSIGNAL), not a SIGPIPE for the whole process.
  int in_pair[2], out_pipe[2];
  Fd in_ours, in_theirs, out_ours, out_theirs;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
    *err = std::string("socketpair: ") + strerror(errno);
    return false;
  }
  *in_ours.Ptr() = in_pair[0];
  *in_theirs.Ptr() = in_pair[1];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    *err = std::string("pipe: ") + strerror(errno);
    return false;
  }
  *out_ours.Ptr() = out_pipe[0];
  *out_theirs.Ptr() = out_pipe[1];
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_theirs.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_theirs.get(), STDOUT_FILENO);
  char* argv[] = {program.data(), const_cast<char*>("get"), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT) {
    *err = "credential helper " + program + " not found in PATH";
    return false;
  }
  if (rc != 0) {
    *err = "running credential helper " + program + ": " + strerror(rc);
    return false;
  }
  in_theirs.Close();
  out_theirs.Close();
  // The server name is tiny: it fits the socket buffer, so writing first can't deadlock. A
  // helper that does not read it answers (or fails) all the same.
  for (size_t sent = 0; sent < server.size();) {
    ssize_t n = send(in_ours.get(), server.data() + sent, server.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    sent += static_cast<size_t>(n);
  }
  in_ours.Close();
  char buf[4096];
  ssize_t n;
  out->clear();
  while ((n = read(out_ours.get(), buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) {
      out->append(buf, static_cast<size_t>(n));
    }
  }
  out_ours.Close();
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    // The protocol's answer for "nothing stored" is this message and a failing exit.
    if (out->find("credentials not found") != std::string::npos) {
      *found = false;
      return true;
    }
    std::string msg = *out;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '.')) {
      msg.pop_back();
    }
    *err = "credential helper " + program + " failed" + (msg.empty() ? "" : ": " + msg);
    return false;
  }
  *found = true;
  return true;
}

bool FromHelper(const std::string& helper, const std::string& server, RegistryCredentials* out,
                std::string* err) {
  std::string text;
  bool found = false;
  if (!RunHelper(helper, server, &text, &found, err)) {
    return false;
  }
  if (!found) {
    return true;
  }
  json j = json::parse(text, nullptr, false);
  std::string what = "credential helper docker-credential-" + helper;
  if (j.is_discarded()) {
    *err = what + " answered something not JSON";  // the answer holds the secret: not shown
    return false;
  }
  JsonFields<json> fields(j);
  std::string user, secret;
  if (!fields.IsObject(err) || !fields.String("Username", &user, err, Field::kOptional) ||
      !fields.String("Secret", &secret, err, Field::kOptional)) {
    *err = what + ": " + *err;
    return false;
  }
  if (user == "<token>") {
    out->identity_token = secret;
  } else {
    out->username = user;
    out->password = secret;
  }
  return true;
}

}  // namespace

std::string DockerConfigDir() {
  std::string dir = GetEnv("DOCKER_CONFIG");
  return !dir.empty() ? dir : JoinPath(HomeDirectory(), ".docker");
}

bool LookUpRegistryCredentials(const std::string& registry, const std::string& config_dir,
                               RegistryCredentials* out, std::string* err) {
  *out = RegistryCredentials();
  std::string path = JoinPath(config_dir.empty() ? DockerConfigDir() : config_dir, "config.json");
  if (!FileExists(path)) {
    return true;
  }
  std::string text;
  if (!ReadFile(path, &text, err)) {
    return false;
  }
  json config;
  try {
    config = json::parse(text);
  } catch (const json::exception& e) {
    *err = path + ": invalid JSON";
    return false;
  }
  if (!config.is_object()) {
    *err = path + ": not a JSON object";
    return false;
  }
  bool hub = IsDockerHub(registry);
  auto matches = [&](const std::string& key) {
    return hub ? (key == kDockerHubKey || IsDockerHub(HostOfKey(key))) : HostOfKey(key) == registry;
  };
  std::string server = hub ? kDockerHubKey : registry;
  if (config.contains("credHelpers") && config["credHelpers"].is_object()) {
    for (const auto& [key, helper] : config["credHelpers"].items()) {
      if (matches(key) && helper.is_string()) {
        if (!FromHelper(helper.get<std::string>(), server, out, err)) {
          *err = path + ": " + *err;
          return false;
        }
        return true;
      }
    }
  }
  if (config.contains("auths") && config["auths"].is_object()) {
    for (const auto& [key, entry] : config["auths"].items()) {
      if (!matches(key) || !entry.is_object()) {
        continue;
      }
      JsonFields<json> fields(entry, "auths." + key);
      std::string user, pass, auth;
      if (!fields.String("identitytoken", &out->identity_token, err, Field::kOptional) ||
          !fields.String("username", &user, err, Field::kOptional) ||
          !fields.String("password", &pass, err, Field::kOptional) ||
          !fields.String("auth", &auth, err, Field::kOptional)) {
        *err = path + ": " + *err;
        return false;
      }
      if (!auth.empty()) {
        std::string decoded;
        size_t colon;
        if (!Base64Decode(auth, &decoded) ||
            (colon = decoded.find(':')) == std::string::npos) {
          *err = path + ": the \"auth\" entry for " + key + " is not base64 of user:password";
          return false;
        }
        user = decoded.substr(0, colon);
        pass = decoded.substr(colon + 1);
      }
      out->username = user;
      out->password = pass;
      if (!out->empty()) {
        return true;
      }
    }
  }
  if (config.contains("credsStore") && config["credsStore"].is_string() &&
      !config["credsStore"].get<std::string>().empty()) {
    if (!FromHelper(config["credsStore"].get<std::string>(), server, out, err)) {
      *err = path + ": " + *err;
      return false;
    }
  }
  return true;
}

}  // namespace wandb_job

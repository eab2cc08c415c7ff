// Registry credentials the way the docker CLI finds them: $DOCKER_CONFIG/config.json (else
// ~/.docker/config.json) with "auths", "credHelpers" and "credsStore" (docker-credential-<name>).
// Only looks credentials up; never stores them.
#pragma once

#include <string>

namespace wandb_job {

struct RegistryCredentials {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token (helpers answer Username "<token>")

  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

/// The directory holding config.json: $DOCKER_CONFIG, else ~/.docker.
std::string DockerConfigDir();

/// Credentials for `registry` (a host[:port] as in an image reference; "registry-1.docker.io"
/// also matches Docker Hub's "https://index.docker.io/v1/" key). A missing config file, or no
/// entry for the registry, leaves `*out` empty and is not an error; a malformed file or a failing
/// credential helper is. `config_dir` "" means DockerConfigDir().
bool LookUpRegistryCredentials(const std::string& registry, const std::string& config_dir,
                               RegistryCredentials* out, std::string* err);

}  // namespace wandb_job

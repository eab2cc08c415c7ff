// The ARGS template of a job: "{key}" placeholders filled from the job's config, shared by the
// capture step (the entrypoint of the default config) and the run shim (overridden config).
#pragma once

#include <string>
#include <vector>

namespace wandb_job {

/// Replaces each "{key}" (dotted keys reach nested values) with the config value: strings as they
/// are, numbers/booleans/null as JSON, lists and objects as compact JSON. "{{" and "}}" are literal
/// braces. A placeholder naming a key the config lacks is an error listing the known keys.
bool RenderArgs(const std::vector<std::string>& args_template, const std::string& config_json,
                std::vector<std::string>* out, std::string* err);

}  // namespace wandb_job

#include "job_args.h"

#include <nlohmann/json.hpp>

namespace wandb_job {
namespace {

using ordered_json = nlohmann::ordered_json;

const ordered_json* Lookup(const ordered_json& config, const std::string& dotted) {
  const ordered_json* node = &config;
  size_t i = 0;
  while (i <= dotted.size()) {
    size_t j = dotted.find('.', i);
    if (j == std::string::npos) {
      j = dotted.size();
    }
    std::string part = dotted.substr(i, j - i);
    if (!node->is_object() || !node->contains(part)) {
      return nullptr;
    }
    node = &(*node)[part];
    i = j + 1;
  }
  return node;
}

void CollectKeys(const ordered_json& node, const std::string& prefix, std::string* out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (it->is_object() && !it->empty()) {
      CollectKeys(*it, key, out);
    } else {
      *out += out->empty() ? key : ", " + key;
    }
  }
}

}  // namespace

bool RenderArgs(const std::vector<std::string>& args_template, const std::string& config_json,
                std::vector<std::string>* out, std::string* err) {
  ordered_json config = ordered_json::parse(config_json, nullptr, false);
  if (!config.is_object()) {
    *err = "config is not a JSON object";
    return false;
  }
  std::vector<std::string> rendered;
  for (const std::string& arg : args_template) {
    std::string result;
    for (size_t i = 0; i < arg.size(); ++i) {
      char c = arg[i];
      if ((c == '{' || c == '}') && i + 1 < arg.size() && arg[i + 1] == c) {
        result += c;
        ++i;
        continue;
      }
      if (c != '{') {
        result += c;
        continue;
      }
      size_t close = arg.find('}', i);
      if (close == std::string::npos) {
        *err = "unterminated '{' in argument '" + arg + "' (write '{{' for a literal brace)";
        return false;
      }
      std::string key = arg.substr(i + 1, close - i - 1);
      const ordered_json* value = Lookup(config, key);
      if (value == nullptr) {
        std::string known;
        CollectKeys(config, "", &known);
        *err = "argument '" + arg + "' names {" + key + "}, which is not a config key (known: " +
               (known.empty() ? "none" : known) + ")";
        return false;
      }
      result += value->is_string() ? value->get<std::string>() : value->dump();
      i = close;
    }
    rendered.push_back(std::move(result));
  }
  *out = std::move(rendered);
  return true;
}

}  // namespace wandb_job

#include "wandb_graphql.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace wandb_job {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int IntOr(const json& j, const char* key, int fallback) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int>() : fallback;
}

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) {
    return kNull;
  }
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string OneLine(std::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return text.size() > max ? out + "..." : out;
}

// The messages of a GraphQL "errors" array, or "" when there are none.
std::string GraphqlErrors(const json& body) {
  const json& errors = Member(body, "errors");
  if (!errors.is_array() || errors.empty()) {
    return "";
  }
  std::string out;
  for (const json& e : errors) {
    std::string m = e.is_object() ? Str(e, "message") : e.dump();
    out += (out.empty() ? "" : "; ") + (m.empty() ? e.dump() : m);
  }
  return out;
}

// Aliases as the views want them: "latest" first, then sorted; only this collection's.
std::vector<std::string> AliasList(const json& aliases, const std::string& collection) {
  std::vector<std::string> out;
  bool latest = false;
  if (aliases.is_array()) {
    for (const json& a : aliases) {
      std::string name = Str(a, "alias");
      std::string coll = Str(a, "artifactCollectionName");
      if (name.empty() || (!coll.empty() && !collection.empty() && coll != collection)) {
        continue;
      }
      if (name == "latest") {
        latest = true;
      } else if (std::find(out.begin(), out.end(), name) == out.end()) {
        out.push_back(name);
      }
    }
  }
  std::sort(out.begin(), out.end());
  if (latest) {
    out.insert(out.begin(), "latest");
  }
  return out;
}

bool GraphqlJson(WandbClient* client, const char* operation, const char* query,
                 const json& variables, json* data, std::string* err, RequestKind kind) {
  std::string text;
  if (!client->Graphql(operation, query, variables.dump(), &text, err, kind)) {
    return false;
  }
  *data = json::parse(text, nullptr, false);
  return true;
}

}  // namespace wandb_job

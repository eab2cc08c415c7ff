// Internal to the W&B modules (client, sink, jobs reader): reading GraphQL replies as JSON and
// sending an operation with JSON variables. Not an interface for other modules.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "wandb_client.h"

namespace wandb_job {

/// The timeout of GraphQL and file_stream requests.
constexpr long kGraphqlTimeoutSeconds = 60;

/// The string member `key` of `j`; "" when absent or not a string.
std::string Str(const nlohmann::json& j, const char* key);
/// The integer member `key` of `j`; `fallback` when absent or not an integer.
int IntOr(const nlohmann::json& j, const char* key, int fallback);
/// The member `key` of object `j`; null when `j` is no object or has no such member.
const nlohmann::json& Member(const nlohmann::json& j, const char* key);
/// `text` cut to `max` characters ("..." appended) with line breaks and tabs as spaces.
std::string OneLine(std::string_view text, size_t max);
/// The messages of a GraphQL "errors" array, or "" when there are none.
std::string GraphqlErrors(const nlohmann::json& body);
/// Aliases as the views want them: "latest" first, then sorted; only `collection`'s.
std::vector<std::string> AliasList(const nlohmann::json& aliases, const std::string& collection);
/// WandbClient::Graphql with JSON variables; `*data` is the reply's "data" member.
bool GraphqlJson(WandbClient* client, const char* operation, const char* query,
                 const nlohmann::json& variables, nlohmann::json* data, std::string* err,
                 RequestKind kind = RequestKind::kGraphql);

}  // namespace wandb_job

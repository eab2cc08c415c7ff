// Checked reads of JSON that comes from files and servers: typed getters that never throw and name
// the field's path in their error ("field git.commit must be a string"). Parsing stays the
// caller's.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace wandb_job {

/// Whether a getter accepts an absent member. An optional member that is absent or null leaves
/// `*out` as it was; a required one is an error.
enum class Field { kRequired, kOptional };

/// A read-only view of one JSON value for checked member access. The value must outlive the view.
/// `path` is the value's own place in the document ("" at the top, "git", "manifests[0]").
template <typename Json>
class JsonFields {
 public:
  explicit JsonFields(const Json& value, std::string path = "");

  /// False with "<path> must be an object" unless the value is an object.
  bool IsObject(std::string* err) const;
  /// The member `key`, or nullptr when it is absent or the value is no object.
  const Json* Find(const char* key) const;
  /// The path of member `key` as errors name it ("git.commit").
  std::string PathOf(const char* key) const;

  bool String(const char* key, std::string* out, std::string* err,
              Field field = Field::kRequired) const;
  /// An array of strings.
  bool Strings(const char* key, std::vector<std::string>* out, std::string* err,
               Field field = Field::kRequired) const;
  bool Bool(const char* key, bool* out, std::string* err, Field field = Field::kRequired) const;
  /// An integer within [min, max].
  bool Int(const char* key, int64_t* out, std::string* err, Field field = Field::kRequired,
           int64_t min = INT64_MIN, int64_t max = INT64_MAX) const;
  bool Int(const char* key, int* out, std::string* err, Field field = Field::kRequired) const;
  /// A member object as a view of its own; an absent optional one is an empty object.
  bool Object(const char* key, JsonFields* out, std::string* err,
              Field field = Field::kRequired) const;
  /// A member array; an absent optional one is an empty array.
  bool Array(const char* key, const Json** out, std::string* err,
             Field field = Field::kRequired) const;

  const Json& value() const { return *value_; }
  const std::string& path() const { return path_; }

 private:
  /// The member, or nullptr with `*err` set for a required one; `*absent` for an optional one.
  const Json* Member(const char* key, Field field, bool* absent, std::string* err) const;

  const Json* value_;
  std::string path_;
};

extern template class JsonFields<nlohmann::json>;
extern template class JsonFields<nlohmann::ordered_json>;

/// "field <path> must be <what>", the one wording of a wrong type.
std::string FieldTypeError(std::string_view path, std::string_view what);

/// A CONFIG_FILE is a job's defaults, read at every configure and rendered into its type JSON:
/// deeper or larger input only makes huge job files, so it is refused.
inline constexpr uint64_t kMaxConfigFileBytes = 1 << 20;
inline constexpr int kMaxConfigFileDepth = 64;

/// The JSON object in the file `path` (`what` names it in errors: "CONFIG_FILE"), compact; an
/// error when it is no object, is over kMaxConfigFileBytes or nests over kMaxConfigFileDepth.
bool ReadJsonObjectFile(const std::string& path, const char* what, nlohmann::ordered_json* out,
                        std::string* err);

}  // namespace wandb_job

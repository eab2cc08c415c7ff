#include "json_access.h"

#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "file_util.h"

namespace wandb_job {
namespace {

template <typename Json>
const Json& EmptyObject() {
  static const Json kEmpty = Json::object();
  return kEmpty;
}

template <typename Json>
const Json& EmptyArray() {
  static const Json kEmpty = Json::array();
  return kEmpty;
}

}  // namespace

bool ReadJsonObjectFile(const std::string& path, const char* what, nlohmann::ordered_json* out,
                        std::string* err) {
  const std::string limits = "; a " + std::string(what) + " holds at most " +
                             std::to_string(kMaxConfigFileBytes >> 20) + " MiB and " +
                             std::to_string(kMaxConfigFileDepth) + " levels of nesting";
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) > kMaxConfigFileBytes) {
    *err = std::string(what) + " " + path + " is " + std::to_string(st.st_size) + " bytes" + limits;
    return false;
  }
  std::string text;
  if (!ReadFile(path, &text, err)) {
    return false;
  }
  if (text.size() > kMaxConfigFileBytes) {  // a file that grew, or no regular file
    *err = std::string(what) + " " + path + " is over " + std::to_string(kMaxConfigFileBytes) +
           " bytes" + limits;
    return false;
  }
  bool too_deep = false;
  auto depth_check = [&too_deep](int depth, nlohmann::ordered_json::parse_event_t event,
                                 nlohmann::ordered_json&) {
    using Event = nlohmann::ordered_json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) &&
        depth >= kMaxConfigFileDepth) {
      too_deep = true;
      return false;  // not kept: a deep document is not built just to be refused
    }
    return true;
  };
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(text, depth_check, false);
  if (too_deep) {
    *err = std::string(what) + " " + path + " nests over " + std::to_string(kMaxConfigFileDepth) +
           " levels" + limits;
    return false;
  }
  if (j.is_discarded() || !j.is_object()) {
    *err = std::string(what) + " " + path + " is not a JSON object";
    return false;
  }
  *out = std::move(j);
  return true;
}

std::string FieldTypeError(std::string_view path, std::string_view what) {
  return "field " + std::string(path) + " must be " + std::string(what);
}

template <typename Json>
JsonFields<Json>::JsonFields(const Json& value, std::string path)
    : value_(&value), path_(std::move(path)) {}

template <typename Json>
bool JsonFields<Json>::IsObject(std::string* err) const {
  if (value_->is_object()) {
    return true;
  }
  *err = path_.empty() ? std::string("the document must be a JSON object")
                       : FieldTypeError(path_, "an object");
  return false;
}

template <typename Json>
const Json* JsonFields<Json>::Find(const char* key) const {
  if (!value_->is_object()) {
    return nullptr;
  }
  auto it = value_->find(key);
  return it == value_->end() ? nullptr : &*it;
}

template <typename Json>
std::string JsonFields<Json>::PathOf(const char* key) const {
  return path_.empty() ? std::string(key) : path_ + "." + key;
}

template <typename Json>
const Json* JsonFields<Json>::Member(const char* key, Field field, bool* absent,
                                     std::string* err) const {
  *absent = false;
  if (!IsObject(err)) {
    return nullptr;
  }
  const Json* m = Find(key);
  if (m != nullptr && !(m->is_null() && field == Field::kOptional)) {
    return m;
  }
  if (field == Field::kOptional) {
    *absent = true;
  } else {
    *err = "field " + PathOf(key) + " is missing";
  }
  return nullptr;
}

template <typename Json>
bool JsonFields<Json>::String(const char* key, std::string* out, std::string* err,
                              Field field) const {
  bool absent;
  const Json* m = Member(key, field, &absent, err);
  if (m == nullptr) {
    return absent;
  }
  if (!m->is_string()) {
    *err = FieldTypeError(PathOf(key), "a string");
    return false;
  }
  *out = m->template get<std::string>();
  return true;
}

template <typename Json>
bool JsonFields<Json>::Strings(const char* key, std::vector<std::string>* out, std::string* err,
                               Field field) const {
  bool absent;
  const Json* m = Member(key, field, &absent, err);
  if (m == nullptr) {
    return absent;
  }
  if (!m->is_array()) {
    *err = FieldTypeError(PathOf(key), "an array of strings");
    return false;
  }
  std::vector<std::string> v;
  for (size_t i = 0; i < m->size(); ++i) {
    const Json& e = (*m)[i];
    if (!e.is_string()) {
      *err = FieldTypeError(PathOf(key) + "[" + std::to_string(i) + "]", "a string");
      return false;
    }
    v.push_back(e.template get<std::string>());
  }
  *out = std::move(v);
  return true;
}

template <typename Json>
bool JsonFields<Json>::Bool(const char* key, bool* out, std::string* err, Field field) const {
  bool absent;
  const Json* m = Member(key, field, &absent, err);
  if (m == nullptr) {
    return absent;
  }
  if (!m->is_boolean()) {
    *err = FieldTypeError(PathOf(key), "true or false");
    return false;
  }
  *out = m->template get<bool>();
  return true;
}

template <typename Json>
bool JsonFields<Json>::Int(const char* key, int64_t* out, std::string* err, Field field,
                           int64_t min, int64_t max) const {
  bool absent;
  const Json* m = Member(key, field, &absent, err);
  if (m == nullptr) {
    return absent;
  }
  bool in_range = false;
  int64_t v = 0;
  if (m->is_number_unsigned()) {
    uint64_t u = m->template get<uint64_t>();
    in_range = u <= static_cast<uint64_t>(INT64_MAX) && static_cast<int64_t>(u) <= max;
    v = static_cast<int64_t>(u);
    in_range = in_range && v >= min;
  } else if (m->is_number_integer()) {
    v = m->template get<int64_t>();
    in_range = v >= min && v <= max;
  } else {
    *err = FieldTypeError(PathOf(key), "an integer");
    return false;
  }
  if (!in_range) {
    *err = "field " + PathOf(key) + " is out of range (" + m->dump() + ")";
    return false;
  }
  *out = v;
  return true;
}

template <typename Json>
bool JsonFields<Json>::Int(const char* key, int* out, std::string* err, Field field) const {
  int64_t v = *out;
  if (!Int(key, &v, err, field, INT32_MIN, INT32_MAX)) {
    return false;
  }
  *out = static_cast<int>(v);
  return true;
}

template <typename Json>
bool JsonFields<Json>::Object(const char* key, JsonFields* out, std::string* err,
                              Field field) const {
  bool absent;
  const Json* m = Member(key, field, &absent, err);
  if (m == nullptr) {
    if (absent) {
      *out = JsonFields(EmptyObject<Json>(), PathOf(key));
    }
    return absent;
  }
  if (!m->is_object()) {
    *err = FieldTypeError(PathOf(key), "an object");
    return false;
  }
  *out = JsonFields(*m, PathOf(key));
  return true;
}

template <typename Json>
bool JsonFields<Json>::Array(const char* key, const Json** out, std::string* err,
                             Field field) const {
  bool absent;
  const Json* m = Member(key, field, &absent, err);
  if (m == nullptr) {
    if (absent) {
      *out = &EmptyArray<Json>();
    }
    return absent;
  }
  if (!m->is_array()) {
    *err = FieldTypeError(PathOf(key), "an array");
    return false;
  }
  *out = m;
  return true;
}

template class JsonFields<nlohmann::json>;
template class JsonFields<nlohmann::ordered_json>;

}  // namespace wandb_job

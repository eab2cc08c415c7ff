// The config of a program launched as a W&B job (its defaults, then `--key value` options, then
// the launch agent's WANDB_CONFIG overrides) and wandb::Run, which logs metrics and a summary
// through the `wandb-job exec` shim. Header-only, POSIX, needs nlohmann/json only; no networking.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace wandb {

/// A config problem: malformed WANDB_CONFIG, an option value that does not parse as the type of
/// its default, or a value read with the wrong type. what() names the variable, option or key,
/// e.g. "config key 'lr' (from WANDB_CONFIG): expected a number, got string \"fast\"".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads an environment variable that the launch agent may split into chunks: NAME if set, else
/// NAME_0, NAME_1, ... concatenated until one is missing. nullopt when neither is set. `source`,
/// when given, receives what was read ("WANDB_CONFIG" or "WANDB_CONFIG_0..WANDB_CONFIG_2").
inline std::optional<std::string> ReadChunkedEnv(const std::string& name,
                                                 std::string* source = nullptr);

/// The merged config of one program run, a JSON object. Keys are dotted paths into nested objects
/// ("model.hidden"); write "\." for a dot inside a key.
///
///   int main(int argc, char** argv) {
///     wandb::Config config = wandb::Config::FromEnvironment(
///         argc, argv, {{"lr", 0.01}, {"epochs", 10}, {"model", {{"hidden", 16}}}});
///     double lr = config.get<double>("lr", 0.01);
///     int hidden = config.get<int>("model.hidden", 16);
class Config {
 public:
  /// An empty config.
  Config() = default;
  /// A config holding `values`, which must be a JSON object (null counts as empty).
  explicit Config(nlohmann::json values);

  /// Merges, in increasing precedence:
  /// 1. `defaults`, a JSON object;
  /// 2. `--key value` and `--key=value` options in argv[1..] whose key (dotted for nested values,
  ///    `-` accepted for `_`) exists in `defaults`. The text is parsed as the type of the default:
  ///    booleans take true/false/1/0/yes/no/on/off and may stand alone (`--amp`); lists take a JSON
  ///    array or comma-separated values; objects take a JSON object, merged into the default.
  ///    Other arguments, and everything after `--`, are left in unused_args() for the program;
  /// 3. WANDB_CONFIG (or its chunks WANDB_CONFIG_0..N), a JSON object deep-merged on top: objects
  ///    merge, other values replace, keys absent from the defaults are added. Launch overrides
  ///    win, as in W&B's SDK. Unlike the SDK, WANDB_LAUNCH need not be set, so that
  ///    `WANDB_CONFIG='{"lr":0.1}' ./train` works by hand; an empty value means no overrides.
  /// Throws ConfigError for malformed defaults, option values or WANDB_CONFIG.
  static Config FromEnvironment(int argc, const char* const* argv, const nlohmann::json& defaults);
  /// The same, with the defaults given as JSON text (nullptr: none).
  static Config FromEnvironment(int argc, const char* const* argv, const char* defaults_json);
  static Config FromEnvironment(int argc, const char* const* argv,
                                const std::string& defaults_json);

  /// The value at `key` as T. Throws ConfigError when the key is missing (or null) or when the
  /// value does not fit T: integers must be whole numbers in T's range, bool only takes JSON
  /// booleans, std::string only JSON strings; std::vector<E> converts each element. Other types
  /// go through nlohmann::json's from_json.
  template <typename T>
  T get(std::string_view key) const;
  /// The same, but returns `default_value` when the key is missing or null.
  template <typename T>
  T get(std::string_view key, const T& default_value) const;
  std::string get(std::string_view key, const char* default_value) const {
    return get<std::string>(key, std::string(default_value));
  }

  /// Whether `key` is set to a non-null value.
  bool contains(std::string_view key) const;

  /// The merged config.
  const nlohmann::json& json() const { return values_; }
  /// The merged config as JSON text, compact unless `indent` >= 0; invalid UTF-8 is replaced.
  std::string dump(int indent = -1) const {
    return values_.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
  }

  /// argv[1..] that FromEnvironment did not consume, in order.
  const std::vector<std::string>& unused_args() const { return unused_args_; }

 private:
  using Path = std::vector<std::string>;

  static Config FromParts(int argc, const char* const* argv, nlohmann::json defaults);
  void ParseArgs(int argc, const char* const* argv, const nlohmann::json& defaults);
  void MergeLaunchConfig();
  void Set(const Path& path, nlohmann::json value, const std::string& origin);
  void Merge(nlohmann::json* dest, const nlohmann::json& src, Path* path,
             const std::string& origin);
  void ForgetOrigins(const Path& path);
  std::string Describe(std::string_view key, const Path& path) const;
  [[noreturn]] void Fail(std::string_view key, const Path& path, const std::string& why) const;

  nlohmann::json values_ = nlohmann::json::object();
  std::map<Path, std::string> origins_;  // who set a value: "--lr", "WANDB_CONFIG"
  std::vector<std::string> unused_args_;
};

// ---------------------------------------------------------------------------------------------
// Implementation.

namespace detail {

inline std::vector<std::string> SplitKey(std::string_view key) {
  std::vector<std::string> path(1);
  for (size_t i = 0; i < key.size(); ++i) {
    if (key[i] == '\\' && i + 1 < key.size() && key[i + 1] == '.') {
      path.back() += '.';
      ++i;
    } else if (key[i] == '.') {
      path.emplace_back();
    } else {
      path.back() += key[i];
    }
  }
  return path;
}

inline const nlohmann::json* Find(const nlohmann::json& root,
                                  const std::vector<std::string>& path) {
  const nlohmann::json* node = &root;
  for (const std::string& part : path) {
    if (!node->is_object()) {
      return nullptr;
    }
    auto it = node->find(part);
    if (it == node->end()) {
      return nullptr;
    }
    node = &*it;
  }
  return node;
}

/// "string \"fast\"", "number 0.5", "object {...}": the JSON type and a short excerpt.
inline std::string DescribeValue(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) {
    text = text.substr(0, 57) + "...";
  }
  return std::string(value.type_name()) + " " + text;
}

/// nlohmann's message without its "[json.exception.parse_error.101] " prefix.
inline std::string JsonMessage(const nlohmann::json::exception& e) {
  std::string message = e.what();
  if (!message.empty() && message[0] == '[') {
    size_t end = message.find("] ");
    if (end != std::string::npos) {
      message.erase(0, end + 2);
    }
  }
  return message;
}

inline nlohmann::json ParseJson(std::string_view text, const std::string& what) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(what + ": invalid JSON: " + JsonMessage(e));
  }
}

template <typename T>
struct IsVector : std::false_type {};
template <typename E, typename A>
struct IsVector<std::vector<E, A>> : std::true_type {};

/// Converts `value` to T; on failure sets `why` ("expected an integer, got number 0.5").
template <typename T>
bool Convert(const nlohmann::json& value, T* out, std::string* why) {
  if constexpr (std::is_same_v<T, nlohmann::json>) {
    *out = value;
    return true;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) {
      *why = "expected a boolean, got " + DescribeValue(value);
      return false;
    }
    *out = value.get<bool>();
    return true;
  } else if constexpr (std::is_integral_v<T>) {
    using Limits = std::numeric_limits<T>;
    std::string expected = "expected an integer";
    if (value.is_number_unsigned()) {
      uint64_t v = value.get<uint64_t>();
      if (v <= static_cast<uint64_t>(Limits::max())) {
        *out = static_cast<T>(v);
        return true;
      }
      expected +=
          " in [" + std::to_string(Limits::min()) + ", " + std::to_string(Limits::max()) + "]";
    } else if (value.is_number_integer()) {
      int64_t v = value.get<int64_t>();
      bool fits = Limits::is_signed ? (v >= static_cast<int64_t>(Limits::min()) &&
                                       v <= static_cast<int64_t>(Limits::max()))
                                    : (v >= 0 && static_cast<uint64_t>(v) <= Limits::max());
      if (fits) {
        *out = static_cast<T>(v);
        return true;
      }
      expected +=
          " in [" + std::to_string(Limits::min()) + ", " + std::to_string(Limits::max()) + "]";
    } else if (value.is_number_float()) {
      // Whole floats (32.0, 1e3) are integers too: a sweep or a UI may send them that way.
      double v = value.get<double>();
      // The bounds are exact powers of two, so the comparison is exact.
      double low = Limits::is_signed ? -std::ldexp(1.0, Limits::digits) : 0.0;
      double high = std::ldexp(1.0, Limits::digits);
      if (v == std::trunc(v) && v >= low && v < high) {
        *out = static_cast<T>(v);
        return true;
      }
    }
    *why = expected + ", got " + DescribeValue(value);
    return false;
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!value.is_number()) {
      *why = "expected a number, got " + DescribeValue(value);
      return false;
    }
    *out = value.get<T>();
    return true;
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) {
      *why = "expected a string, got " + DescribeValue(value);
      return false;
    }
    *out = value.get<std::string>();
    return true;
  } else if constexpr (IsVector<T>::value) {
    if (!value.is_array()) {
      *why = "expected a list, got " + DescribeValue(value);
      return false;
    }
    T result;
    result.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
      typename T::value_type element{};
      if (!Convert(value[i], &element, why)) {
        *why = "element " + std::to_string(i) + ": " + *why;
        return false;
      }
      result.push_back(std::move(element));
    }
    *out = std::move(result);
    return true;
  } else {
    try {
      *out = value.get<T>();
      return true;
    } catch (const nlohmann::json::exception& e) {
      *why = "cannot convert " + DescribeValue(value) + ": " + JsonMessage(e);
      return false;
    }
  }
}

/// Parses number text the way people type it ("+1", ".5", "1e-3"), independent of the locale.
inline std::optional<nlohmann::json> ParseNumber(std::string_view text) {
  std::string s(text);
  if (!s.empty() && s[0] == '+') {
    s.erase(0, 1);
  }
  size_t digits = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (s.size() > digits && s[digits] == '.') {
    s.insert(digits, "0");
  }
  if (!s.empty() && s.back() == '.') {
    s += '0';
  }
  nlohmann::json value = nlohmann::json::parse(s, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded() || !value.is_number()) {
    return std::nullopt;
  }
  return value;
}

inline std::optional<bool> ParseBool(std::string_view text) {
  std::string s;
  for (char c : text) {
    s += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  if (s == "true" || s == "1" || s == "yes" || s == "on") {
    return true;
  }
  if (s == "false" || s == "0" || s == "no" || s == "off") {
    return false;
  }
  return std::nullopt;
}

/// Parses option text as the type of `def`, the default value; throws ConfigError naming `option`.
inline nlohmann::json ParseOptionValue(const nlohmann::json& def, std::string_view text,
                                       const std::string& option) {
  auto fail = [&](const std::string& expected) -> ConfigError {
    return ConfigError("option " + option + ": expected " + expected + ", got '" +
                       std::string(text) + "'");
  };
  switch (def.type()) {
    case nlohmann::json::value_t::boolean: {
      std::optional<bool> b = ParseBool(text);
      if (!b) {
        throw fail("a boolean (true/false)");
      }
      return *b;
    }
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: {
      std::optional<nlohmann::json> n = ParseNumber(text);
      int64_t i = 0;
      uint64_t u = 0;
      std::string why;
      if (n && Convert(*n, &i, &why)) {
        return i;
      }
      if (n && Convert(*n, &u, &why)) {
        return u;
      }
      throw fail("an integer");
    }
    case nlohmann::json::value_t::number_float: {
      std::optional<nlohmann::json> n = ParseNumber(text);
      if (!n) {
        throw fail("a number");
      }
      return n->get<double>();
    }
    case nlohmann::json::value_t::string:
      return std::string(text);
    case nlohmann::json::value_t::array: {
      nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
      if (!parsed.is_discarded() && parsed.is_array()) {
        return parsed;
      }
      // Comma-separated: each item typed like the default's first element.
      nlohmann::json list = nlohmann::json::array();
      if (text.empty()) {
        return list;
      }
      nlohmann::json element_default = def.empty() ? nlohmann::json() : def.front();
      size_t start = 0;
      while (true) {
        size_t comma = text.find(',', start);
        std::string_view item = text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        std::string element_option = option + "[" + std::to_string(list.size()) + "]";
        list.push_back(ParseOptionValue(element_default, item, element_option));
        if (comma == std::string_view::npos) {
          break;
        }
        start = comma + 1;
      }
      return list;
    }
    case nlohmann::json::value_t::object: {
      nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
      if (parsed.is_discarded() || !parsed.is_object()) {
        throw fail("a JSON object");
      }
      return parsed;
    }
    default: {  // null: any JSON value, else the text as a string
      nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
      if (parsed.is_discarded()) {
        return std::string(text);
      }
      return parsed;
    }
  }
}

inline std::string JoinPath(const std::vector<std::string>& path) {
  std::string key;
  for (const std::string& part : path) {
    if (!key.empty()) {
      key += '.';
    }
    for (char c : part) {
      if (c == '.') {
        key += '\\';
      }
      key += c;
    }
  }
  return key;
}

}  // namespace detail

inline std::optional<std::string> ReadChunkedEnv(const std::string& name, std::string* source) {
  if (const char* whole = std::getenv(name.c_str())) {
    if (source != nullptr) {
      *source = name;
    }
    return std::string(whole);
  }
  std::string text;
  int count = 0;
  while (const char* chunk = std::getenv((name + "_" + std::to_string(count)).c_str())) {
    text += chunk;
    ++count;
  }
  if (count == 0) {
    return std::nullopt;
  }
  if (source != nullptr) {
    *source = name + "_0";
    if (count > 1) {
      *source += ".." + name + "_" + std::to_string(count - 1);
    }
  }
  return text;
}

inline Config::Config(nlohmann::json values) : values_(std::move(values)) {
  if (values_.is_null()) {
    values_ = nlohmann::json::object();
  }
  if (!values_.is_object()) {
    throw ConfigError("config: expected a JSON object, got " + detail::DescribeValue(values_));
  }
}

inline Config Config::FromEnvironment(int argc, const char* const* argv,
                                      const nlohmann::json& defaults) {
  return FromParts(argc, argv, defaults);
}

inline Config Config::FromEnvironment(int argc, const char* const* argv,
                                      const char* defaults_json) {
  // `FromEnvironment(argc, argv, {})` lands here with nullptr: no defaults.
  if (defaults_json == nullptr) {
    return FromParts(argc, argv, nlohmann::json::object());
  }
  return FromParts(argc, argv, detail::ParseJson(defaults_json, "defaults"));
}

inline Config Config::FromEnvironment(int argc, const char* const* argv,
                                      const std::string& defaults_json) {
  return FromParts(argc, argv, detail::ParseJson(defaults_json, "defaults"));
}

inline Config Config::FromParts(int argc, const char* const* argv, nlohmann::json defaults) {
  if (defaults.is_null()) {
    defaults = nlohmann::json::object();
  }
  if (!defaults.is_object()) {
    throw ConfigError("defaults: expected a JSON object, got " + detail::DescribeValue(defaults));
  }
  Config config;
  config.values_ = defaults;
  config.ParseArgs(argc, argv, defaults);
  config.MergeLaunchConfig();
  return config;
}

inline void Config::ParseArgs(int argc, const char* const* argv, const nlohmann::json& defaults) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (; i < argc; ++i) {
        unused_args_.emplace_back(argv[i]);
      }
      break;
    }
    if (arg.size() <= 2 || arg.substr(0, 2) != "--") {
      unused_args_.emplace_back(arg);
      continue;
    }
    size_t eq = arg.find('=');
    std::string name(arg.substr(2, eq == std::string_view::npos ? eq : eq - 2));
    Path path = detail::SplitKey(name);
    const nlohmann::json* def = detail::Find(defaults, path);
    if (def == nullptr && name.find('-') != std::string::npos) {
      for (std::string& part : path) {
        for (char& c : part) {
          c = c == '-' ? '_' : c;
        }
      }
      def = detail::Find(defaults, path);
    }
    if (def == nullptr) {
      unused_args_.emplace_back(arg);
      continue;
    }
    std::string option = "--" + name;
    std::string text;
    if (eq != std::string_view::npos) {
      text = arg.substr(eq + 1);
    } else if (def->is_boolean()) {
      // `--amp` alone means true; `--amp false` takes the next argument only if it is a boolean.
      text = "true";
      if (i + 1 < argc && detail::ParseBool(argv[i + 1])) {
        text = argv[++i];
      }
    } else if (i + 1 < argc) {
      text = argv[++i];
    } else {
      throw ConfigError("option " + option + ": missing value");
    }
    nlohmann::json value = detail::ParseOptionValue(*def, text, option);
    if (value.is_object()) {
      Path at = path;
      nlohmann::json* dest = &values_;
      for (const std::string& part : path) {
        dest = &(*dest)[part];
      }
      Merge(dest, value, &at, option);
    } else {
      Set(path, std::move(value), option);
    }
  }
}

inline void Config::MergeLaunchConfig() {
  std::string source;
  std::optional<std::string> text = ReadChunkedEnv("WANDB_CONFIG", &source);
  if (!text || text->find_first_not_of(" \t\r\n") == std::string::npos) {
    return;
  }
  nlohmann::json overrides = detail::ParseJson(*text, source);
  if (!overrides.is_object()) {
    throw ConfigError(source + ": expected a JSON object, got " + detail::DescribeValue(overrides));
  }
  Path path;
  Merge(&values_, overrides, &path, "WANDB_CONFIG");
}

inline void Config::Set(const Path& path, nlohmann::json value, const std::string& origin) {
  nlohmann::json* node = &values_;
  for (const std::string& part : path) {
    if (!node->is_object()) {
      *node = nlohmann::json::object();
    }
    node = &(*node)[part];
  }
  *node = std::move(value);
  ForgetOrigins(path);
  origins_[path] = origin;
}

inline void Config::Merge(nlohmann::json* dest, const nlohmann::json& src, Path* path,
                          const std::string& origin) {
  for (auto it = src.begin(); it != src.end(); ++it) {
    path->push_back(it.key());
    if (it->is_object() && dest->contains(it.key()) && (*dest)[it.key()].is_object()) {
      Merge(&(*dest)[it.key()], *it, path, origin);
    } else {
      (*dest)[it.key()] = *it;
      ForgetOrigins(*path);
      origins_[*path] = origin;
    }
    path->pop_back();
  }
}

inline void Config::ForgetOrigins(const Path& path) {
  for (auto it = origins_.lower_bound(path); it != origins_.end();) {
    if (it->first.size() < path.size() ||
        !std::equal(path.begin(), path.end(), it->first.begin())) {
      break;
    }
    it = origins_.erase(it);
  }
}

inline std::string Config::Describe(std::string_view key, const Path& path) const {
  std::string text = "config key '" + std::string(key) + "'";
  // The value's origin is recorded at the path itself or at an enclosing object.
  for (size_t n = path.size(); n > 0; --n) {
    auto it = origins_.find(Path(path.begin(), path.begin() + static_cast<std::ptrdiff_t>(n)));
    if (it != origins_.end()) {
      text += " (from " + it->second + ")";
      break;
    }
  }
  return text;
}

inline void Config::Fail(std::string_view key, const Path& path, const std::string& why) const {
  throw ConfigError(Describe(key, path) + ": " + why);
}

template <typename T>
T Config::get(std::string_view key) const {
  Path path = detail::SplitKey(key);
  const nlohmann::json* value = detail::Find(values_, path);
  if (value == nullptr || value->is_null()) {
    Fail(key, path, "not set");
  }
  T out{};
  std::string why;
  if (!detail::Convert(*value, &out, &why)) {
    Fail(key, path, why);
  }
  return out;
}

template <typename T>
T Config::get(std::string_view key, const T& default_value) const {
  Path path = detail::SplitKey(key);
  const nlohmann::json* value = detail::Find(values_, path);
  if (value == nullptr || value->is_null()) {
    return default_value;
  }
  T out{};
  std::string why;
  if (!detail::Convert(*value, &out, &why)) {
    Fail(key, path, why);
  }
  return out;
}

inline bool Config::contains(std::string_view key) const {
  const nlohmann::json* value = detail::Find(values_, detail::SplitKey(key));
  return value != nullptr && !value->is_null();
}

// ---------------------------------------------------------------------------------------------
// wandb::Run: metrics and summary of a program run by `wandb-job exec` (the job's entrypoint
// shim). The shim names a file in WANDB_JOB_METRICS_FILE; each log() or summary() appends one
// JSON line to it ({"history": {...}} or {"summary": {...}}), and the shim forwards them to the
// run's history and summary (W&B, or the local store offline). Without the shim, both are no-ops.
//
//   wandb::Run run = wandb::Run::FromEnvironment();
//   run.log({{"loss", 0.1}, {"epoch", 1}});   // one history row; _step counts from 0
//   run.summary({{"accuracy", 0.9}});          // final values; the last logged ones by default

/// The run a program reports to. Copies share the same file; logging is thread-safe as far as
/// each line is written with one write() call (O_APPEND).
class Run {
 public:
  /// A run that records nothing.
  Run() = default;
  /// The run the shim set up: WANDB_JOB_METRICS_FILE and WANDB_RUN_ID. A run without the shim
  /// (or whose file cannot be opened) records nothing.
  static Run FromEnvironment();

  /// Whether log() and summary() go anywhere.
  bool active() const { return sink_ != nullptr; }
  /// WANDB_RUN_ID, or "" without one.
  const std::string& id() const { return id_; }

  /// Appends one history row (a JSON object) at the next step, or at `step` (which then
  /// continues from there). Throws ConfigError when `row` is not an object.
  void log(const nlohmann::json& row);
  void log(const nlohmann::json& row, int64_t step);
  /// Sets summary values (a JSON object); they win over the last logged values.
  void summary(const nlohmann::json& values);

 private:
  struct Sink;
  void Append(const char* kind, const nlohmann::json& values);

  std::shared_ptr<Sink> sink_;
  std::string id_;
  std::shared_ptr<int64_t> step_ = std::make_shared<int64_t>(0);
};

struct Run::Sink {
  int fd = -1;
  ~Sink() {
    if (fd >= 0) {
      ::close(fd);
    }
  }
};

inline Run Run::FromEnvironment() {
  Run run;
  if (const char* id = std::getenv("WANDB_RUN_ID")) {
    run.id_ = id;
  }
  const char* path = std::getenv("WANDB_JOB_METRICS_FILE");
  if (path == nullptr || *path == '\0') {
    return run;
  }
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd >= 0) {
    run.sink_ = std::make_shared<Sink>();
    run.sink_->fd = fd;
  }
  return run;
}

inline void Run::log(const nlohmann::json& row) { log(row, *step_); }

inline void Run::log(const nlohmann::json& row, int64_t step) {
  if (!row.is_object()) {
    throw ConfigError("wandb::Run::log: expected a JSON object, got " + detail::DescribeValue(row));
  }
  *step_ = step + 1;
  if (!active()) {
    return;
  }
  nlohmann::json values = row;
  values["_step"] = step;
  Append("history", values);
}

inline void Run::summary(const nlohmann::json& values) {
  if (!values.is_object()) {
    throw ConfigError("wandb::Run::summary: expected a JSON object, got " +
                      detail::DescribeValue(values));
  }
  if (active()) {
    Append("summary", values);
  }
}

inline void Run::Append(const char* kind, const nlohmann::json& values) {
  std::string line =
      nlohmann::json{{kind, values}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
      "\n";
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {  // one write() per line in practice: O_APPEND keeps lines whole
    ssize_t n = ::write(sink_->fd, data, left);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return;  // metrics are best effort: the program's work matters more
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace wandb

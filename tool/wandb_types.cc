#include "wandb_types.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <utility>

namespace wandb_job {

namespace {

using OrderedJson = nlohmann::ordered_json;

constexpr size_t kNameMaxLen = 128;
constexpr uint32_t kReplacementChar = 0xFFFD;

// Decodes one UTF-8 code point at s[*i] and advances *i. An invalid or truncated sequence counts
// as one character (one byte), like Go's range over a string; returns kReplacementChar for it.
uint32_t NextCodePoint(std::string_view s, size_t* i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(*i);
  if (c < 0x80) {
    ++*i;
    return c;
  }
  int len = 0;
  uint32_t cp = 0;
  uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    cp = c & 0x1F;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    cp = c & 0x0F;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    cp = c & 0x07;
    min = 0x10000;
  } else {
    ++*i;
    return kReplacementChar;
  }
  if (*i + len > s.size()) {
    ++*i;
    return kReplacementChar;
  }
  for (int k = 1; k < len; ++k) {
    unsigned char cc = byte(*i + k);
    if ((cc & 0xC0) != 0x80) {
      ++*i;
      return kReplacementChar;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++*i;
    return kReplacementChar;
  }
  *i += len;
  return cp;
}

size_t CountCodePoints(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    NextCodePoint(s, &i);
  }
  return n;
}

bool IsNameChar(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

bool IsVersionIndex(std::string_view alias) {
  if (alias.size() < 2 || alias[0] != 'v') {
    return false;
  }
  for (size_t i = 1; i < alias.size(); ++i) {
    if (alias[i] < '0' || alias[i] > '9') {
      return false;
    }
  }
  return true;
}

std::string Quoted(std::string_view s) {
  constexpr size_t kMax = 40;
  if (s.size() > kMax) {
    return "'" + std::string(s.substr(0, kMax)) + "...'";
  }
  return "'" + std::string(s) + "'";
}

void AppendU16(uint32_t unit, std::string* out) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(unit));
  out->append(buf);
}

// Python's float.__repr__: the shortest digits that round-trip, fixed notation when the decimal
// exponent is in [-4, 16), otherwise d.ddde+XX; always with a "." or an exponent.
std::string PythonFloatRepr(double d) {
  if (std::isnan(d)) {
    return "NaN";
  }
  if (std::isinf(d)) {
    return d < 0 ? "-Infinity" : "Infinity";
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  std::string sign;
  if (!sci.empty() && sci[0] == '-') {
    sign = "-";
    sci.erase(0, 1);
  }
  size_t e = sci.find('e');
  std::string mantissa = sci.substr(0, e);
  int exponent = std::stoi(sci.substr(e + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') {
      digits.push_back(c);
    }
  }
  int decpt = exponent + 1;  // digits "123" with decpt 1 is 1.23
  std::string out = sign;
  if (decpt > -4 && decpt <= 16) {
    int n = static_cast<int>(digits.size());
    if (decpt <= 0) {
      out += "0." + std::string(-decpt, '0') + digits;
    } else if (decpt < n) {
      out += digits.substr(0, decpt) + "." + digits.substr(decpt);
    } else {
      out += digits + std::string(decpt - n, '0') + ".0";
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) {
    out += "." + digits.substr(1);
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + ebuf;
}

// A parsed JSON value kept as Python's json.load would hold it: scalars already rendered,
// objects in insertion order with a repeated key replacing the value in place.
struct PyNode {
  enum class Kind { kScalar, kObject, kArray };
  Kind kind = Kind::kScalar;
  std::string text;               // kScalar: the rendered value
  std::vector<std::string> keys;  // kObject: rendered keys
  std::vector<PyNode> values;     // kObject values / kArray items
  std::unordered_map<std::string, size_t> index;

  void Add(std::string key, PyNode value) {
    auto it = index.find(key);
    if (it != index.end()) {
      values[it->second] = std::move(value);
      return;
    }
    index.emplace(key, keys.size());
    keys.push_back(std::move(key));
    values.push_back(std::move(value));
  }
};

// nlohmann SAX handler that builds a PyNode tree. SAX is used (rather than a DOM) because it
// hands over the source text of numbers, so integers beyond 64 bits keep every digit as in
// Python.
class PyTreeBuilder {
 public:
  using Json = nlohmann::json;

  bool null() { return Attach(Scalar("null")); }
  bool boolean(bool v) { return Attach(Scalar(v ? "true" : "false")); }
  bool number_integer(Json::number_integer_t v) { return Attach(Scalar(std::to_string(v))); }
  bool number_unsigned(Json::number_unsigned_t v) { return Attach(Scalar(std::to_string(v))); }
  bool number_float(Json::number_float_t v, const Json::string_t& s) {
    if (s.find_first_of(".eE") == std::string::npos) {
      return Attach(Scalar(s));  // an integer too large for 64 bits
    }
    return Attach(Scalar(PythonFloatRepr(v)));
  }
  bool string(Json::string_t& v) { return Attach(Scalar(PythonJsonString(v))); }
  bool binary(Json::binary_t&) {
    error_ = "binary values are not JSON";
    return false;
  }
  bool start_object(std::size_t) {
    PyNode n;
    n.kind = PyNode::Kind::kObject;
    stack_.push_back(std::move(n));
    return true;
  }
  bool key(Json::string_t& k) {
    keys_.push_back(PythonJsonString(k));
    return true;
  }
  bool end_object() { return Pop(); }
  bool start_array(std::size_t) {
    PyNode n;
    n.kind = PyNode::Kind::kArray;
    stack_.push_back(std::move(n));
    return true;
  }
  bool end_array() { return Pop(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
    error_ = e.what();
    return false;
  }

  PyNode* root() { return &root_; }
  const std::string& error() const { return error_; }

 private:
  static PyNode Scalar(std::string text) {
    PyNode n;
    n.text = std::move(text);
    return n;
  }
  bool Pop() {
    PyNode n = std::move(stack_.back());
    stack_.pop_back();
    return Attach(std::move(n));
  }
  bool Attach(PyNode n) {
    if (stack_.empty()) {
      root_ = std::move(n);
      return true;
    }
    PyNode& top = stack_.back();
    if (top.kind == PyNode::Kind::kObject) {
      top.Add(std::move(keys_.back()), std::move(n));
      keys_.pop_back();
    } else {
      top.values.push_back(std::move(n));
    }
    return true;
  }

  std::vector<PyNode> stack_;
  std::vector<std::string> keys_;
  PyNode root_;
  std::string error_;
};

void RenderIndent4(const PyNode& n, int level, std::string* out) {
  if (n.kind == PyNode::Kind::kScalar) {
    out->append(n.text);
    return;
  }
  bool object = n.kind == PyNode::Kind::kObject;
  if (n.values.empty()) {
    out->append(object ? "{}" : "[]");
    return;
  }
  out->push_back(object ? '{' : '[');
  std::string inner = "\n" + std::string(4 * (level + 1), ' ');
  for (size_t i = 0; i < n.values.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    out->append(inner);
    if (object) {
      out->append(n.keys[i]);
      out->append(": ");
    }
    RenderIndent4(n.values[i], level + 1, out);
  }
  out->append("\n" + std::string(4 * level, ' '));
  out->push_back(object ? '}' : ']');
}

bool ParseOrdered(std::string_view text, OrderedJson* out, std::string* err) {
  try {
    *out = OrderedJson::parse(text);
  } catch (const OrderedJson::exception& e) {
    *err = e.what();
    return false;
  }
  return true;
}

bool DumpCompact(const OrderedJson& j, std::string* out, std::string* err) {
  try {
    *out = j.dump();
  } catch (const OrderedJson::exception& e) {
    *err = e.what();
    return false;
  }
  return true;
}

OrderedJson TypeNode(const char* name) { return OrderedJson{{"wb_type", name}}; }

OrderedJson TypeOf(const OrderedJson& v) {
  switch (v.type()) {
    case OrderedJson::value_t::object: {
      OrderedJson type_map = OrderedJson::object();
      for (const auto& [key, value] : v.items()) {
        if (key != "_wandb") {
          type_map[key] = TypeOf(value);
        }
      }
      OrderedJson node = TypeNode("typedDict");
      node["params"] = {{"type_map", std::move(type_map)}};
      return node;
    }
    case OrderedJson::value_t::array: {
      std::vector<std::string> names;  // first-seen order
      std::unordered_map<std::string, OrderedJson> last;
      for (const auto& item : v) {
        OrderedJson t = TypeOf(item);
        std::string name = t["wb_type"].get<std::string>();
        if (last.find(name) == last.end()) {
          names.push_back(name);
        }
        last[name] = std::move(t);
      }
      OrderedJson element;
      if (names.empty()) {
        element = TypeNode("unknown");
      } else if (names.size() == 1) {
        element = std::move(last[names[0]]);
      } else {
        OrderedJson allowed = OrderedJson::array();
        for (const std::string& name : names) {
          allowed.push_back(std::move(last[name]));
        }
        element = TypeNode("union");
        element["params"] = {{"allowed_types", std::move(allowed)}};
      }
      OrderedJson node = TypeNode("list");
      node["params"] = {{"element_type", std::move(element)}, {"length", v.size()}};
      return node;
    }
    case OrderedJson::value_t::number_integer:
    case OrderedJson::value_t::number_unsigned:
    case OrderedJson::value_t::number_float:
      return TypeNode("number");
    case OrderedJson::value_t::string:
      return TypeNode("string");
    case OrderedJson::value_t::boolean:
      return TypeNode("boolean");
    case OrderedJson::value_t::null:
      return TypeNode("none");
    default:
      return TypeNode("unknown");
  }
}

bool IsKeySegment(std::string_view seg) {
  if (seg.empty()) {
    return false;
  }
  for (size_t i = 0; i < seg.size(); ++i) {
    char c = seg[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = (c >= '0' && c <= '9') || c == '-';
    if (!alpha && !(i > 0 && digit)) {
      return false;
    }
  }
  return true;
}

void MergeInto(OrderedJson* base, const OrderedJson& overlay) {
  for (const auto& [key, value] : overlay.items()) {
    auto it = base->find(key);
    if (it != base->end() && it->is_object() && value.is_object()) {
      MergeInto(&*it, value);
    } else {
      (*base)[key] = value;
    }
  }
}

}  // namespace

std::string MakeArtifactNameSafe(std::string_view name) {
  // One "_" per character (code point), as Python's re.sub and Go's regexp do.
  std::string cleaned;
  for (size_t i = 0; i < name.size();) {
    uint32_t c = NextCodePoint(name, &i);
    cleaned.push_back(IsNameChar(c) ? static_cast<char>(c) : '_');
  }
  if (cleaned.size() <= kNameMaxLen) {
    return cleaned;
  }
  return cleaned.substr(0, 63) + ".." + cleaned.substr(cleaned.size() - 63);
}

bool ValidateArtifactName(std::string_view name, std::string* err) {
  if (name.empty()) {
    *err = "artifact name is empty";
    return false;
  }
  if (name.size() > kNameMaxLen) {
    *err = "artifact name " + Quoted(name) + " is longer than 128 characters";
    return false;
  }
  for (char c : name) {
    if (!IsNameChar(static_cast<unsigned char>(c))) {
      *err =
          "artifact name " + Quoted(name) + " may only contain letters, digits, '_', '-' and '.'";
      return false;
    }
  }
  return true;
}

bool ValidateAlias(std::string_view alias, std::string* err) {
  if (alias.empty()) {
    *err = "alias is empty";
    return false;
  }
  if (CountCodePoints(alias) > kNameMaxLen) {
    *err = "alias " + Quoted(alias) + " is longer than 128 characters";
    return false;
  }
  if (alias.find_first_of("/:") != std::string_view::npos) {
    *err = "alias " + Quoted(alias) + " must not contain '/' or ':'";
    return false;
  }
  if (IsVersionIndex(alias)) {
    *err = "alias " + Quoted(alias) + " looks like a version index (v<N>), which W&B assigns";
    return false;
  }
  return true;
}

bool ValidateProjectName(std::string_view name, std::string* err) {
  if (name.empty()) {
    *err = "project name is empty";
    return false;
  }
  if (CountCodePoints(name) > kNameMaxLen) {
    *err = "project name " + Quoted(name) + " is longer than 128 characters";
    return false;
  }
  size_t bad = name.find_first_of("/\\#?%:\r\n");
  if (bad != std::string_view::npos) {
    std::string what = name[bad] == '\r'   ? "\\r"
                       : name[bad] == '\n' ? "\\n"
                                           : std::string(1, name[bad]);
    *err = "project name " + Quoted(name) + " must not contain '" + what + "'";
    return false;
  }
  return true;
}

std::string SanitizeAlias(std::string_view text) {
  std::string out;
  size_t count = 0;
  for (size_t i = 0; i < text.size() && count < kNameMaxLen; ++count) {
    size_t start = i;
    uint32_t c = NextCodePoint(text, &i);
    if (c == '/' || c == ':' || c < 0x20 || c == 0x7F || c == ' ' || c == kReplacementChar) {
      out.push_back('-');
    } else {
      out.append(text.substr(start, i - start));
    }
  }
  if (IsVersionIndex(out)) {
    if (out.size() >= kNameMaxLen) {
      out.resize(kNameMaxLen - 1);
    }
    out.push_back('-');
  }
  return out;
}

namespace {

/// The JSON Schema type of a value; "" for null (no schema type W&B's drawer accepts).
std::string SchemaType(const OrderedJson& v) {
  return v.is_boolean()          ? "boolean"
         : v.is_number_integer() ? "integer"
         : v.is_number()         ? "number"
         : v.is_string()         ? "string"
         : v.is_object()         ? "object"
         : v.is_array()          ? "array"
                                 : "";
}

OrderedJson SchemaOf(const OrderedJson& v) {
  OrderedJson schema = {{"type", SchemaType(v)}};
  if (v.is_object()) {
    OrderedJson properties = OrderedJson::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.key() != "_wandb" && !it->is_null()) {
        properties[it.key()] = SchemaOf(*it);
      }
    }
    schema["properties"] = std::move(properties);
    return schema;
  }
  if (v.is_array()) {
    std::string element;
    bool same = !v.empty();
    for (const OrderedJson& e : v) {
      std::string t = SchemaType(e);
      same = same && !t.empty() && t != "object" && t != "array" && (element.empty() || t == element);
      element = t;
    }
    if (same) {
      schema["items"] = {{"type", element}};
    }
  }
  schema["default"] = v;
  return schema;
}

}  // namespace

bool InputSchemaFromConfig(std::string_view config_json, std::string_view doc_json,
                           std::string* schema_json, std::string* err) {
  OrderedJson config = OrderedJson::parse(config_json, nullptr, false);
  if (!config.is_object()) {
    *err = "the config is not a JSON object";
    return false;
  }
  OrderedJson doc = OrderedJson::object();
  if (!doc_json.empty()) {
    doc = OrderedJson::parse(doc_json, nullptr, false);
    if (!doc.is_object()) {
      *err = "the input documentation is not a JSON object";
      return false;
    }
  }
  OrderedJson schema = SchemaOf(config);
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    // The leaf's schema: walk the dotted key through "properties".
    OrderedJson* node = &schema;
    size_t start = 0;
    const std::string& key = it.key();
    bool found = !key.empty();
    while (found && start <= key.size()) {
      size_t dot = key.find('.', start);
      std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
      auto props = node->find("properties");
      found = props != node->end() && props->contains(part);
      if (found) {
        node = &(*props)[part];
      }
      start = dot == std::string::npos ? key.size() + 1 : dot + 1;
    }
    if (!found || (*node)["type"] == "object") {
      *err = "input documentation for '" + key + "': no such config value";
      return false;
    }
    if (!it->is_object()) {
      *err = "input documentation for '" + key + "': expected {\"description\": ..., \"enum\": [...]}";
      return false;
    }
    const OrderedJson value = (*node)["default"];  // a copy: adding members moves them
    for (auto field = it->begin(); field != it->end(); ++field) {
      bool bound = field.key() == "minimum" || field.key() == "maximum";
      if (field.key() == "description" && field->is_string()) {
        (*node)["description"] = *field;
      } else if (field.key() == "enum" && field->is_array() && !field->empty()) {
        if (std::find(field->begin(), field->end(), value) == field->end()) {
          *err = "input documentation for '" + key + "': the default " + value.dump() +
                 " is not one of the enum " + field->dump();
          return false;
        }
        (*node)["enum"] = *field;
      } else if (bound && field->is_number() && value.is_number()) {
        bool inside = field.key() == "minimum" ? value >= *field : value <= *field;
        if (!inside) {
          *err = "input documentation for '" + key + "': the default " + value.dump() + " is " +
                 (field.key() == "minimum" ? "below the minimum " : "above the maximum ") +
                 field->dump();
          return false;
        }
        (*node)[field.key()] = *field;
      } else {
        *err = "input documentation for '" + key + "': '" + field.key() +
               "' is not a description (text), an enum (a non-empty list) or a minimum or "
               "maximum (a number, of a number)";
        return false;
      }
    }
  }
  *schema_json = schema.dump(-1, ' ', false, OrderedJson::error_handler_t::replace);
  return true;
}

bool InputTypesFromConfig(std::string_view object_json, std::string* types_json, std::string* err) {
  OrderedJson config;
  if (!ParseOrdered(object_json, &config, err)) {
    return false;
  }
  if (!config.is_object()) {
    *err = std::string("config must be a JSON object, not ") + config.type_name();
    return false;
  }
  return DumpCompact(TypeOf(config), types_json, err);
}

std::string PythonJsonString(std::string_view utf8) {
  std::string out = "\"";
  for (size_t i = 0; i < utf8.size();) {
    uint32_t c = NextCodePoint(utf8, &i);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c >= 0x20 && c < 0x7F) {
          out.push_back(static_cast<char>(c));
        } else if (c < 0x10000) {
          AppendU16(c, &out);
        } else {
          uint32_t v = c - 0x10000;
          AppendU16(0xD800 | (v >> 10), &out);
          AppendU16(0xDC00 | (v & 0x3FF), &out);
        }
    }
  }
  out.push_back('"');
  return out;
}

bool PythonIndent4(std::string_view json_text, std::string* out, std::string* err) {
  PyTreeBuilder builder;
  if (!nlohmann::json::sax_parse(json_text, &builder)) {
    *err = builder.error().empty() ? "invalid JSON" : builder.error();
    return false;
  }
  std::string result;
  RenderIndent4(*builder.root(), 0, &result);
  *out = std::move(result);
  return true;
}

bool ConfigPairsToJson(const std::vector<std::string>& pairs, std::string* object_json,
                       std::string* err) {
  OrderedJson root = OrderedJson::object();
  std::set<std::string> leaves;
  std::set<std::string> parents;
  for (const std::string& pair : pairs) {
    std::string where = "bad CONFIG pair " + Quoted(pair) + ": ";
    size_t eq = pair.find('=');
    if (eq == std::string::npos) {
      *err = where + "expected key=value";
      return false;
    }
    std::string key = pair.substr(0, eq);
    std::string text = pair.substr(eq + 1);
    if (key.empty()) {
      *err = where + "empty key";
      return false;
    }
    std::vector<std::string> segments;
    for (size_t start = 0;;) {
      size_t dot = key.find('.', start);
      segments.push_back(key.substr(start, dot == std::string::npos ? dot : dot - start));
      if (dot == std::string::npos) {
        break;
      }
      start = dot + 1;
    }
    for (const std::string& seg : segments) {
      if (!IsKeySegment(seg)) {
        *err = where + "invalid key " + Quoted(key) +
               " (dot-separated names of letters, digits, '_' and '-', not starting with a "
               "digit or '-')";
        return false;
      }
    }
    if (leaves.count(key) != 0) {
      *err = where + "duplicate key " + Quoted(key);
      return false;
    }
    if (parents.count(key) != 0) {
      *err = where + Quoted(key) + " already has nested keys";
      return false;
    }
    std::string prefix;
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
      prefix += (i > 0 ? "." : "") + segments[i];
      if (leaves.count(prefix) != 0) {
        *err = where + Quoted(prefix) + " is already set to a value";
        return false;
      }
    }
    OrderedJson value = OrderedJson::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded()) {
      value = text;
      std::string ignored;
      if (!DumpCompact(value, &ignored, &ignored)) {
        *err = where + "value is not valid UTF-8";
        return false;
      }
    }
    prefix.clear();
    OrderedJson* node = &root;
    for (size_t i = 0; i + 1 < segments.size(); ++i) {
      prefix += (i > 0 ? "." : "") + segments[i];
      parents.insert(prefix);
      node = &(*node)[segments[i]];
    }
    (*node)[segments.back()] = std::move(value);
    leaves.insert(key);
  }
  return DumpCompact(root, object_json, err);
}

bool MergeJsonObjects(std::string_view base, std::string_view overlay, std::string* out,
                      std::string* err) {
  OrderedJson b;
  OrderedJson o;
  if (!ParseOrdered(base, &b, err)) {
    *err = "base: " + *err;
    return false;
  }
  if (!b.is_object()) {
    *err = std::string("base: expected a JSON object, not ") + b.type_name();
    return false;
  }
  if (!ParseOrdered(overlay, &o, err)) {
    *err = "overlay: " + *err;
    return false;
  }
  if (!o.is_object()) {
    *err = std::string("overlay: expected a JSON object, not ") + o.type_name();
    return false;
  }
  MergeInto(&b, o);
  return DumpCompact(b, out, err);
}

}  // namespace wandb_job

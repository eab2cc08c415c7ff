// W&B's naming and typing rules, exactly as the SDK applies them: the artifact-name sanitiser,
// alias rules, W&B type JSON for input_types, and Python-compatible JSON rendering.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace wandb_job {

/// wandb.util.make_artifact_name_safe: every char outside [A-Za-z0-9_.-] becomes "_"; over 128
/// chars keeps the first 63, "..", the last 63.
std::string MakeArtifactNameSafe(std::string_view name);

/// A W&B artifact (collection) name: [A-Za-z0-9_.-]+, at most 128 characters.
bool ValidateArtifactName(std::string_view name, std::string* err);
/// An alias: non-empty, at most 128 characters, no "/" or ":", and not a version index "v<N>".
bool ValidateAlias(std::string_view alias, std::string* err);
/// A project name: at most 128 characters, none of / \ # ? % : CR LF.
bool ValidateProjectName(std::string_view name, std::string* err);
/// An alias made from free text (branch names in CI): invalid characters become "-", trimmed to
/// 128 characters; a "v<N>" result gets a "-" appended.
std::string SanitizeAlias(std::string_view text);

/// W&B type JSON (typedDict/number/string/boolean/none/list/unknown, union for mixed lists) of a
/// JSON object, as a compact JSON string; keys keep their order. `object_json` must be an object.
/// Follows wandb-core (Go): "_wandb" keys are dropped at every level; a list's element type is
/// that of its last element of each type name, and several type names give a union. Go orders
/// the union randomly; we list the types in the order they first appear, for stable digests.
bool InputTypesFromConfig(std::string_view object_json, std::string* types_json, std::string* err);

/// The JSON Schema of a job's config for the `input_schemas` artifact metadata
/// ({"input_schemas": {"@wandb.config": <schema>}}, as `wandb job create --schema` writes it), so
/// W&B's launch drawer shows typed fields: {"type": "object", "properties": {...}} with
/// boolean/integer/number/string leaves carrying their default, nested objects as objects, lists
/// as arrays (with "items" when their elements share one type); nulls and "_wandb" are left out.
/// `doc_json` ("" for none) is an object of dotted key -> {"description": text, "enum": [...],
/// "minimum": n, "maximum": n} merged into those leaves (wandb_add_job's INPUT); a key that is
/// not a leaf of the config, an enum without the default or bounds that exclude it are errors.
bool InputSchemaFromConfig(std::string_view config_json, std::string_view doc_json,
                           std::string* schema_json, std::string* err);

/// A JSON string literal (quotes included) as Python's json.dumps writes it with ensure_ascii:
/// non-ASCII as lowercase \uXXXX (surrogate pairs above U+FFFF), DEL as \u007f, "/" unescaped.
/// Bytes that are not valid UTF-8 become \ufffd.
std::string PythonJsonString(std::string_view utf8);

/// Renders JSON text the way Python's json.dumps(obj, indent=4) does (ensure_ascii, "," and
/// ": " separators, insertion order kept, empty {} and [] compact, no trailing newline): the bytes
/// of W&B CLI-created wandb-job.json files. Integers keep all their digits, floats print like
/// Python's repr(), a repeated key keeps its first position and its last value. Numbers that
/// overflow a double are rejected (Python would print Infinity), as are NaN and Infinity literals
/// and lone surrogate escapes.
bool PythonIndent4(std::string_view json_text, std::string* out, std::string* err);

/// Parses CONFIG "key=value" pairs into a JSON object: dotted keys nest ("model.depth=3"); a value
/// that is valid JSON (number, true, false, null, [..], {..}, "..") keeps its type, anything else
/// is a string. Keys are segments [A-Za-z_][A-Za-z0-9_-]* joined by "."; keys keep the order of
/// first appearance. Duplicate keys, empty or malformed keys, and a key that is both a value and
/// a parent ("a=1" with "a.b=2") are errors naming the pair.
bool ConfigPairsToJson(const std::vector<std::string>& pairs, std::string* object_json,
                       std::string* err);
/// Deep-merges JSON object `overlay` into `base` (objects merge, other values replace, null
/// included; new keys go after base's). Output is compact JSON.
bool MergeJsonObjects(std::string_view base, std::string_view overlay, std::string* out,
                      std::string* err);

}  // namespace wandb_job

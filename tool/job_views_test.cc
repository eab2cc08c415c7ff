#include "job_views.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "hash.h"
#include "test_util.h"

namespace wandb_job {
namespace {

using Rows = std::vector<std::pair<std::string, std::string>>;

constexpr char kJobJsonV0[] = R"({
    "_version": "v0",
    "source_type": "repo",
    "source": {
        "git": {"remote": "https://github.com/acme/trainer.git",
                "commit": "0123456789abcdef0123456789abcdef01234567"},
        "entrypoint": ["./train", "--lr", "{lr}", "--note", "a b"],
        "notebook": false
    },
    "input_types": {"wb_type": "typedDict", "params": {"type_map": {
        "lr": {"wb_type": "number"},
        "model": {"wb_type": "typedDict", "params": {"type_map": {
            "layers": {"wb_type": "list", "params": {"element_type": {"wb_type": "number"},
                                                     "length": 2}}}}}}}},
    "output_types": {"wb_type": "typedDict", "params": {"type_map": {}}},
    "runtime": ""
})";

constexpr char kJobJsonV1[] =
    R"({"_version":"v0","source_type":"image","source":{"image":"ghcr.io/acme/trainer:1.4.2"},)"
    R"("input_types":{"wb_type":"typedDict","params":{"type_map":{}}},)"
    R"("output_types":{"wb_type":"typedDict","params":{"type_map":{"loss":{"wb_type":"number"}}}},)"
    R"("runtime":""})";

/// A job model and the file contents behind it, as a store would hand them over.
struct Fixture {
  StoredCollection job;
  std::map<std::string, std::string> blobs;  // digest -> contents

  StoredVersion& AddVersion(const std::vector<std::pair<std::string, std::string>>& files,
                            std::vector<std::string> aliases) {
    StoredVersion v;
    v.index = static_cast<int>(job.versions.size());
    v.id = "QXJ0aWZhY3Q6" + std::to_string(v.index);
    v.aliases = std::move(aliases);
    v.created_at = "2024-01-0" + std::to_string(v.index + 2) + "T03:04:05Z";
    v.description = "trains v" + std::to_string(v.index);
    for (const auto& [path, contents] : files) {
      std::string digest = Md5Base64(contents);
      v.manifest.Add({path, digest, contents.size(), v.id});
      blobs[digest] = contents;
    }
    v.digest = v.manifest.Digest();
    job.versions.push_back(std::move(v));
    return job.versions.back();
  }

  VersionFileReader Reader() const {
    return [this](const StoredVersion& v, const std::string& path, std::string* contents,
                  std::string* err) {
      const ManifestEntry* e = v.manifest.Find(path);
      if (e == nullptr) {
        *err = "no file " + path;
        return false;
      }
      *contents = blobs.at(e->digest);
      return true;
    };
  }
};

Fixture TwoVersionJob() {
  Fixture f;
  f.job.entity = "local";
  f.job.project = "mnist";
  f.job.type = "job";
  f.job.name = "job-train";
  f.job.created_at = "2024-01-02T03:04:05Z";
  f.AddVersion({{"requirements.frozen.txt", ""}, {"wandb-job.json", kJobJsonV0}}, {"prod"});
  f.AddVersion({{"requirements.frozen.txt", ""}, {"wandb-job.json", kJobJsonV1}},
               {"latest", "1.4.2"});
  return f;
}

TEST(JobViewsTest, ParseJobRefAcceptsTheThreeForms) {
  JobRef ref;
  std::string err;
  ASSERT_TRUE(ParseJobRef("job-train", &ref, &err)) << err;
  EXPECT_EQ(ref.name, "job-train");
  EXPECT_EQ(ref.project, "");
  EXPECT_EQ(ref.entity, "");
  EXPECT_EQ(ref.selector, "");
  ASSERT_TRUE(ParseJobRef("mnist/job-train:prod", &ref, &err)) << err;
  EXPECT_EQ(ref.project, "mnist");
  EXPECT_EQ(ref.name, "job-train");
  EXPECT_EQ(ref.selector, "prod");
  ASSERT_TRUE(ParseJobRef("acme/mnist/job-train:v12", &ref, &err)) << err;
  EXPECT_EQ(ref.entity, "acme");
  EXPECT_EQ(ref.project, "mnist");
  EXPECT_EQ(ref.selector, "v12");
  ASSERT_TRUE(ParseJobRef("p/job:latest", &ref, &err)) << err;
  EXPECT_EQ(ref.selector, "latest");
}

TEST(JobViewsTest, ParseJobRefRejectsBadText) {
  for (const char* text : {"", "a/b/c/d", "/job", "p//job", "job/", "job:", "bad name", "job:a/b",
                           "p/job:x:y", "a#b/job"}) {
    JobRef ref;
    std::string err;
    EXPECT_FALSE(ParseJobRef(text, &ref, &err)) << text;
    EXPECT_EQ(err.rfind("invalid job reference '" + std::string(text) + "': ", 0), 0u) << err;
  }
  JobRef ref;
  std::string err;
  ParseJobRef("a/b/c/d", &ref, &err);
  EXPECT_EQ(err, "invalid job reference 'a/b/c/d': expected [[ENTITY/]PROJECT/]NAME[:ALIAS|:vN]");
}

TEST(JobViewsTest, SelectVersionByAliasIndexOrLatest) {
  Fixture f = TwoVersionJob();
  const StoredVersion* v = nullptr;
  std::string err;
  ASSERT_TRUE(SelectVersion(f.job, "", &v, &err)) << err;
  EXPECT_EQ(v->index, 1);
  ASSERT_TRUE(SelectVersion(f.job, "latest", &v, &err)) << err;
  EXPECT_EQ(v->index, 1);
  ASSERT_TRUE(SelectVersion(f.job, "prod", &v, &err)) << err;
  EXPECT_EQ(v->index, 0);
  ASSERT_TRUE(SelectVersion(f.job, "v0", &v, &err)) << err;
  EXPECT_EQ(v->index, 0);
  EXPECT_FALSE(SelectVersion(f.job, "v7", &v, &err));
  EXPECT_FALSE(SelectVersion(f.job, "staging", &v, &err));
  EXPECT_EQ(err,
            "job 'job-train' has no version or alias 'staging' (aliases: latest, 1.4.2, prod, "
            "v0..v1)");
  // Without a "latest" alias (a publish killed before aliases.json), the newest version.
  f.job.versions[1].aliases.clear();
  ASSERT_TRUE(SelectVersion(f.job, "latest", &v, &err)) << err;
  EXPECT_EQ(v->index, 1);
}

TEST(JobViewsTest, FlattenTypesGivesKeyTypeRows) {
  // The config of wandb-protocol.md §2.1, plus a union, a list of dicts and an empty dict.
  const char* types = R"({"wb_type":"typedDict","params":{"type_map":{
    "lr":{"wb_type":"number"},
    "model":{"wb_type":"typedDict","params":{"type_map":{
        "name":{"wb_type":"string"},
        "layers":{"wb_type":"list","params":{"element_type":{"wb_type":"number"},"length":2}}}}},
    "use_amp":{"wb_type":"boolean"},
    "notes":{"wb_type":"none"},
    "mixed":{"wb_type":"list","params":{"element_type":{"wb_type":"union","params":{
        "allowed_types":[{"wb_type":"number"},{"wb_type":"string"}]}}}},
    "stages":{"wb_type":"list","params":{"element_type":{"wb_type":"typedDict","params":{
        "type_map":{"n":{"wb_type":"number"},"tag":{"wb_type":"string"}}}}}},
    "extra":{"wb_type":"typedDict","params":{"type_map":{}}},
    "empty":{"wb_type":"list","params":{"element_type":{"wb_type":"unknown"},"length":0}}}}})";
  Rows rows;
  std::string err;
  ASSERT_TRUE(FlattenTypes(types, &rows, &err)) << err;
  EXPECT_EQ(rows, (Rows{{"lr", "number"},
                        {"model.name", "string"},
                        {"model.layers", "list<number>"},
                        {"use_amp", "boolean"},
                        {"notes", "none"},
                        {"mixed", "list<union<number, string>>"},
                        {"stages", "list<{n: number, tag: string}>"},
                        {"extra", "dict"},
                        {"empty", "list<unknown>"}}));
  ASSERT_TRUE(FlattenTypes(R"({"wb_type":"typedDict","params":{"type_map":{}}})", &rows, &err));
  EXPECT_TRUE(rows.empty());
  ASSERT_TRUE(FlattenTypes(R"({"wb_type":"number"})", &rows, &err));
  EXPECT_EQ(rows, (Rows{{"", "number"}}));
  EXPECT_FALSE(FlattenTypes("[1]", &rows, &err));
  EXPECT_FALSE(FlattenTypes(R"({"wb_type":3})", &rows, &err));
  ASSERT_TRUE(FlattenTypes(R"({"wb_type":"typedDict","params":{"type_map":{"a":{"wb_type":1},
      "b":{"wb_type":"list","params":7}}}})",
                           &rows, &err));
  EXPECT_EQ(rows, (Rows{{"a", "invalid"}, {"b", "list"}}));
  EXPECT_FALSE(FlattenTypes("{", &rows, &err));
  EXPECT_EQ(err, "not W&B type JSON (an object with wb_type)");
}

TEST(JobViewsTest, ListAsTextTable) {
  Fixture a = TwoVersionJob();
  Fixture b;
  b.job.entity = "acme";
  b.job.project = "p";
  b.job.name = "job-x";
  b.AddVersion({{"wandb-job.json", "{}"}}, {});
  EXPECT_EQ(RenderJobList({a.job, b.job}, ViewFormat::kText),
            "NAME       ENTITY  PROJECT  LATEST  ALIASES       VERSIONS\n"
            "job-train  local   mnist    v1      latest,1.4.2  2\n"
            "job-x      acme    p        v0      -             1\n");
  EXPECT_EQ(RenderJobList({}, ViewFormat::kText), "no jobs\n");
}

TEST(JobViewsTest, ListAsJson) {
  Fixture a = TwoVersionJob();
  auto j = nlohmann::json::parse(RenderJobList({a.job}, ViewFormat::kJson));
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0], nlohmann::json::parse(R"({"schema_version":1,"name":"job-train","entity":"local",
      "project":"mnist","latest_version":"v1","aliases":["latest","1.4.2"],"versions":2})"));
  EXPECT_EQ(RenderJobList({}, ViewFormat::kJson), "[]\n");
}

TEST(JobViewsTest, ShowAsText) {
  Fixture f = TwoVersionJob();
  std::string out, err;
  ASSERT_TRUE(RenderJobShow(f.job, "", f.Reader(), ViewFormat::kText, &out, &err)) << err;
  // clang-format off
  EXPECT_EQ(out,
            "Job details\n"
            "  Name:           job-train\n"
            "  Full name:      local/mnist/job-train\n"
            "  Description:    trains v1\n"
            "  Owner entity:   local\n"
            "  Parent project: mnist\n"
            "  Created:        2024-01-02T03:04:05Z\n"
            "\n"
            "Version details\n"
            "  v1 (latest, 1.4.2)\n"
            "    Digest:       " + f.job.versions[1].digest + "\n"
            "    Created:      2024-01-03T03:04:05Z\n"
            "    Source type:  image\n"
            "    Source:       ghcr.io/acme/trainer:1.4.2\n"
            "    Entrypoint:   (none)\n"
            "    Input types:\n"
            "      (none)\n"
            "    Output types:\n"
            "      loss: number\n"
            "    Files:\n"
            "      requirements.frozen.txt    0 bytes\n"
            "      wandb-job.json           " + std::to_string(strlen(kJobJsonV1)) + " bytes\n"
            "\n"
            "  v0 (prod)\n"
            "    Digest:       " + f.job.versions[0].digest + "\n"
            "    Created:      2024-01-02T03:04:05Z\n"
            "    Source type:  repo\n"
            "    Source:       https://github.com/acme/trainer.git @ "
            "0123456789abcdef0123456789abcdef01234567\n"
            "    Entrypoint:   ./train --lr '{lr}' --note 'a b'\n"
            "    Input types:\n"
            "      lr: number\n"
            "      model.layers: list<number>\n"
            "    Output types:\n"
            "      (none)\n"
            "    Files:\n"
            "      requirements.frozen.txt    0 bytes\n"
            "      wandb-job.json           " + std::to_string(strlen(kJobJsonV0)) + " bytes\n"
            "\n"
            "Runs\n"
            "  no runs recorded\n");
  // clang-format on
}

TEST(JobViewsTest, ShowOneVersionAndUnknownAlias) {
  Fixture f = TwoVersionJob();
  std::string out, err;
  ASSERT_TRUE(RenderJobShow(f.job, "prod", f.Reader(), ViewFormat::kText, &out, &err)) << err;
  EXPECT_NE(out.find("  v0 (prod)\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("  v1 "), std::string::npos) << out;
  EXPECT_FALSE(RenderJobShow(f.job, "nope", f.Reader(), ViewFormat::kText, &out, &err));
  EXPECT_EQ(err.rfind("job 'job-train' has no version or alias 'nope'", 0), 0u) << err;
}

TEST(JobViewsTest, ShowAsJson) {
  Fixture f = TwoVersionJob();
  f.job.runs.push_back({"abc12345", "bright-sun-1", "finished", "2024-02-01T00:00:00Z", 0});
  std::string out, err;
  ASSERT_TRUE(RenderJobShow(f.job, "v0", f.Reader(), ViewFormat::kJson, &out, &err)) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["schema_version"], kJsonSchemaVersion);
  EXPECT_EQ(j["name"], "job-train");
  EXPECT_EQ(j["entity"], "local");
  EXPECT_EQ(j["project"], "mnist");
  EXPECT_EQ(j["full_name"], "local/mnist/job-train");
  EXPECT_EQ(j["description"], "trains v1");
  EXPECT_EQ(j["created_at"], "2024-01-02T03:04:05Z");
  ASSERT_EQ(j["versions"].size(), 1u);
  const auto& v = j["versions"][0];
  EXPECT_EQ(v["version"], "v0");
  EXPECT_EQ(v["id"], "QXJ0aWZhY3Q60");
  EXPECT_EQ(v["aliases"], nlohmann::json::parse(R"(["prod"])"));
  EXPECT_EQ(v["digest"], f.job.versions[0].digest);
  EXPECT_EQ(v["created_at"], "2024-01-02T03:04:05Z");
  EXPECT_EQ(v["source_type"], "repo");
  EXPECT_EQ(v["source"]["git"]["remote"], "https://github.com/acme/trainer.git");
  EXPECT_EQ(v["entrypoint"],
            nlohmann::json::parse(R"(["./train", "--lr", "{lr}", "--note", "a b"])"));
  EXPECT_EQ(v["input_types"],
            nlohmann::json::parse(R"({"lr": "number", "model.layers": "list<number>"})"));
  EXPECT_EQ(v["output_types"], nlohmann::json::object());
  ASSERT_EQ(v["files"].size(), 2u);
  EXPECT_EQ(v["files"][0], nlohmann::json::parse(
                               R"({"path":"requirements.frozen.txt","size":0,
                                   "digest":"1B2M2Y8AsgTpgAmY7PhCfg=="})"));
  ASSERT_EQ(j["runs"].size(), 1u);
  EXPECT_EQ(j["runs"][0]["version"], "v0");
  EXPECT_EQ(j["runs"][0]["state"], "finished");

  // Every version, newest first; field order is stable.
  ASSERT_TRUE(RenderJobShow(f.job, "", f.Reader(), ViewFormat::kJson, &out, &err)) << err;
  j = nlohmann::json::parse(out);
  EXPECT_EQ(j["versions"][0]["version"], "v1");
  EXPECT_EQ(j["versions"][1]["version"], "v0");
  EXPECT_EQ(out.find("\"schema_version\""), out.find('"'));
  EXPECT_LT(out.find("\"schema_version\""), out.find("\"name\""));
}

TEST(JobViewsTest, DeclaredInputsComeFromMetadata) {
  Fixture f = TwoVersionJob();
  f.job.versions[1].metadata = R"({"input_types":{
      "@wandb.config":{"wb_type":"typedDict","params":{"type_map":{"lr":{"wb_type":"number"}}}},
      "files":{"configs/train.yaml":{"wb_type":"typedDict","params":{"type_map":{
          "optimizer":{"wb_type":"typedDict","params":{"type_map":{
              "lr":{"wb_type":"number"}}}}}}}}}})";
  std::string out, err;
  ASSERT_TRUE(RenderJobShow(f.job, "latest", f.Reader(), ViewFormat::kText, &out, &err)) << err;
  EXPECT_NE(out.find("    Input types:\n"
                     "      lr: number\n"
                     "      configs/train.yaml:optimizer.lr: number\n"),
            std::string::npos)
      << out;
}

TEST(JobViewsTest, ShowReportsUnreadableOrBrokenJobFiles) {
  Fixture f = TwoVersionJob();
  VersionFileReader failing = [](const StoredVersion&, const std::string& path, std::string*,
                                 std::string* err) {
    *err = "reading " + path + ": boom";
    return false;
  };
  std::string out, err;
  EXPECT_FALSE(RenderJobShow(f.job, "", failing, ViewFormat::kText, &out, &err));
  EXPECT_EQ(err, "reading wandb-job.json: boom");
  Fixture g = TwoVersionJob();
  g.AddVersion({{"wandb-job.json", "[]"}}, {});
  EXPECT_FALSE(RenderJobShow(g.job, "v2", g.Reader(), ViewFormat::kJson, &out, &err));
  EXPECT_EQ(err, "wandb-job.json of v2: not a JSON object");
}

TEST(JobViewsTest, ShowNamesAWrongTypeInTheJobFile) {
  for (const auto& [text, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({"source_type": null, "source": 3})", "field source must be an object"},
           {R"({"source_type": 1})", "field source_type must be a string"},
           {R"({"source_type": "repo", "source": {"git": {"remote": 7}}})",
            "field source.git.remote must be a string"},
           {R"({"source_type": "repo", "source": {"git": "x"}})",
            "field source.git must be an object"},
           {R"({"source_type": "artifact", "source": {"artifact": []}})",
            "field source.artifact must be a string"},
           {R"({"source_type": "image", "source": {"entrypoint": "sh"}})",
            "field source.entrypoint must be an array"},
           {R"({"input_types": "x"})", "field input_types must be an object"}}) {
    Fixture g = TwoVersionJob();
    g.AddVersion({{"wandb-job.json", text}}, {});
    std::string out, err;
    EXPECT_FALSE(RenderJobShow(g.job, "v2", g.Reader(), ViewFormat::kJson, &out, &err)) << text;
    EXPECT_EQ(err, "wandb-job.json of v2: " + message) << text;
  }
}

TEST(JobViewsTest, ShowOfACodeArtifactListsFilesOnly) {
  Fixture f;
  f.job.entity = "local";
  f.job.project = "p";
  f.job.type = "code";
  f.job.name = "code-train";
  f.AddVersion({{"main.cc", "int main() {}\n"}}, {"latest"});
  std::string out, err;
  ASSERT_TRUE(RenderJobShow(f.job, "", f.Reader(), ViewFormat::kText, &out, &err)) << err;
  EXPECT_EQ(out.find("Source type"), std::string::npos) << out;
  EXPECT_NE(out.find("      main.cc  14 bytes\n"), std::string::npos) << out;
  ASSERT_TRUE(RenderJobShow(f.job, "", f.Reader(), ViewFormat::kJson, &out, &err)) << err;
  auto j = nlohmann::json::parse(out);
  EXPECT_TRUE(j["versions"][0]["source_type"].is_null());
  EXPECT_TRUE(j["versions"][0]["source"].is_null());
}

TEST(JobViewsTest, RendersWhatTheLocalStoreHolds) {
  ScopedTempDir tmp;
  std::unique_ptr<JobStore> store;
  std::string err;
  ASSERT_TRUE(JobStore::Open(tmp.Join("store"), &store, &err)) << err;
  ArtifactUpload upload;
  upload.entity = "local";
  upload.project = "mnist";
  upload.type = "job";
  upload.name = "job-train";
  upload.aliases = {"latest"};
  upload.files_dir = tmp.Join("files");
  WriteTestFile(upload.files_dir, "wandb-job.json", kJobJsonV1);
  upload.manifest.Add({"wandb-job.json", Md5Base64(kJobJsonV1), strlen(kJobJsonV1), ""});
  PublishedArtifact published;
  ASSERT_TRUE(store->Publish(upload, &published, &err)) << err;

  std::vector<StoredCollection> jobs;
  ASSERT_TRUE(store->List("job", &jobs, &err)) << err;
  EXPECT_NE(RenderJobList(jobs, ViewFormat::kText).find("job-train  local   mnist    v0"),
            std::string::npos);
  StoredCollection job;
  ASSERT_TRUE(store->Get("local", "mnist", "job", "job-train", &job, &err)) << err;
  VersionFileReader reader = [&](const StoredVersion& v, const std::string& path,
                                 std::string* contents,
                                 std::string* e) { return store->ReadFile(v, path, contents, e); };
  std::string out;
  ASSERT_TRUE(RenderJobShow(job, "", reader, ViewFormat::kText, &out, &err)) << err;
  EXPECT_NE(out.find("    Output types:\n      loss: number\n"), std::string::npos) << out;
}

}  // namespace
}  // namespace wandb_job

#include "job_spec.h"

#include <gtest/gtest.h>

#include "artifact_manifest.h"
#include "hash.h"

namespace wandb_job {
namespace {

TEST(JobDefinitionTest, RepoJobMatchesTheCliLayout) {
  JobDefinition d;
  d.source_type = "repo";
  d.git_remote = "https://github.com/acme/trainer.git";
  d.git_commit = "89abcdef0123456789abcdef0123456789abcdef";
  d.entrypoint = {"python", "train.py"};
  d.build_context = "jobs/train";
  d.dockerfile = "Dockerfile.wandb";
  d.runtime = "3.11";
  // Worked example B of the protocol notes, as json.dumps(indent=4) renders it.
  const char* expected = R"({
    "_version": "0.17.0",
    "source_type": "repo",
    "source": {
        "git": {
            "remote": "https://github.com/acme/trainer.git",
            "commit": "89abcdef0123456789abcdef0123456789abcdef"
        },
        "entrypoint": [
            "python",
            "train.py"
        ],
        "notebook": false,
        "build_context": "jobs/train",
        "dockerfile": "Dockerfile.wandb"
    },
    "input_types": {
        "wb_type": "typedDict",
        "params": {
            "type_map": {}
        }
    },
    "output_types": {
        "wb_type": "typedDict",
        "params": {
            "type_map": {}
        }
    },
    "runtime": "3.11"
})";
  EXPECT_EQ(d.ToJson(), expected);
}

TEST(JobDefinitionTest, ArtifactJobKeyOrderAndVersion) {
  JobDefinition d;
  d.source_type = "artifact";
  d.entrypoint = {"bash", "run.sh"};
  d.artifact = "wandb-artifact://_id/QXJ0aWZhY3Q6OTg3NjU0MzIx";
  d.base_image = "ubuntu:24.04";
  d.runtime = "3.11";
  std::string json = d.ToJson();
  EXPECT_EQ(json.rfind("{\n    \"_version\": \"v0\",", 0), 0u) << json;  // base_image alone
  size_t entry = json.find("\"entrypoint\"");
  size_t notebook = json.find("\"notebook\"");
  size_t artifact = json.find("\"artifact\":");
  size_t base = json.find("\"base_image\"");
  EXPECT_LT(entry, notebook);
  EXPECT_LT(notebook, artifact);
  EXPECT_LT(artifact, base);
}

TEST(JobDefinitionTest, RoundTrip) {
  JobDefinition d;
  d.source_type = "image";
  d.image = "ghcr.io/acme/trainer:1.4.2";
  JobDefinition back;
  std::string err;
  ASSERT_TRUE(JobDefinition::FromJson(d.ToJson(), &back, &err)) << err;
  EXPECT_EQ(back.image, d.image);
  EXPECT_EQ(back.ToJson(), d.ToJson());
  EXPECT_FALSE(JobDefinition::FromJson("[]", &back, &err));
}

TEST(JobInputSpecTest, ParsesAndRejects) {
  JobInputSpec s;
  std::string err;
  ASSERT_TRUE(JobInputSpec::FromJson(
      R"({"format":1,"target":"t","aliases":["a"],"extra_files":"/x/a;/x/b",
          "cmake":{"source_dir":"/s","binary_dir":"/b"}})",
      &s, &err))
      << err;
  EXPECT_EQ(s.target, "t");
  EXPECT_EQ(s.aliases, std::vector<std::string>{"a"});
  EXPECT_EQ(s.extra_files, (std::vector<std::string>{"/x/a", "/x/b"}));
  EXPECT_FALSE(JobInputSpec::FromJson(R"({"format":2})", &s, &err));
  EXPECT_NE(err.find("re-run cmake"), std::string::npos);
  EXPECT_FALSE(JobInputSpec::FromJson("not json", &s, &err));
}

TEST(JobInputSpecTest, ImageSettings) {
  JobInputSpec s;
  std::string err;
  ASSERT_TRUE(JobInputSpec::FromJson(
      R"({"format":1,"target":"t","image":"r/t:1",
          "image_files":[["/s/a.txt","/etc/a.txt"],"/s/b=/opt/b=c"],
          "image_env":["A=1","B="],"image_working_dir":"/work","image_user":"1000:1000",
          "cmake":{"source_dir":"/s","binary_dir":"/b"}})",
      &s, &err))
      << err;
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(s.image_files, (Pairs{{"/s/a.txt", "/etc/a.txt"}, {"/s/b", "/opt/b=c"}}));
  EXPECT_EQ(s.image_env, (std::vector<std::string>{"A=1", "B="}));
  EXPECT_EQ(s.image_working_dir, "/work");
  EXPECT_EQ(s.image_user, "1000:1000");

  // Absent: empty.
  ASSERT_TRUE(JobInputSpec::FromJson(
      R"({"format":1,"target":"t","cmake":{"source_dir":"/s","binary_dir":"/b"}})", &s, &err));
  EXPECT_TRUE(s.image_files.empty());
  EXPECT_TRUE(s.image_env.empty());

  for (const char* bad : {R"("image_files":{})", R"("image_files":[["/a"]])",
                          R"("image_files":["no-equals"])", R"("image_files":["=/x"])",
                          R"("image_files":[3])"}) {
    std::string text = std::string(R"({"format":1,"target":"t",)") + bad +
                       R"(,"cmake":{"source_dir":"/s","binary_dir":"/b"}})";
    err.clear();
    EXPECT_FALSE(JobInputSpec::FromJson(text, &s, &err)) << bad;
    EXPECT_NE(err.find("image_files"), std::string::npos) << err;
  }
}

// Wrong types in spec.json or a job's wandb-job.json are one line naming the field, never a throw.
TEST(JobInputSpecTest, WrongTypesNameTheField) {
  struct Case {
    const char* member;
    const char* message;
  };
  const Case cases[] = {
      {R"("target":7)", "field target must be a string"},
      {R"("aliases":"latest")", "field aliases must be an array of strings"},
      {R"("args":["--lr",1])", "field args[1] must be a string"},
      {R"("image_shim":"off")", "field image_shim must be true or false"},
      {R"("cmake":[])", "field cmake must be an object"},
      {R"("cmake":{"source_dir":null,"binary_dir":"/b"})",
       "spec lacks target, source_dir or binary_dir"},
      {R"("cmake":{"source_dir":"/s","binary_dir":"/b","version":3})",
       "field cmake.version must be a string"},
  };
  for (const Case& c : cases) {
    std::string text =
        std::string(R"({"format":1,"target":"t","cmake":{"source_dir":"/s","binary_dir":"/b"},)") +
        c.member + "}";
    JobInputSpec s;
    std::string err;
    EXPECT_FALSE(JobInputSpec::FromJson(text, &s, &err)) << c.member;
    EXPECT_EQ(err, c.message) << c.member;
  }
}

TEST(JobDefinitionTest, WrongTypesNameTheField) {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {R"({"source":{}})", "wandb-job.json: field source_type is missing"},
      {R"({"source_type":null,"source":{}})", "wandb-job.json: field source_type must be a string"},
      {R"({"source_type":"repo","source":[]})", "wandb-job.json: field source must be an object"},
      {R"({"source_type":"repo","source":{"git":{"remote":1}}})",
       "wandb-job.json: field source.git.remote must be a string"},
      {R"({"source_type":"repo","source":{"entrypoint":"./t"}})",
       "wandb-job.json: field source.entrypoint must be an array of strings"},
      {R"({"source_type":"repo","source":{},"runtime":3})",
       "wandb-job.json: field runtime must be a string"},
  };
  for (const Case& c : cases) {
    JobDefinition d;
    std::string err;
    EXPECT_FALSE(JobDefinition::FromJson(c.text, &d, &err)) << c.text;
    EXPECT_EQ(err, c.message) << c.text;
  }
}

}  // namespace
}  // namespace wandb_job

#include "launch_files.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "test_util.h"

namespace wandb_job {
namespace {

ConfigureRecord Sample() {
  ConfigureRecord r;
  r.target = "train";
  r.program = "train";
  r.target_relpath = "apps/train";
  r.source_subdir = "cpp";
  r.build_type = "RelWithDebInfo";
  r.generator = "Unix Makefiles";
  r.toolchain_file = "cmake/cross.cmake";
  r.cmake_args = {"-DBUILD_EXAMPLES=ON", "-DGREETING:STRING=a b"};
  return r;
}

TEST(LaunchFiles, ConfigureRecordRoundTrip) {
  ConfigureRecord back;
  std::string err;
  ASSERT_TRUE(ConfigureRecord::FromJson(Sample().ToJson(), &back, &err)) << err;
  EXPECT_EQ(back.ToJson(), Sample().ToJson());
  EXPECT_EQ(back.cmake_args, Sample().cmake_args);
  EXPECT_EQ(back.toolchain_file, "cmake/cross.cmake");
}

TEST(LaunchFiles, ConfigureRecordErrors) {
  ConfigureRecord r;
  std::string err;
  EXPECT_FALSE(ConfigureRecord::FromJson("[]", &r, &err));
  EXPECT_NE(err.find("\"format\": 1"), std::string::npos) << err;
  EXPECT_FALSE(ConfigureRecord::FromJson(R"({"format":1,"program":"x","target_relpath":"x"})", &r,
                                         &err));
  EXPECT_NE(err.find("target"), std::string::npos) << err;
  EXPECT_FALSE(ConfigureRecord::FromJson(
      R"({"format":1,"target":"x","program":"x","target_relpath":"x","cmake_args":[1]})", &r,
      &err));
  EXPECT_NE(err.find("cmake_args"), std::string::npos) << err;
  for (const char* bad : {"/etc/x.cmake", "../x.cmake", "a/../../x"}) {
    nlohmann::json j = nlohmann::json::parse(Sample().ToJson());
    j["toolchain_file"] = bad;
    EXPECT_FALSE(ConfigureRecord::FromJson(j.dump(), &r, &err)) << bad;
    EXPECT_NE(err.find("is not inside the code"), std::string::npos) << err;
  }
  nlohmann::json j = nlohmann::json::parse(Sample().ToJson());
  j["program"] = "";
  EXPECT_FALSE(ConfigureRecord::FromJson(j.dump(), &r, &err));
  EXPECT_NE(err.find("must not be empty"), std::string::npos) << err;
}

TEST(LaunchFiles, ConfigureAndBuildCommands) {
  EXPECT_EQ(ConfigureCommand(Sample(), "/src", "/build"),
            (std::vector<std::string>{
                "cmake", "-S", "/src/cpp", "-B", "/build", "-G", "Ninja", "--no-warn-unused-cli",
                "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DCMAKE_TOOLCHAIN_FILE=/src/cmake/cross.cmake",
                "-DWandbJob_DIR=/src/.wandb-job/cmake", "-DWANDB_JOB_CAPTURE=OFF",
                "-DWANDB_JOB_BUILD_TOOL=OFF", "-DWANDB_JOB_BUILD_TESTS=OFF", "-DBUILD_EXAMPLES=ON",
                "-DGREETING:STRING=a b"}));
  ConfigureRecord plain;
  plain.target = "t";
  std::vector<std::string> argv = ConfigureCommand(plain, "/src", "/b");
  EXPECT_EQ(argv[2], "/src");
  EXPECT_EQ(argv[8], "-DCMAKE_BUILD_TYPE=Release");
  EXPECT_EQ(argv[9], "-DWandbJob_DIR=/src/.wandb-job/cmake");
  EXPECT_EQ(BuildCommand(Sample(), "/build"),
            (std::vector<std::string>{"cmake", "--build", "/build", "--target", "train"}));
}

TEST(LaunchFiles, EntrypointHasNoShellWords) {
  std::vector<std::string> ep = ShimEntrypoint("train");
  EXPECT_EQ(ep, (std::vector<std::string>{"/usr/local/bin/wandb-job", "exec", "--job-spec",
                                          "/src/.wandb-job/job.json", "--",
                                          "/usr/local/bin/train"}));
  std::string err;
  for (const std::string& word : ep) {
    EXPECT_TRUE(CheckEntrypointWord(word, &err)) << word << ": " << err;
  }
  for (const char* bad : {"", "a b", "a&&b", "$x", "a;b", "'a'", "a\"b", "a|b", "a\nb", "*"}) {
    EXPECT_FALSE(CheckEntrypointWord(bad, &err)) << bad;
  }
  EXPECT_NE(err.find("W&B's runners"), std::string::npos) << err;
}

TEST(LaunchFiles, ShellWord) {
  EXPECT_EQ(ShellWord("-DX=ON"), "-DX=ON");
  EXPECT_EQ(ShellWord("-DX:STRING=a b"), "'-DX:STRING=a b'");
  EXPECT_EQ(ShellWord("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellWord("$HOME"), "'$HOME'");
  EXPECT_EQ(ShellWord(""), "''");
}

TEST(LaunchFiles, ShimJobSpec) {
  std::string out, err;
  ASSERT_TRUE(ShimJobSpecJson(R"({"lr":0.01,"a":{"b":1}})", {"--lr", "{lr}"}, &out, &err)) << err;
  EXPECT_EQ(out, "{\n  \"config\": {\n    \"lr\": 0.01,\n    \"a\": {\n      \"b\": 1\n    }\n  "
                 "},\n  \"args\": [\n    \"--lr\",\n    \"{lr}\"\n  ]\n}\n");
  EXPECT_FALSE(ShimJobSpecJson("[1]", {}, &out, &err));
  EXPECT_NE(err.find("not a JSON object"), std::string::npos) << err;
}

TEST(LaunchFiles, ToolSourceFiles) {
  ScopedTempDir dir;
  std::vector<std::string> files;
  std::string err;
  EXPECT_FALSE(ToolSourceFiles(dir.path(), &files, &err));
  EXPECT_NE(err.find("the wandb-job sources are not at " + dir.path() + " (no CMakeLists.txt)"),
            std::string::npos)
      << err;
  for (const char* f : {"CMakeLists.txt", "cmake/WandbJob.cmake", "include/wandb/job.h",
                        "tool/CMakeLists.txt", "tool/cli.cc", "tool/cli_test.cc",
                        "tool/test_util.cc", "tool/wandb_test_util.h", "tests/CMakeLists.txt",
                        "examples/x.cc", "README.md"}) {
    WriteTestFile(dir.path(), f, "x");
  }
  ASSERT_TRUE(ToolSourceFiles(dir.path(), &files, &err)) << err;
  EXPECT_EQ(files, (std::vector<std::string>{"CMakeLists.txt", "cmake/WandbJob.cmake",
                                             "include/wandb/job.h", "tool/CMakeLists.txt",
                                             "tool/cli.cc"}));
}

TEST(LaunchFiles, CarriedPackage) {
  EXPECT_NE(CarriedPackageConfig().find("include(\"${CMAKE_CURRENT_LIST_DIR}/WandbJob.cmake\")"),
            std::string::npos);
  EXPECT_NE(CarriedPackageConfig().find("add_library(WandbJob::api INTERFACE IMPORTED)"),
            std::string::npos);
  EXPECT_EQ(CarriedPackageVersion("0.1.0").rfind("set(PACKAGE_VERSION \"0.1.0\")\n", 0), 0u);
}

}  // namespace
}  // namespace wandb_job

#include "wandb_jobs_reader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "wandb_test_util.h"

namespace wandb_job {
namespace {

using nlohmann::json;

// A collection of one committed version; `damage` edits the reply's data.
json CollectionData() {
  json node = {{"id", "QXJ0aWZhY3Q6MQ=="},
               {"state", "COMMITTED"},
               {"versionIndex", 0},
               {"digest", "d0"},
               {"aliases", json::array({{{"alias", "latest"}, {"artifactCollectionName", "j"}}})},
               {"createdAt", "2026-01-01T00:00:00"},
               {"description", "a job"},
               {"metadata", "{}"}};
  return {{"project",
           {{"artifactType",
             {{"artifactCollection",
               {{"createdAt", "2026-01-01T00:00:00"},
                {"artifacts",
                 {{"edges", json::array({{{"node", node}}})},
                  {"pageInfo", {{"hasNextPage", false}, {"endCursor", "c1"}}}}}}}}}}}};
}

std::string Fetch(const std::function<void(json*)>& damage, StoredCollection* out) {
  int requests = 0;
  Harness h([&](const HttpRequest&, HttpResponse* r, std::string*) {
    json data = CollectionData();
    damage(&data);
    *r = Reply(200, json({{"data", data}}).dump());
    return ++requests < 5;  // a loop over pages would end here
  });
  bool found = false;
  std::string err;
  if (FetchWandbCollection(h.client.get(), "e", "p", "job", "j", false, out, &found, &err)) {
    return found ? "" : "not found";
  }
  return err;
}

TEST(WandbJobsReaderTest, ReadsACollection) {
  StoredCollection c;
  EXPECT_EQ(Fetch([](json*) {}, &c), "");
  ASSERT_EQ(c.versions.size(), 1u);
  EXPECT_EQ(c.versions[0].digest, "d0");
  EXPECT_EQ(c.versions[0].aliases, std::vector<std::string>{"latest"});
}

TEST(WandbJobsReaderTest, WrongTypesAreNamed) {
  const char* node = "/project/artifactType/artifactCollection/artifacts/edges/0/node";
  const char* page = "/project/artifactType/artifactCollection/artifacts/pageInfo";
  const std::string where = "Collection: field project.artifactType.artifactCollection.";
  for (const auto& [pointer, value, message] : std::vector<std::tuple<std::string, json, std::string>>{
           {std::string(node) + "/versionIndex", "0",
            "artifacts.edges[0].node.versionIndex must be an integer"},
           {std::string(node) + "/digest", nullptr, ""},  // null: absent, no digest
           {std::string(node) + "/state", 1, "artifacts.edges[0].node.state must be a string"},
           {std::string(node) + "/aliases", "latest",
            "artifacts.edges[0].node.aliases must be an array"},
           {std::string(node), nullptr, "artifacts.edges[0].node must be an object"},
           {"/project/artifactType/artifactCollection/artifacts", json::array(),
            "artifacts must be an object"},
           {std::string(page) + "/hasNextPage", "yes",
            "artifacts.pageInfo.hasNextPage must be true or false"}}) {
    StoredCollection c;
    // Init-captures: C++17 lambdas cannot capture structured bindings (clang rejects it).
    std::string err = Fetch(
        [&c_pointer = pointer, &c_value = value](json* d) {
          (*d)[json::json_pointer(c_pointer)] = c_value;
        },
        &c);
    EXPECT_EQ(err, message.empty() ? "" : where + message) << pointer;
  }
}

TEST(WandbJobsReaderTest, APageWithoutANewCursorIsAnErrorNotALoop) {
  const char* page = "/project/artifactType/artifactCollection/artifacts/pageInfo";
  StoredCollection c;
  std::string err = Fetch(
      [&](json* d) { (*d)[json::json_pointer(std::string(page) + "/hasNextPage")] = true; }, &c);
  EXPECT_EQ(err, "Collection: field project.artifactType.artifactCollection.artifacts.pageInfo."
                 "endCursor gives no new cursor for the next page");
}

}  // namespace
}  // namespace wandb_job

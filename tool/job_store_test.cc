#include "job_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "file_util.h"
#include "hash.h"
#include "store_layout.h"
#include "test_util.h"

namespace wandb_job {
namespace {

using Files = std::vector<std::pair<std::string, std::string>>;

/// Writes `files` below `dir` and describes them in an upload of job `name` to local/proj.
ArtifactUpload MakeUpload(const std::string& dir, const Files& files,
                          const std::string& name = "job-train",
                          std::vector<std::string> aliases = {"latest"}) {
  ArtifactUpload upload;
  upload.entity = "local";
  upload.project = "proj";
  upload.type = "job";
  upload.name = name;
  upload.description = "trains";
  upload.metadata = R"({"_partial":true})";
  upload.aliases = std::move(aliases);
  upload.files_dir = dir;
  std::string err;
  EXPECT_TRUE(MakeDirs(dir, &err)) << err;
  for (const auto& [path, contents] : files) {
    WriteTestFile(dir, path, contents);
    upload.manifest.Add({path, Md5Base64(contents), contents.size(), ""});
  }
  return upload;
}

std::unique_ptr<JobStore> OpenStore(const std::string& root) {
  std::unique_ptr<JobStore> store;
  std::string err;
  EXPECT_TRUE(JobStore::Open(root, &store, &err)) << err;
  return store;
}

std::string CollectionDir(const std::string& root, const std::string& name = "job-train") {
  return root + "/entities/local/projects/proj/collections/job/" + name;
}

std::string ReadText(const std::string& path) {
  std::string text, err;
  EXPECT_TRUE(ReadFile(path, &text, &err)) << err;
  return text;
}

std::vector<std::string> Problems(const JobStore& store) {
  std::vector<std::string> problems;
  std::string err;
  EXPECT_TRUE(store.Verify(&problems, &err)) << err;
  return problems;
}

int AliasIndex(const std::string& root, const std::string& alias,
               const std::string& name = "job-train") {
  auto j = nlohmann::json::parse(ReadText(CollectionDir(root, name) + "/aliases.json"));
  return j.contains(alias) ? j[alias].get<int>() : -1;
}

class JobStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = OpenStore(root_); }
  ScopedTempDir tmp_;
  std::string root_ = tmp_.Join("store");
  std::unique_ptr<JobStore> store_;
  std::string err_;
};

TEST_F(JobStoreTest, FirstPublishCreatesV0WithTheDocumentedLayout) {
  ArtifactUpload upload =
      MakeUpload(tmp_.Join("b"), {{"wandb-job.json", "{}"}, {"requirements.frozen.txt", ""}});
  PublishedArtifact out;
  ASSERT_TRUE(store_->Publish(upload, &out, &err_)) << err_;
  EXPECT_TRUE(out.created);
  EXPECT_EQ(out.version_index, 0);
  EXPECT_EQ(out.digest, upload.manifest.Digest());
  EXPECT_EQ(out.aliases, std::vector<std::string>{"latest"});
  std::string decoded;
  ASSERT_TRUE(Base64Decode(out.id, &decoded));
  EXPECT_EQ(decoded.rfind("Artifact:", 0), 0u) << decoded;
  EXPECT_EQ(out.id, StoreArtifactId("local", "proj", "job", "job-train", out.digest));

  EXPECT_TRUE(FileExists(root_ + "/blobs/md5/" + Md5Hex("{}")));
  EXPECT_TRUE(FileExists(root_ + "/blobs/md5/" + Md5Hex("")));
  auto collection = nlohmann::json::parse(ReadText(CollectionDir(root_) + "/collection.json"));
  EXPECT_EQ(collection["type"], "job");
  EXPECT_EQ(collection["name"], "job-train");
  EXPECT_TRUE(collection["created_at"].is_string());
  auto v0 = nlohmann::json::parse(ReadText(CollectionDir(root_) + "/versions/v0.json"));
  EXPECT_EQ(v0["id"], out.id);
  EXPECT_EQ(v0["index"], 0);
  EXPECT_EQ(v0["digest"], out.digest);
  EXPECT_EQ(v0["description"], "trains");
  EXPECT_EQ(v0["metadata"]["_partial"], true);
  EXPECT_EQ(v0["manifest"]["storagePolicy"], "wandb-storage-policy-v1");
  EXPECT_EQ(v0["manifest"]["contents"]["wandb-job.json"]["birthArtifactID"], out.id);
  EXPECT_EQ(v0["manifest"]["contents"]["wandb-job.json"]["digest"], Md5Base64("{}"));
  std::string created = v0["created_at"];
  EXPECT_EQ(created.size(), 20u) << created;  // 2024-01-02T03:04:05Z
  EXPECT_EQ(created.back(), 'Z');
  EXPECT_EQ(AliasIndex(root_, "latest"), 0);
  EXPECT_TRUE(Problems(*store_).empty());
}

TEST_F(JobStoreTest, SameContentIsDeduplicated) {
  ArtifactUpload upload = MakeUpload(tmp_.Join("b"), {{"wandb-job.json", "{}"}});
  PublishedArtifact first, second;
  ASSERT_TRUE(store_->Publish(upload, &first, &err_)) << err_;
  ASSERT_TRUE(store_->Publish(upload, &second, &err_)) << err_;
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.id, first.id);
  EXPECT_EQ(second.version_index, 0);
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  EXPECT_EQ(c.versions.size(), 1u);
}

TEST_F(JobStoreTest, NewContentIsTheNextVersionAndAliasesMove) {
  PublishedArtifact v0, v1;
  ASSERT_TRUE(store_->Publish(MakeUpload(tmp_.Join("a"), {{"a.txt", "same"}, {"b.txt", "one"}},
                                         "job-train", {"prod", "latest"}),
                              &v0, &err_))
      << err_;
  ASSERT_TRUE(store_->Publish(
      MakeUpload(tmp_.Join("b"), {{"a.txt", "same"}, {"b.txt", "two"}}, "job-train", {"prod"}), &v1,
      &err_))
      << err_;
  EXPECT_TRUE(v1.created);
  EXPECT_EQ(v1.version_index, 1);
  EXPECT_NE(v1.id, v0.id);
  EXPECT_EQ(v1.aliases, (std::vector<std::string>{"latest", "prod"}));  // latest added
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  ASSERT_EQ(c.versions.size(), 2u);
  EXPECT_TRUE(c.versions[0].aliases.empty());
  EXPECT_EQ(c.versions[1].aliases, (std::vector<std::string>{"latest", "prod"}));
  // The unchanged file was born in v0, the changed one in v1.
  EXPECT_EQ(c.versions[1].manifest.Find("a.txt")->birth_artifact_id, v0.id);
  EXPECT_EQ(c.versions[1].manifest.Find("b.txt")->birth_artifact_id, v1.id);
  std::vector<std::string> blobs;
  WalkDirectory(
      root_ + "/blobs/md5",
      [&](const DirEntry& e) {
        blobs.push_back(e.relpath);
        return true;
      },
      &err_);
  EXPECT_EQ(blobs.size(), 3u);  // "same" is stored once
  EXPECT_TRUE(Problems(*store_).empty());
}

TEST_F(JobStoreTest, RepublishingOldContentMovesItsAliasesBack) {
  ArtifactUpload a = MakeUpload(tmp_.Join("a"), {{"f", "A"}}, "job-train", {"stable", "latest"});
  ArtifactUpload b = MakeUpload(tmp_.Join("b"), {{"f", "B"}});
  PublishedArtifact out;
  ArtifactUpload no_latest = MakeUpload(tmp_.Join("c"), {{"f", "C"}}, "job-other", {});
  ASSERT_TRUE(store_->Publish(no_latest, &out, &err_)) << err_;
  EXPECT_EQ(out.aliases, std::vector<std::string>{"latest"});  // latest is always set
  ASSERT_TRUE(store_->Publish(a, &out, &err_)) << err_;
  ASSERT_TRUE(store_->Publish(b, &out, &err_)) << err_;
  EXPECT_EQ(AliasIndex(root_, "latest"), 1);
  ASSERT_TRUE(store_->Publish(a, &out, &err_)) << err_;
  EXPECT_FALSE(out.created);
  EXPECT_EQ(out.version_index, 0);
  EXPECT_EQ(out.aliases, (std::vector<std::string>{"latest", "stable"}));
  EXPECT_EQ(AliasIndex(root_, "latest"), 0);  // as W&B does with an identical re-upload
  // Aliases are unique within a collection: "stable" moves, it is not copied.
  ArtifactUpload b_stable = MakeUpload(tmp_.Join("b"), {{"f", "B"}}, "job-train", {"stable"});
  ASSERT_TRUE(store_->Publish(b_stable, &out, &err_)) << err_;
  EXPECT_EQ(out.version_index, 1);
  EXPECT_EQ(out.aliases, std::vector<std::string>{"stable"});
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  EXPECT_EQ(c.versions[0].aliases, std::vector<std::string>{"latest"});
  EXPECT_EQ(c.versions[1].aliases, std::vector<std::string>{"stable"});
}

TEST_F(JobStoreTest, IdsAreDeterministicPerCollectionAndDigest) {
  ArtifactUpload upload = MakeUpload(tmp_.Join("a"), {{"f", "x"}});
  PublishedArtifact here, there, other;
  ASSERT_TRUE(store_->Publish(upload, &here, &err_)) << err_;
  ASSERT_TRUE(OpenStore(tmp_.Join("other-store"))->Publish(upload, &there, &err_)) << err_;
  EXPECT_EQ(here.id, there.id);
  upload.name = "job-other";
  ASSERT_TRUE(store_->Publish(upload, &other, &err_)) << err_;
  EXPECT_NE(other.id, here.id);
  EXPECT_EQ(other.digest, here.digest);
  // A pinned value: the ID is part of the store's stable format (docs/store.md).
  EXPECT_EQ(StoreArtifactId("e", "p", "code", "n", "244c29bcfadec71eb43696d7be373291"),
            "QXJ0aWZhY3Q6MjEyMzExOTI0OTMyMzc0NA==");  // "Artifact:2123119249323744"
  EXPECT_NE(StoreArtifactId("e", "p", "code", "n", "0"),
            StoreArtifactId("e", "p", "job", "n", "0"));
}

TEST_F(JobStoreTest, InlineFilesReplaceFilesOnDisk) {
  ArtifactUpload upload = MakeUpload(tmp_.Join("a"), {{"wandb-job.json", "placeholder"}});
  upload.inline_files["wandb-job.json"] = "substituted";
  upload.manifest.Add({"wandb-job.json", Md5Base64("substituted"), 11, ""});
  PublishedArtifact out;
  ASSERT_TRUE(store_->Publish(upload, &out, &err_)) << err_;
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  std::string contents;
  ASSERT_TRUE(store_->ReadFile(c.versions[0], "wandb-job.json", &contents, &err_)) << err_;
  EXPECT_EQ(contents, "substituted");
}

TEST_F(JobStoreTest, DamagedBundlePublishesNothing) {
  ArtifactUpload upload = MakeUpload(tmp_.Join("a"), {{"a.txt", "good"}, {"z.txt", "fine"}});
  WriteTestFile(tmp_.Join("a"), "z.txt", "evil");  // same size, other content
  PublishedArtifact out;
  ASSERT_FALSE(store_->Publish(upload, &out, &err_));
  EXPECT_NE(err_.find("file 'z.txt' does not match the manifest"), std::string::npos) << err_;
  EXPECT_NE(err_.find("damaged"), std::string::npos) << err_;
  EXPECT_FALSE(FileExists(root_ + "/blobs/md5/" + Md5Hex("evil")));
  StoredCollection c;
  EXPECT_FALSE(store_->Get("local", "proj", "job", "job-train", &c, &err_));

  WriteTestFile(tmp_.Join("a"), "z.txt", "fine!");  // size differs
  ASSERT_FALSE(store_->Publish(upload, &out, &err_));
  EXPECT_NE(err_.find("5 bytes; expected"), std::string::npos) << err_;

  unlink(tmp_.Join("a/z.txt").c_str());
  ASSERT_FALSE(store_->Publish(upload, &out, &err_));
  EXPECT_NE(err_.find("file 'z.txt': reading "), std::string::npos) << err_;

  std::vector<StoredCollection> all;
  ASSERT_TRUE(store_->List("", &all, &err_)) << err_;
  EXPECT_TRUE(all.empty());
  EXPECT_TRUE(Problems(*store_).empty());
}

TEST_F(JobStoreTest, InvalidUploadsAreRejectedBeforeWriting) {
  struct Case {
    std::function<void(ArtifactUpload*)> edit;
    std::string error;
  };
  std::vector<Case> cases = {
      {[](ArtifactUpload* u) { u->name = "bad name"; }, "invalid artifact name 'bad name'"},
      {[](ArtifactUpload* u) { u->name = ".."; }, "invalid artifact name '..'"},
      {[](ArtifactUpload* u) { u->name = ""; }, "artifact name is empty"},
      {[](ArtifactUpload* u) { u->project = "a/b"; }, "invalid project name 'a/b'"},
      {[](ArtifactUpload* u) { u->project = ""; }, "project name is empty"},
      {[](ArtifactUpload* u) { u->entity = ".."; }, "invalid entity name '..'"},
      {[](ArtifactUpload* u) { u->entity = "a:b"; }, "invalid entity name 'a:b'"},
      {[](ArtifactUpload* u) { u->type = "wandb-history"; }, "invalid artifact type"},
      {[](ArtifactUpload* u) { u->type = "a/b"; }, "invalid artifact type"},
      {[](ArtifactUpload* u) { u->aliases = {"v3"}; }, "invalid alias 'v3'"},
      {[](ArtifactUpload* u) { u->aliases = {"a/b"}; }, "invalid alias 'a/b'"},
      {[](ArtifactUpload* u) { u->metadata = "[1]"; }, "metadata is not a JSON object"},
      {[](ArtifactUpload* u) { u->metadata = "{"; }, "metadata is not a JSON object"},
      {[](ArtifactUpload* u) {
         u->manifest.Add({"../x", Md5Base64(""), 0, ""});
       },
       "unsafe file path '../x'"},
      {[](ArtifactUpload* u) {
         u->manifest.Add({"a//b", Md5Base64(""), 0, ""});
       },
       "unsafe file path 'a//b'"},
      {[](ArtifactUpload* u) {
         u->manifest.Add({"/etc/passwd", Md5Base64(""), 0, ""});
       },
       "unsafe file path '/etc/passwd'"},
      {[](ArtifactUpload* u) {
         u->manifest.Add({"x", "nope", 0, ""});
       },
       "file 'x': invalid digest 'nope'"},
      {[](ArtifactUpload* u) { u->inline_files["stray"] = ""; }, "file 'stray' is not in"},
  };
  for (const Case& c : cases) {
    ArtifactUpload upload = MakeUpload(tmp_.Join("a"), {{"f", "x"}});
    c.edit(&upload);
    PublishedArtifact out;
    std::string err;
    EXPECT_FALSE(store_->Publish(upload, &out, &err)) << c.error;
    EXPECT_NE(err.find(c.error), std::string::npos) << err;
  }
  EXPECT_FALSE(FileExists(root_));
}

// A store of another format is neither read nor written: Open() refuses it, and a store that
// changes format under an open JobStore gets no byte from Publish().
TEST_F(JobStoreTest, UnknownFormatIsRefusedNotWritten) {
  PublishedArtifact out;
  ASSERT_TRUE(store_->Publish(MakeUpload(tmp_.Join("a"), {{"f", "x"}}), &out, &err_)) << err_;
  EXPECT_EQ(nlohmann::json::parse(ReadText(root_ + "/store.json"))["format"], "wandb-job-store/1");
  WriteTestFile(root_, "store.json", "{\"format\": \"wandb-job-store/2\"}\n");
  std::unique_ptr<JobStore> other;
  EXPECT_FALSE(JobStore::Open(root_, &other, &err_));
  EXPECT_EQ(err_, "the job store " + root_ +
                      " has format 'wandb-job-store/2', which this wandb-job (wandb-job-store/1) "
                      "does not know; use the wandb-job that wrote it or another store (--store "
                      "or WANDB_JOB_STORE)");
  std::vector<std::string> before;
  ASSERT_TRUE(ListDir(root_ + "/blobs/md5", &before, &err_)) << err_;
  EXPECT_FALSE(store_->Publish(MakeUpload(tmp_.Join("b"), {{"g", "new content"}}), &out, &err_));
  EXPECT_NE(err_.find("has format 'wandb-job-store/2'"), std::string::npos) << err_;
  std::vector<std::string> after;
  ASSERT_TRUE(ListDir(root_ + "/blobs/md5", &after, &err_)) << err_;
  EXPECT_EQ(before, after) << "no blob written";
  for (const char* damaged : {"[]", "{\"format\": 1}", "not json"}) {
    WriteTestFile(root_, "store.json", damaged);
    EXPECT_FALSE(JobStore::Open(root_, &other, &err_)) << damaged;
    EXPECT_NE(err_.find("the job store " + root_ + " is damaged (store.json: "), std::string::npos)
        << err_;
  }
}

TEST_F(JobStoreTest, UnwritableStoreNamesThePathAndTheVariable) {
  WriteTestFile(tmp_.path(), "file", "not a directory");
  std::unique_ptr<JobStore> store = OpenStore(tmp_.Join("file/store"));
  PublishedArtifact out;
  ASSERT_FALSE(store->Publish(MakeUpload(tmp_.Join("a"), {{"f", "x"}}), &out, &err_));
  EXPECT_NE(err_.find("cannot write the job store at " + tmp_.Join("file/store")),
            std::string::npos)
      << err_;
  EXPECT_NE(err_.find("WANDB_JOB_STORE"), std::string::npos) << err_;

  // A file where the collection's directory should be.
  ASSERT_TRUE(store_->Publish(MakeUpload(tmp_.Join("a"), {{"f", "x"}}), &out, &err_)) << err_;
  WriteTestFile(root_ + "/entities/local/projects/proj/collections/job", "job-other", "");
  ASSERT_FALSE(store_->Publish(MakeUpload(tmp_.Join("a"), {{"f", "x"}}, "job-other"), &out, &err_));
  EXPECT_NE(err_.find("WANDB_JOB_STORE"), std::string::npos) << err_;
}

TEST_F(JobStoreTest, ReadOnlyStoreIsAClearError) {
  if (geteuid() == 0) {
    GTEST_SKIP() << "root ignores directory permissions";
  }
  std::string ro = tmp_.Join("ro");
  ASSERT_TRUE(MakeDirs(ro, &err_)) << err_;
  chmod(ro.c_str(), 0555);
  PublishedArtifact out;
  ASSERT_FALSE(
      OpenStore(ro + "/store")->Publish(MakeUpload(tmp_.Join("a"), {{"f", "x"}}), &out, &err_));
  EXPECT_NE(err_.find("cannot write the job store at " + ro + "/store"), std::string::npos);
  EXPECT_NE(err_.find("WANDB_JOB_STORE"), std::string::npos) << err_;
  chmod(ro.c_str(), 0755);
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    const char* old = getenv(name);
    had_ = old != nullptr;
    old_ = had_ ? old : "";
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (had_) {
      setenv(name_, old_.c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  bool had_;
  std::string old_;
};

TEST_F(JobStoreTest, DefaultsComeFromTheEnvironment) {
  {
    ScopedEnv entity("WANDB_ENTITY", nullptr);
    std::string e;
    ASSERT_TRUE(store_->DefaultEntity(&e, &err_));
    EXPECT_EQ(e, "local");
  }
  {
    ScopedEnv entity("WANDB_ENTITY", "acme");
    std::string e;
    ASSERT_TRUE(store_->DefaultEntity(&e, &err_));
    EXPECT_EQ(e, "acme");
  }
  EXPECT_EQ(store_->Destination(), "local store " + root_);
  {
    ScopedEnv store("WANDB_JOB_STORE", "/srv/jobs");
    EXPECT_EQ(DefaultStoreRoot(), "/srv/jobs");
  }
  {
    ScopedEnv store("WANDB_JOB_STORE", nullptr);
    ScopedEnv xdg("XDG_DATA_HOME", "/xdg");
    EXPECT_EQ(DefaultStoreRoot(), "/xdg/wandb-job/store");
  }
  {
    ScopedEnv store("WANDB_JOB_STORE", nullptr);
    ScopedEnv xdg("XDG_DATA_HOME", nullptr);
    ScopedEnv home("HOME", "/home/u");
    EXPECT_EQ(DefaultStoreRoot(), "/home/u/.local/share/wandb-job/store");
  }
  std::unique_ptr<JobStore> relative = OpenStore("rel/store");
  EXPECT_EQ(relative->root(), JoinPath(CurrentDirectory(), "rel/store"));
  std::unique_ptr<JobStore> none;
  EXPECT_FALSE(JobStore::Open("", &none, &err_));
}

TEST_F(JobStoreTest, ListIsSortedAndFiltersByType) {
  std::vector<StoredCollection> all;
  ASSERT_TRUE(store_->List("", &all, &err_)) << err_;  // no store yet
  EXPECT_TRUE(all.empty());
  PublishedArtifact out;
  ArtifactUpload b = MakeUpload(tmp_.Join("a"), {{"f", "x"}}, "job-b");
  ArtifactUpload a = MakeUpload(tmp_.Join("a"), {{"f", "x"}}, "job-a");
  ArtifactUpload code = MakeUpload(tmp_.Join("a"), {{"f", "x"}}, "code-a");
  code.type = "code";
  ArtifactUpload other = MakeUpload(tmp_.Join("a"), {{"f", "x"}}, "job-z");
  other.entity = "acme";
  for (const ArtifactUpload* u : {&b, &a, &code, &other}) {
    ASSERT_TRUE(store_->Publish(*u, &out, &err_)) << err_;
  }
  // A collection whose publish died before its first version is invisible.
  ASSERT_TRUE(MakeDirs(CollectionDir(root_, "job-empty") + "/versions", &err_)) << err_;
  WriteTestFile(CollectionDir(root_, "job-empty"), "collection.json",
                R"({"type":"job","name":"job-empty","created_at":"2024-01-01T00:00:00Z"})");
  ASSERT_TRUE(store_->List("job", &all, &err_)) << err_;
  std::vector<std::string> names;
  for (const StoredCollection& c : all) {
    names.push_back(c.entity + "/" + c.project + "/" + c.name);
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"acme/proj/job-z", "local/proj/job-a", "local/proj/job-b"}));
  ASSERT_TRUE(store_->List("", &all, &err_)) << err_;
  EXPECT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1].type, "code");
  EXPECT_EQ(all[1].versions.size(), 1u);
  EXPECT_TRUE(all[1].runs.empty());
}

TEST_F(JobStoreTest, GetOfAnUnknownJobSaysHowToListThem) {
  StoredCollection c;
  ASSERT_FALSE(store_->Get("local", "proj", "job", "job-x", &c, &err_));
  EXPECT_EQ(err_, "unknown job 'job-x' in local/proj; `wandb-job ls` lists the jobs");
  ASSERT_FALSE(store_->Get("local", "proj", "job", "../../x", &c, &err_));
  EXPECT_NE(err_.find("unknown job '../../x'"), std::string::npos);
}

TEST_F(JobStoreTest, ReadFileChecksTheBlob) {
  PublishedArtifact out;
  ASSERT_TRUE(store_->Publish(MakeUpload(tmp_.Join("a"), {{"f", "data"}}), &out, &err_)) << err_;
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  std::string contents;
  ASSERT_FALSE(store_->ReadFile(c.versions[0], "missing", &contents, &err_));
  EXPECT_EQ(err_, "v0 has no file 'missing'");
  std::string blob = root_ + "/blobs/md5/" + Md5Hex("data");
  chmod(blob.c_str(), 0644);
  WriteTestFile(root_, "blobs/md5/" + Md5Hex("data"), "DATA");
  ASSERT_FALSE(store_->ReadFile(c.versions[0], "f", &contents, &err_));
  EXPECT_NE(err_.find("is damaged"), std::string::npos) << err_;
}

// The version file is written and read without putting the manifest into an ordered_json
// (quadratic); its bytes stay those of ordered_json's dump(2) and metadata keeps its key order.
TEST(VersionFileTest, SameBytesAsOrderedJsonAndRoundTrips) {
  StoredVersion v;
  v.id = "QXJ0aWZhY3Q6MQ==";
  v.index = 3;
  v.digest = "0123456789abcdef0123456789abcdef";
  v.created_at = "2024-01-02T03:04:05Z";
  v.description = "trains \"well\"";
  v.metadata = R"({"zeta":1,"alpha":{"b":2,"a":[1,"x"]}})";
  v.manifest.Add({"src/b.cc", Md5Base64("b"), 1, "QXJ0aWZhY3Q6MQ=="});
  v.manifest.Add({"a dir/a.txt", Md5Base64("aa"), 2, ""});
  v.manifest.Add({"z", Md5Base64(""), 0, "QXJ0aWZhY3Q6Mg=="});
  std::string text = VersionToJson(v);
  EXPECT_EQ(text, nlohmann::ordered_json::parse(text).dump(2) + "\n");
  StoredVersion back;
  std::string err;
  ASSERT_TRUE(VersionFromJson(text, &back, &err)) << err;
  EXPECT_EQ(back.id, v.id);
  EXPECT_EQ(back.index, 3);
  EXPECT_EQ(back.digest, v.digest);
  EXPECT_EQ(back.created_at, v.created_at);
  EXPECT_EQ(back.description, v.description);
  EXPECT_EQ(back.metadata, v.metadata);
  EXPECT_EQ(back.manifest.ToJson(), v.manifest.ToJson());

  v.manifest = ArtifactManifest();
  v.metadata.clear();
  text = VersionToJson(v);
  EXPECT_EQ(text, nlohmann::ordered_json::parse(text).dump(2) + "\n");
  ASSERT_TRUE(VersionFromJson(text, &back, &err)) << err;
  EXPECT_TRUE(back.manifest.entries.empty());
  EXPECT_EQ(back.metadata, "");
}

TEST(VersionFileTest, ErrorsNameTheProblem) {
  StoredVersion v;
  std::string err;
  EXPECT_FALSE(VersionFromJson("{", &v, &err));
  EXPECT_NE(err.find("parsing failed"), std::string::npos) << err;
  EXPECT_FALSE(VersionFromJson("[]", &v, &err));
  EXPECT_EQ(err, "not a JSON object");
  EXPECT_FALSE(VersionFromJson(R"({"id":"x","index":0,"digest":"d"})", &v, &err));
  EXPECT_EQ(err, "field manifest is missing");
  EXPECT_FALSE(VersionFromJson(
      R"({"id":"x","index":0,"digest":"d","manifest":{"version":1,"contents":{"f":{}}}})", &v,
      &err));
  EXPECT_NE(err.find("manifest: entry 'f' has no digest"), std::string::npos) << err;
}

TEST_F(JobStoreTest, VerifyReportsEveryKindOfDamage) {
  PublishedArtifact out;
  ASSERT_TRUE(
      store_->Publish(MakeUpload(tmp_.Join("a"), {{"f", "data"}, {"g", "more"}}), &out, &err_))
      << err_;
  // Orphan temporary files from killed writers are ignored.
  WriteTestFile(root_, "blobs/md5/.tmp.0123.abc", "partial");
  WriteTestFile(CollectionDir(root_), "versions/.tmp.v1.json.abc", "{");
  WriteTestFile(CollectionDir(root_), ".tmp.aliases.json.abc", "{");
  EXPECT_TRUE(Problems(*store_).empty());

  std::string f = root_ + "/blobs/md5/" + Md5Hex("data");
  chmod(f.c_str(), 0644);
  WriteTestFile(root_, "blobs/md5/" + Md5Hex("data"), "DATA");
  unlink((root_ + "/blobs/md5/" + Md5Hex("more")).c_str());
  WriteTestFile(root_, "blobs/md5/junk", "");
  WriteTestFile(CollectionDir(root_), "aliases.json", R"({"latest": 0, "gone": 7})");
  std::vector<std::string> problems = Problems(*store_);
  std::string all;
  for (const std::string& p : problems) {
    all += p + "\n";
  }
  EXPECT_EQ(problems.size(), 5u) << all;
  EXPECT_NE(all.find("blobs/md5/" + Md5Hex("data") + ": content has md5 " + Md5Hex("DATA")),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("blobs/md5/junk: not a blob name"), std::string::npos) << all;
  EXPECT_NE(all.find("versions/v0.json: file 'f': blob " + Md5Hex("data") + " is missing"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("file 'g': blob " + Md5Hex("more") + " is missing"), std::string::npos);
  EXPECT_NE(all.find("aliases.json: alias 'gone' points to missing version v7"), std::string::npos)
      << all;

  WriteTestFile(CollectionDir(root_), "collection.json", R"({"type":"job","name":7})");
  WriteTestFile(CollectionDir(root_), "versions/v0.json", "{");
  problems = Problems(*store_);
  all.clear();
  for (const std::string& p : problems) {
    all += p + "\n";
  }
  EXPECT_NE(all.find("versions/v0.json: parsing"), std::string::npos) << all;
  EXPECT_NE(all.find("collection.json: type or name does not match"), std::string::npos) << all;
  StoredCollection c;
  EXPECT_FALSE(store_->Get("local", "proj", "job", "job-train", &c, &err_));
  EXPECT_NE(err_.find("v0.json"), std::string::npos) << err_;
}

/// Runs `fn` on a new thread. A forked child shares the parent's random state, and so the
/// temporary file names AtomicFile would pick; a new thread gets its own (real publishers are
/// separate programs and never share it).
bool OnFreshThread(const std::function<bool()>& fn) {
  bool ok = false;
  std::thread thread([&] { ok = fn(); });
  thread.join();
  return ok;
}

/// Runs `publish` in a child process that dies with _exit(9) at `step`; returns its status.
int PublishAndDieAt(const std::string& root, const ArtifactUpload& upload, PublishStep step) {
  pid_t pid = fork();
  if (pid == 0) {
    std::unique_ptr<JobStore> store;
    std::string err;
    if (!JobStore::Open(root, &store, &err)) {
      _exit(2);
    }
    store->SetStepHookForTesting([step](PublishStep at) {
      if (at == step) {
        _exit(9);  // No destructors, no cleanup: like a kill.
      }
    });
    PublishedArtifact out;
    _exit(OnFreshThread([&] { return store->Publish(upload, &out, &err); }) ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(JobStoreTest, KilledPublishLeavesAReadableStoreAndARerunConverges) {
  PublishedArtifact out;
  ASSERT_TRUE(store_->Publish(
      MakeUpload(tmp_.Join("a"), {{"f", "one"}}, "job-train", {"latest", "prod"}), &out, &err_))
      << err_;
  ArtifactUpload next = MakeUpload(tmp_.Join("b"), {{"f", "two"}}, "job-train", {"latest", "prod"});

  // Killed after the blobs: nothing new is visible.
  ASSERT_EQ(PublishAndDieAt(root_, next, PublishStep::kBlobsStored), 9);
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  EXPECT_EQ(c.versions.size(), 1u);
  EXPECT_TRUE(Problems(*store_).empty());

  // Killed between the version file and aliases.json: v1 is complete, the aliases are old.
  ASSERT_EQ(PublishAndDieAt(root_, next, PublishStep::kVersionWritten), 9);
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  ASSERT_EQ(c.versions.size(), 2u);
  EXPECT_EQ(c.versions[0].aliases, (std::vector<std::string>{"latest", "prod"}));
  EXPECT_TRUE(c.versions[1].aliases.empty());
  EXPECT_TRUE(Problems(*store_).empty());

  // The lock died with the process; the rerun finds the digest and fixes the aliases.
  ASSERT_TRUE(store_->Publish(next, &out, &err_)) << err_;
  EXPECT_FALSE(out.created);
  EXPECT_EQ(out.version_index, 1);
  EXPECT_EQ(out.aliases, (std::vector<std::string>{"latest", "prod"}));
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  EXPECT_EQ(c.versions.size(), 2u);
  EXPECT_TRUE(c.versions[0].aliases.empty());
  EXPECT_TRUE(Problems(*store_).empty());

  // Killed at the very end: the publish is complete, a rerun changes nothing.
  ArtifactUpload third = MakeUpload(tmp_.Join("c"), {{"f", "three"}});
  ASSERT_EQ(PublishAndDieAt(root_, third, PublishStep::kAliasesWritten), 9);
  ASSERT_TRUE(store_->Publish(third, &out, &err_)) << err_;
  EXPECT_FALSE(out.created);
  EXPECT_EQ(out.version_index, 2);
  EXPECT_EQ(AliasIndex(root_, "latest"), 2);
}

/// Forks `n` publishers that start together; returns how many succeeded.
int PublishConcurrently(const std::string& root, const std::vector<ArtifactUpload>& uploads) {
  int gate[2];
  EXPECT_EQ(pipe(gate), 0);
  std::vector<pid_t> pids;
  for (const ArtifactUpload& upload : uploads) {
    pid_t pid = fork();
    if (pid == 0) {
      close(gate[1]);
      char c;
      while (read(gate[0], &c, 1) < 0 && errno == EINTR) {
      }
      std::unique_ptr<JobStore> store;
      std::string err;
      PublishedArtifact out;
      bool ok = OnFreshThread(
          [&] { return JobStore::Open(root, &store, &err) && store->Publish(upload, &out, &err); });
      if (!ok) {
        fprintf(stderr, "publisher %d: %s\n", static_cast<int>(getpid()), err.c_str());
      }
      _exit(ok ? 0 : 1);
    }
    pids.push_back(pid);
  }
  close(gate[0]);
  close(gate[1]);  // Opens the gate: every child's read() returns.
  int ok = 0;
  for (pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  return ok;
}

constexpr int kPublishers = 8;

TEST_F(JobStoreTest, ConcurrentPublishersOfTheSameContentMakeOneVersion) {
  std::vector<ArtifactUpload> uploads;
  for (int i = 0; i < kPublishers; ++i) {
    uploads.push_back(MakeUpload(tmp_.Join("b" + std::to_string(i)),
                                 {{"wandb-job.json", "{}"}, {"big", std::string(200000, 'x')}}));
  }
  ASSERT_EQ(PublishConcurrently(root_, uploads), kPublishers);
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  EXPECT_EQ(c.versions.size(), 1u);
  EXPECT_EQ(c.versions[0].aliases, std::vector<std::string>{"latest"});
  EXPECT_TRUE(Problems(*store_).empty());
}

TEST_F(JobStoreTest, ConcurrentPublishersOfDifferentContentGetDistinctVersions) {
  std::vector<ArtifactUpload> uploads;
  std::set<std::string> digests;
  for (int i = 0; i < kPublishers; ++i) {
    uploads.push_back(MakeUpload(tmp_.Join("b" + std::to_string(i)),
                                 {{"wandb-job.json", "{\"n\":" + std::to_string(i) + "}"},
                                  {"shared", std::string(100000, 's')}},
                                 "job-train", {"latest", "ci"}));
    digests.insert(uploads.back().manifest.Digest());
  }
  ASSERT_EQ(PublishConcurrently(root_, uploads), kPublishers);
  StoredCollection c;
  ASSERT_TRUE(store_->Get("local", "proj", "job", "job-train", &c, &err_)) << err_;
  ASSERT_EQ(c.versions.size(), static_cast<size_t>(kPublishers));
  std::set<std::string> stored;
  for (int i = 0; i < kPublishers; ++i) {
    EXPECT_EQ(c.versions[i].index, i);
    stored.insert(c.versions[i].digest);
  }
  EXPECT_EQ(stored, digests);  // no duplicate, none lost
  // Each publisher created a version and moved both aliases to it: the last one holds them.
  EXPECT_EQ(c.versions.back().aliases, (std::vector<std::string>{"latest", "ci"}));
  EXPECT_EQ(AliasIndex(root_, "latest"), kPublishers - 1);
  int holders = 0;
  for (const StoredVersion& v : c.versions) {
    holders += std::count(v.aliases.begin(), v.aliases.end(), "ci");
  }
  EXPECT_EQ(holders, 1);  // aliases are unique within the collection
  EXPECT_TRUE(Problems(*store_).empty());
}

TEST_F(JobStoreTest, ConcurrentPublishersOfDifferentJobs) {
  std::vector<ArtifactUpload> uploads;
  for (int i = 0; i < kPublishers; ++i) {
    uploads.push_back(MakeUpload(tmp_.Join("b" + std::to_string(i)), {{"f", "same"}},
                                 "job-" + std::to_string(i)));
  }
  ASSERT_EQ(PublishConcurrently(root_, uploads), kPublishers);
  std::vector<StoredCollection> all;
  ASSERT_TRUE(store_->List("job", &all, &err_)) << err_;
  ASSERT_EQ(all.size(), static_cast<size_t>(kPublishers));
  for (const StoredCollection& c : all) {
    EXPECT_EQ(c.versions.size(), 1u);
    EXPECT_EQ(c.versions[0].manifest.entries[0].birth_artifact_id, c.versions[0].id);
  }
  EXPECT_TRUE(Problems(*store_).empty());
}

}  // namespace
}  // namespace wandb_job

namespace wandb_job {
namespace {

TEST_F(JobStoreTest, ARunRecordOfWrongTypesNamesTheField) {
  RunRecord run("run00001", "run", "running", "2026-01-01T00:00:00Z", 0);
  run.entity = "local";
  run.project = "proj";
  ASSERT_TRUE(store_->WriteRun(run, &err_)) << err_;
  std::string path = root_ + "/entities/local/projects/proj/runs/run00001/run.json";
  RunRecord back;
  bool found = false;
  for (const auto& [damage, field] : std::vector<std::pair<std::string, std::string>>{
           {R"({"id": null})", "field id must be a string"},
           {R"({"id": "run00001", "entity": 7})", "field entity must be a string"},
           {R"({"id": "run00001", "version": "3"})", "field version must be an integer"},
           {R"({"id": "run00001", "exit_code": 1.5})", "field exit_code must be an integer"},
           {R"({"id": "run00001", "history_rows": -1})", "field history_rows is out of range"},
           {R"([1, 2])", "must be a JSON object"}}) {
    WriteTestFile(root_, "entities/local/projects/proj/runs/run00001/run.json", damage);
    EXPECT_FALSE(store_->ReadRun("local", "proj", "run00001", &back, &found, &err_)) << damage;
    EXPECT_NE(err_.find("reading " + path + ": "), std::string::npos) << err_;
    EXPECT_NE(err_.find(field), std::string::npos) << err_;
  }
}

}  // namespace
}  // namespace wandb_job

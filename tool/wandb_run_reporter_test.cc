#include "wandb_run_reporter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "file_util.h"
#include "log.h"
#include "test_util.h"
#include "wandb_client.h"

namespace wandb_job {
namespace {

using nlohmann::json;

const char kBase[] = "http://wandb.test:8080";
const std::string kKey(40, 'k');
const char kStreamUrl[] = "http://wandb.test:8080/files/acme/vision/ab12cd34/file_stream";

HttpResponse Reply(long status, const std::string& body) {
  HttpResponse r;
  r.status = status;
  r.body = body;
  return r;
}

/// Answers W&B's GraphQL operations the reporter sends; `fail` names what to break.
struct Server {
  std::string fail;  // an operation name, "file_stream", "stall" (file_stream), or ""
  std::atomic<int> stalls_started{0}, stalls_cancelled{0};
  bool job_exists = true;
  bool resumed = false;  // upsertBucket finds the run with 5 history rows and 2 output lines
  std::optional<json> inserted;  // upsertBucket's "inserted" when set; else !resumed

  std::map<std::string, std::string> uploads;  // run files PUT, by URL
  std::vector<json> upload_headers;

  bool Answer(const HttpRequest& request, HttpResponse* response) {
    if (request.method == "PUT") {
      if (fail == "PUT") {
        *response = Reply(403, "denied");
        return true;
      }
      std::string body = request.body, err;
      if (!request.body_file.empty()) {
        EXPECT_TRUE(ReadFile(request.body_file, &body, &err)) << err;
      }
      uploads[request.url] = body;
      upload_headers.push_back(request.headers);
      *response = Reply(200, "");
      return true;
    }
    if (request.url.find("/file_stream") != std::string::npos) {
      if (fail == "stall") {  // holds the request until the client cancels it
        ++stalls_started;
        while (!(request.cancelled && request.cancelled())) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        ++stalls_cancelled;
        return false;
      }
      *response = fail == "file_stream" ? Reply(400, "{\"error\":\"bad\"}") : Reply(200, "{}");
      return true;
    }
    json body = json::parse(request.body);
    std::string op = body.value("operationName", "");
    if (op == fail) {
      *response = Reply(403, "{\"errors\":[{\"message\":\"permission denied\"}]}");
      return true;
    }
    json data;
    if (op == "Viewer") {
      data = {{"viewer", {{"id", "u1"}, {"entity", "viewer-team"}}}};
    } else if (op == "UpsertRun") {
      json bucket = {{"id", "UnVuOjE="}, {"name", "ab12cd34"}};
      if (resumed) {
        bucket.update({{"historyLineCount", 5},
                       {"logLineCount", 2},
                       {"summaryMetrics", R"({"old":1,"loss":9})"}});
      }
      data = {{"upsertBucket",
               {{"bucket", bucket}, {"inserted", inserted ? *inserted : json(!resumed)}}}};
    } else if (op == "RunJobArtifact") {
      data = {{"project",
               {{"artifactCollectionMembership",
                 job_exists ? json({{"artifact", {{"id", "QXJ0aWZhY3Q6Nw=="}}}}) : json()}}}};
    } else if (op == "UseJobArtifact") {
      data = {{"useArtifact", {{"artifact", {{"id", "QXJ0aWZhY3Q6Nw=="}}}}}};
    } else if (op == "CreateRunFiles") {
      json files = json::array();
      for (const json& name : body["variables"]["files"]) {
        files.push_back({{"name", name}, {"uploadUrl", "http://storage.test/" +
                                                           name.get<std::string>()}});
      }
      data = {{"createRunFiles",
               {{"runID", "UnVuOjE="},
                {"uploadHeaders", {"Content-Type:application/octet-stream"}},
                {"files", files}}}};
    } else {
      *response = Reply(400, "{\"errors\":[{\"message\":\"unexpected\"}]}");
      return true;
    }
    *response = Reply(200, json({{"data", data}}).dump());
    return true;
  }
};

struct Harness {
  explicit Harness(WandbRunReporterOptions options = {})
      : fake([this](const HttpRequest& r, HttpResponse* out, std::string*) {
          return server.Answer(r, out);
        }) {
    WandbClientOptions o;
    o.base_url = kBase;
    o.api_key = kKey;
    o.retry = RetryPolicy();
    o.retry.max_retries = 2;
    o.progress = ProgressMode::kNone;
    o.make_transport = [this]() { return fake.Share(); };
    o.sleep = [](double) {};
    if (!options.now) {
      options.now = [] { return 1700000000.25; };
    }
    reporter = MakeWandbRunReporter(std::make_unique<WandbClient>(std::move(o)), options);
  }

  RunStart Start(std::string job = "acme/vision/job-train:v3") {
    RunStart start;
    start.run_id = "ab12cd34";
    start.entity = "acme";
    start.project = "vision";
    start.job = std::move(job);
    start.config = R"({"lr":0.5,"model":{"layers":2}})";
    return start;
  }

  std::vector<HttpRequest> Requests() const { return fake.requests(); }

  std::vector<json> Graphql(const std::string& op) const {
    std::vector<json> out;
    for (const HttpRequest& r : fake.requests()) {
      if (r.url == std::string(kBase) + "/graphql") {
        json body = json::parse(r.body);
        if (body.value("operationName", "") == op) {
          out.push_back(body["variables"]);
        }
      }
    }
    return out;
  }

  std::vector<json> Streams() const {
    std::vector<json> out;
    for (const HttpRequest& r : fake.requests()) {
      if (r.url.find("/file_stream") != std::string::npos) {
        EXPECT_EQ(r.url, kStreamUrl);
        out.push_back(json::parse(r.body));
      }
    }
    return out;
  }

  /// The lines of one file across every request, checking that offsets follow on.
  std::vector<std::string> Lines(const std::string& file) const {
    std::vector<std::string> lines;
    for (const json& body : Streams()) {
      if (body.contains("files") && body["files"].contains(file)) {
        const json& chunk = body["files"][file];
        if (file != "wandb-summary.json") {
          EXPECT_EQ(chunk["offset"].get<size_t>(), lines.size()) << file;
        }
        for (const json& line : chunk["content"]) {
          lines.push_back(line.get<std::string>());
        }
      }
    }
    return lines;
  }

  Server server;
  FakeTransport fake;
  std::unique_ptr<RunReporter> reporter;
};

TEST(WandbRunReporterTest, ConfigIsWrappedInValueObjects) {
  std::string out, err;
  ASSERT_TRUE(WandbRunConfig(R"({"lr":0.5,"model":{"layers":[1,2]},"name":"x"})", &out, &err));
  EXPECT_EQ(json::parse(out), json::parse(R"({"lr":{"value":0.5},
      "model":{"value":{"layers":[1,2]}},"name":{"value":"x"}})"));
  ASSERT_TRUE(WandbRunConfig("{}", &out, &err));
  EXPECT_EQ(out, "{}");
  EXPECT_FALSE(WandbRunConfig("[1]", &out, &err));
  EXPECT_EQ(err, "the run config is not a JSON object");
  EXPECT_FALSE(WandbRunConfig("{", &out, &err));
}

TEST(WandbRunReporterTest, CreatesRunUsesJobStreamsAndCompletes) {
  Harness h;
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(), &err)) << err;
  auto upserts = h.Graphql("UpsertRun");
  ASSERT_EQ(upserts.size(), 1u);
  EXPECT_EQ(upserts[0]["name"], "ab12cd34");
  EXPECT_EQ(upserts[0]["entity"], "acme");
  EXPECT_EQ(upserts[0]["project"], "vision");
  EXPECT_EQ(json::parse(upserts[0]["config"].get<std::string>()),
            json::parse(R"({"lr":{"value":0.5},"model":{"value":{"layers":2}}})"));
  auto lookups = h.Graphql("RunJobArtifact");
  ASSERT_EQ(lookups.size(), 1u);
  EXPECT_EQ(lookups[0],
            json::parse(R"({"entity":"acme","project":"vision","name":"job-train:v3"})"));
  auto uses = h.Graphql("UseJobArtifact");
  ASSERT_EQ(uses.size(), 1u);
  EXPECT_EQ(uses[0]["input"], json::parse(R"({"artifactID":"QXJ0aWZhY3Q6Nw==",
      "entityName":"acme","projectName":"vision","runName":"ab12cd34"})"));

  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "epoch 1\nepo", &err));
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "ch 2\n", &err));
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStderr, "warning: slow\n", &err));
  EXPECT_TRUE(h.reporter->History(R"({"loss":0.9,"_step":0})", &err));
  EXPECT_TRUE(h.reporter->History(R"({"loss":0.4,"acc":0.7,"_step":1})", &err));
  EXPECT_TRUE(h.reporter->Summary(R"({"best_acc":0.75,"acc":0.8})", &err));
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "done", &err));  // no newline
  RunOutcome outcome;
  outcome.exit_code = 3;
  outcome.state = "failed";
  EXPECT_TRUE(h.reporter->Finish(outcome, &err));

  EXPECT_EQ(
      h.Lines("output.log"),
      (std::vector<std::string>{
          "2023-11-14T22:13:20.250000Z epoch 1", "2023-11-14T22:13:20.250000Z epoch 2",
          "ERROR 2023-11-14T22:13:20.250000Z warning: slow", "2023-11-14T22:13:20.250000Z done"}));
  auto history = h.Lines("wandb-history.jsonl");
  ASSERT_EQ(history.size(), 2u);
  json row = json::parse(history[1]);
  EXPECT_EQ(row["loss"], 0.4);
  EXPECT_EQ(row["_step"], 1);
  EXPECT_EQ(row["_timestamp"], 1700000000.25);
  EXPECT_EQ(row["_runtime"], 0.0);
  auto summaries = h.Lines("wandb-summary.json");
  ASSERT_FALSE(summaries.empty());
  EXPECT_EQ(json::parse(summaries.back()),
            json::parse(R"({"loss":0.4,"acc":0.8,"best_acc":0.75})"));
  auto streams = h.Streams();
  ASSERT_FALSE(streams.empty());
  EXPECT_EQ(streams.back()["complete"], true);
  EXPECT_EQ(streams.back()["exitcode"], 3);
  for (size_t i = 0; i + 1 < streams.size(); ++i) {
    EXPECT_FALSE(streams[i].contains("complete")) << i;
  }
  for (const HttpRequest& r : h.Requests()) {
    EXPECT_EQ(r.body.find(kKey), std::string::npos);
  }
}

TEST(WandbRunReporterTest, AResumedRunContinuesItsFiles) {
  Harness h;
  h.server.resumed = true;
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(""), &err));
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "again\n", &err));
  EXPECT_TRUE(h.reporter->History(R"({"loss":0.1,"_step":5})", &err));
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  auto streams = h.Streams();
  ASSERT_EQ(streams.size(), 1u);
  const json& files = streams[0]["files"];
  EXPECT_EQ(files["output.log"]["offset"], 2);
  EXPECT_EQ(files["wandb-history.jsonl"]["offset"], 5);
  EXPECT_EQ(json::parse(files["wandb-summary.json"]["content"][0].get<std::string>()),
            json::parse(R"({"old":1,"loss":0.1})"));
}

TEST(WandbRunReporterTest, EntityDefaultsToTheJobsThenTheViewers) {
  {
    Harness h;
    RunStart start = h.Start();
    start.entity.clear();
    start.project.clear();
    std::string err;
    ASSERT_TRUE(h.reporter->Start(start, &err));
    auto upserts = h.Graphql("UpsertRun");
    ASSERT_EQ(upserts.size(), 1u);
    EXPECT_EQ(upserts[0]["entity"], "acme");
    EXPECT_EQ(upserts[0]["project"], "vision");
    EXPECT_TRUE(h.Graphql("Viewer").empty());
  }
  {
    Harness h;
    RunStart start = h.Start("");
    start.entity.clear();
    start.project.clear();
    std::string err;
    ASSERT_TRUE(h.reporter->Start(start, &err));
    auto upserts = h.Graphql("UpsertRun");
    ASSERT_EQ(upserts.size(), 1u);
    EXPECT_EQ(upserts[0]["entity"], "viewer-team");
    EXPECT_EQ(upserts[0]["project"], "uncategorized");
    EXPECT_TRUE(h.Graphql("RunJobArtifact").empty());
    EXPECT_TRUE(h.Graphql("UseJobArtifact").empty());
  }
}

TEST(WandbRunReporterTest, AliasDefaultsToLatest) {
  Harness h;
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start("acme/other/job-train"), &err));
  auto lookups = h.Graphql("RunJobArtifact");
  ASSERT_EQ(lookups.size(), 1u);
  EXPECT_EQ(lookups[0]["project"], "other");
  EXPECT_EQ(lookups[0]["name"], "job-train:latest");
}

TEST(WandbRunReporterTest, MissingJobIsAWarningAndTheRunStillStreams) {
  Harness h;
  h.server.job_exists = false;
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(), &err));
  EXPECT_TRUE(h.Graphql("UseJobArtifact").empty());
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "hi\n", &err));
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  EXPECT_EQ(h.Lines("output.log").size(), 1u);
  EXPECT_EQ(h.Streams().back()["complete"], true);
  EXPECT_EQ(h.Streams().back()["exitcode"], 0);
}

TEST(WandbRunReporterTest, FailedUseArtifactIsAWarning) {
  Harness h;
  h.server.fail = "UseJobArtifact";
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(), &err));
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  EXPECT_EQ(h.Streams().size(), 1u);
}

TEST(WandbRunReporterTest, FailedUpsertDisablesReportingButNotTheProgram) {
  Harness h;
  h.server.fail = "UpsertRun";
  std::string err;
  EXPECT_TRUE(h.reporter->Start(h.Start(), &err));
  EXPECT_TRUE(h.Graphql("RunJobArtifact").empty());
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "still running\n", &err));
  EXPECT_TRUE(h.reporter->History(R"({"loss":1,"_step":0})", &err));
  EXPECT_TRUE(h.reporter->Summary(R"({"x":1})", &err));
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  EXPECT_TRUE(h.Streams().empty());
}

// A damaged reply (a wrong type where W&B sends a boolean) is a warning, never an abort: the run
// goes on unreported.
TEST(WandbRunReporterTest, DamagedUpsertReplyDisablesReportingButNotTheProgram) {
  for (json inserted : {json(nullptr), json("yes"), json::object(), json(1)}) {
    Harness h;
    h.server.inserted = inserted;
    h.server.resumed = true;
    std::string err;
    EXPECT_TRUE(h.reporter->Start(h.Start(), &err)) << err;
    EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "still running\n", &err));
    EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
    EXPECT_TRUE(h.Streams().empty()) << inserted;
  }
}

TEST(WandbRunReporterTest, UnreachableServerDisablesReporting) {
  FakeTransport fake([](const HttpRequest&, HttpResponse*, std::string* err) {
    *err = "connection refused";
    return false;
  });
  WandbClientOptions o;
  o.base_url = kBase;
  o.api_key = kKey;
  o.retry.max_retries = 1;
  o.progress = ProgressMode::kNone;
  o.make_transport = [&fake]() { return fake.Share(); };
  o.sleep = [](double) {};
  auto reporter = MakeWandbRunReporter(std::make_unique<WandbClient>(std::move(o)));
  RunStart start;
  start.run_id = "ab12cd34";
  start.entity = "acme";
  start.project = "vision";
  start.config = "{}";
  std::string err;
  EXPECT_TRUE(reporter->Start(start, &err));
  EXPECT_TRUE(reporter->Output(OutputStream::kStdout, "x\n", &err));
  EXPECT_TRUE(reporter->Finish(RunOutcome(), &err));
  EXPECT_EQ(fake.requests().size(), 2u);  // upsertBucket, tried twice; nothing after
}

TEST(WandbRunReporterTest, FailedStreamIsReportedOnceThenDropped) {
  WandbRunReporterOptions options;
  options.flush_bytes = 1;  // send at once
  Harness h(options);
  h.server.fail = "file_stream";
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(), &err));
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "line\n", &err));
  }
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  EXPECT_EQ(h.Streams().size(), 1u);  // 400 is not retried, and nothing is sent after it
}

// A server that holds file_stream forever: Finish gives up after the exit bound, cancelling the
// request, so the program's exit never waits on it.
TEST(WandbRunReporterTest, AStalledServerIsCancelledAtTheExitBound) {
  WandbRunReporterOptions options;
  options.flush_bytes = 1;
  options.exit_flush_seconds = 0;
  Harness h(options);
  h.server.fail = "stall";
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(""), &err));
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "line\n", &err));
  }
  while (h.server.stalls_started == 0) {  // the server holds a request now
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  testing::internal::CaptureStderr();
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  std::string warned = testing::internal::GetCapturedStderr();
  EXPECT_EQ(h.server.stalls_cancelled, 1);  // one request held; the sender then stopped
  EXPECT_NE(warned.find("WANDB_JOB_EXIT_FLUSH_SECONDS"), std::string::npos) << warned;
  EXPECT_EQ(h.Streams().size(), 1u);
}

// Far more output than a request carries waits on disk, in order, for the sender.
TEST(WandbRunReporterTest, OutputBeyondOneRequestIsSentInOrderInSeveral) {
  WandbRunReporterOptions options;
  options.flush_seconds = 3600;
  options.flush_bytes = SIZE_MAX;  // only the end sends: everything waits in the spool
  Harness h(options);
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(""), &err));
  const std::string text(100, 'x');
  for (int i = 0; i < 30000; ++i) {
    EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, std::to_string(i) + text + "\n", &err));
    EXPECT_TRUE(h.reporter->History(json({{"i", i}, {"_step", i}}).dump(), &err));
  }
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  EXPECT_GE(h.Streams().size(), 4u);   // about 3.3 MB of output in requests of about 1 MB
  auto lines = h.Lines("output.log");  // offsets checked in Lines()
  ASSERT_EQ(lines.size(), 30000u);
  EXPECT_EQ(lines[29999], "2023-11-14T22:13:20.250000Z 29999" + text);
  auto history = h.Lines("wandb-history.jsonl");
  ASSERT_EQ(history.size(), 30000u);
  EXPECT_EQ(json::parse(history[12345])["i"], 12345);
  EXPECT_EQ(h.Streams().back()["complete"], true);
}

TEST(WandbRunReporterTest, BatchesUntilTheSizeLimit) {
  WandbRunReporterOptions options;
  options.flush_seconds = 3600;  // only size and the end send
  Harness h(options);
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(""), &err));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(
        h.reporter->Output(OutputStream::kStdout, "line " + std::to_string(i) + "\n", &err));
  }
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  auto streams = h.Streams();
  EXPECT_EQ(streams.size(), 1u);  // 1000 short lines stay below 64 KiB: one request
  auto lines = h.Lines("output.log");
  ASSERT_EQ(lines.size(), 1000u);
  EXPECT_EQ(lines[999], "2023-11-14T22:13:20.250000Z line 999");

  WandbRunReporterOptions small;
  small.flush_seconds = 3600;
  small.flush_bytes = 4096;
  Harness s(small);
  ASSERT_TRUE(s.reporter->Start(s.Start(""), &err));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(
        s.reporter->Output(OutputStream::kStdout, "line " + std::to_string(i) + "\n", &err));
  }
  // Past the size limit the sender goes without waiting for the hour to pass.
  for (int i = 0; i < 500 && s.Streams().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_FALSE(s.Streams().empty());
  EXPECT_TRUE(s.reporter->Finish(RunOutcome(), &err));
  EXPECT_GE(s.Streams().size(), 2u);
  EXPECT_EQ(s.Lines("output.log").size(), 1000u);  // offsets checked in Lines()
}

TEST(WandbRunReporterTest, SendsPeriodically) {
  WandbRunReporterOptions options;
  options.flush_seconds = 0.05;
  Harness h(options);
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(""), &err));
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "early\n", &err));
  for (int i = 0; i < 200 && h.Streams().empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(h.Streams().size(), 1u);
  EXPECT_FALSE(h.Streams()[0].contains("complete"));
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
  EXPECT_EQ(h.Streams().back()["complete"], true);
  EXPECT_EQ(h.Lines("output.log").size(), 1u);
}

TEST(WandbRunReporterTest, MalformedMetricsAreErrors) {
  Harness h;
  std::string err;
  ASSERT_TRUE(h.reporter->Start(h.Start(""), &err));
  EXPECT_FALSE(h.reporter->History("[1]", &err));
  EXPECT_EQ(err, "a history row is not a JSON object");
  EXPECT_FALSE(h.reporter->Summary("3", &err));
  EXPECT_EQ(err, "summary values are not a JSON object");
  EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
}

TEST(WandbRunReporterTest, ConfigYamlIsTheSdksFormat) {
  std::string out, err;
  ASSERT_TRUE(RunConfigYaml(
      R"({"lr":1e-05,"name":"a: b","model":{"layers":[64,128],"on":true,"opt":{}},"tags":[],)"
      R"("none":null,"rows":[{"a":1}]})",
      &out, &err))
      << err;
  EXPECT_EQ(out,
            "wandb_version: 1\n"
            "\nlr:\n  desc: null\n  value: 1.0e-05\n"
            "\nname:\n  desc: null\n  value: \"a: b\"\n"
            "\nmodel:\n  desc: null\n  value:\n    layers:\n      - 64\n      - 128\n"
            "    \"on\": true\n    opt: {}\n"
            "\ntags:\n  desc: null\n  value: []\n"
            "\nnone:\n  desc: null\n  value: null\n"
            "\nrows:\n  desc: null\n  value:\n    -\n      a: 1\n");
  ASSERT_TRUE(RunConfigYaml("{}", &out, &err));
  EXPECT_EQ(out, "wandb_version: 1\n");
  EXPECT_FALSE(RunConfigYaml("[]", &out, &err));
  EXPECT_EQ(err, "the run config is not a JSON object");
}

TEST(WandbRunReporterTest, MetadataNamesProgramArgsGitAndHost) {
  RunStart start;
  start.argv = {"/usr/local/bin/train", "--lr", "0.5"};
  start.git_remote = "https://github.com/acme/train.git";
  start.git_commit = std::string(40, 'a');
  start.workdir = "/srv/job";
  json m = json::parse(RunMetadataJson(start, 1700000000.25));
  EXPECT_EQ(m["program"], "/usr/local/bin/train");
  EXPECT_EQ(m["args"], json::parse(R"(["--lr","0.5"])"));
  EXPECT_EQ(m["git"], json::parse(R"({"remote":"https://github.com/acme/train.git","commit":")" +
                                  std::string(40, 'a') + "\"}"));
  EXPECT_EQ(m["startedAt"], "2023-11-14T22:13:20.250000");
  EXPECT_EQ(m["root"], "/srv/job");
  EXPECT_EQ(m["state"], "running");
  EXPECT_FALSE(m["host"].get<std::string>().empty());
  EXPECT_FALSE(m["os"].get<std::string>().empty());
  start.git_remote.clear();
  start.git_commit.clear();
  EXPECT_FALSE(json::parse(RunMetadataJson(start, 0)).contains("git"));
}

TEST(WandbRunReporterTest, UploadsTheRunFilesTheSdkUploads) {
  Harness h;
  RunStart start = h.Start();
  start.argv = {"/bin/train", "--lr", "0.5"};
  start.git_commit = std::string(40, 'c');
  start.git_remote = "https://github.com/acme/train.git";
  std::string err;
  ASSERT_TRUE(h.reporter->Start(start, &err)) << err;
  auto upserts = h.Graphql("UpsertRun");
  ASSERT_EQ(upserts.size(), 1u);
  EXPECT_EQ(upserts[0]["program"], "/bin/train");
  EXPECT_EQ(upserts[0]["commit"], std::string(40, 'c'));
  EXPECT_EQ(upserts[0]["repo"], "https://github.com/acme/train.git");
  EXPECT_FALSE(upserts[0]["host"].get<std::string>().empty());
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "epoch 1\n", &err));
  EXPECT_TRUE(h.reporter->Output(OutputStream::kStderr, "oops\n", &err));
  EXPECT_TRUE(h.reporter->History(R"({"loss":0.5,"_step":4})", &err));
  RunOutcome outcome;
  outcome.exit_code = 2;
  EXPECT_TRUE(h.reporter->Finish(outcome, &err));

  auto creates = h.Graphql("CreateRunFiles");
  ASSERT_EQ(creates.size(), 2u);
  EXPECT_EQ(creates[0], json::parse(R"({"entity":"acme","project":"vision","run":"ab12cd34",
      "files":["wandb-metadata.json","config.yaml"]})"));
  EXPECT_EQ(creates[1]["files"], json::parse(R"(["wandb-summary.json","output.log"])"));
  const auto& up = h.server.uploads;
  ASSERT_EQ(up.size(), 4u);
  EXPECT_EQ(json::parse(up.at("http://storage.test/wandb-metadata.json"))["program"],
            "/bin/train");
  EXPECT_EQ(up.at("http://storage.test/config.yaml"),
            "wandb_version: 1\n\nlr:\n  desc: null\n  value: 0.5\n"
            "\nmodel:\n  desc: null\n  value:\n    layers: 2\n");
  json summary = json::parse(up.at("http://storage.test/wandb-summary.json"));
  EXPECT_EQ(summary["loss"], 0.5);
  EXPECT_EQ(summary["_step"], 4);
  EXPECT_EQ(summary["_timestamp"], 1700000000.25);
  EXPECT_EQ(summary["_runtime"], 0.0);
  EXPECT_EQ(summary["_wandb"], json::parse(R"({"runtime":0})"));
  EXPECT_EQ(up.at("http://storage.test/output.log"), "epoch 1\noops\n");
  for (const json& headers : h.server.upload_headers) {
    EXPECT_EQ(headers, json::parse(R"([["Content-Type","application/octet-stream"]])"));
  }
  auto streams = h.Streams();
  ASSERT_FALSE(streams.empty());
  std::vector<std::string> uploaded;
  for (const json& body : streams) {
    for (const json& name : body.value("uploaded", json::array())) {
      uploaded.push_back(name);
    }
  }
  EXPECT_EQ(uploaded, (std::vector<std::string>{"wandb-metadata.json", "config.yaml",
                                                "wandb-summary.json", "output.log"}));
  EXPECT_EQ(streams.back()["exitcode"], 2);
  EXPECT_TRUE(streams.back()["uploaded"].size() >= 2u);
}

TEST(WandbRunReporterTest, FailedUploadsAreAWarningAndTheRunCompletes) {
  for (const char* fail : {"CreateRunFiles", "PUT"}) {
    Harness h;
    h.server.fail = fail;
    size_t warnings = WarningsIssued().size();
    std::string err;
    ASSERT_TRUE(h.reporter->Start(h.Start(""), &err)) << err;
    EXPECT_TRUE(h.reporter->Output(OutputStream::kStdout, "hi\n", &err));
    EXPECT_TRUE(h.reporter->Finish(RunOutcome(), &err));
    EXPECT_EQ(h.Lines("output.log").size(), 1u) << fail;
    EXPECT_EQ(h.Streams().back()["complete"], true) << fail;
    EXPECT_FALSE(h.Streams().back().contains("uploaded")) << fail;
    ASSERT_EQ(WarningsIssued().size(), warnings + 1) << fail;
    EXPECT_NE(WarningsIssued().back().find("uploading the files of run ab12cd34 to W&B"),
              std::string::npos)
        << WarningsIssued().back();
  }
}

TEST(WandbRunReporterTest, RunUrlIsTheAppsRunPage) {
  EXPECT_EQ(RunUrl("https://wandb.ai", "acme", "vision", "ab12cd34"),
            "https://wandb.ai/acme/vision/runs/ab12cd34");
  EXPECT_EQ(RunUrl("http://127.0.0.1:8080", "a b", "p", "r"),
            "http://127.0.0.1:8080/a%20b/p/runs/r");
}

TEST(WandbRunReporterTest, OpenChoosesByModeAndKey) {
  ScopedTempDir home;
  const char* saved_home = getenv("HOME");
  std::string old_home = saved_home ? saved_home : "";
  setenv("HOME", home.path().c_str(), 1);
  unsetenv("NETRC");
  unsetenv("WANDB_BASE_URL");
  std::unique_ptr<RunReporter> reporter;
  std::string err;
  unsetenv("WANDB_API_KEY");
  unsetenv("WANDB_MODE");
  ASSERT_TRUE(OpenWandbRunReporter(&reporter, &err)) << err;
  EXPECT_EQ(reporter, nullptr);
  setenv("WANDB_API_KEY", kKey.c_str(), 1);
  ASSERT_TRUE(OpenWandbRunReporter(&reporter, &err)) << err;
  EXPECT_NE(reporter, nullptr);
  setenv("WANDB_MODE", "offline", 1);
  ASSERT_TRUE(OpenWandbRunReporter(&reporter, &err)) << err;
  EXPECT_EQ(reporter, nullptr);
  setenv("WANDB_MODE", "bogus", 1);
  EXPECT_FALSE(OpenWandbRunReporter(&reporter, &err));
  unsetenv("WANDB_MODE");
  unsetenv("WANDB_API_KEY");
  setenv("HOME", old_home.c_str(), 1);
}

}  // namespace
}  // namespace wandb_job

#include "run_reporter_guard.h"

#include <exception>
#include <string>

#include "log.h"

namespace wandb_job {
namespace {

class GuardedReporter : public RunReporter {
 public:
  explicit GuardedReporter(std::unique_ptr<RunReporter> inner) : inner_(std::move(inner)) {}

  bool Start(const RunStart& start, std::string* err) override {
    std::string why;
    if (!Guard([&] { return inner_->Start(start, &why); }, &why)) {
      Warning("not reporting the run: %s; running the program unreported", why.c_str());
      disabled_ = true;
    }
    return true;
  }

  bool Output(OutputStream stream, std::string_view data, std::string* err) override {
    return disabled_ || Guard([&] { return inner_->Output(stream, data, err); }, err);
  }
  bool History(const std::string& row_json, std::string* err) override {
    return disabled_ || Guard([&] { return inner_->History(row_json, err); }, err);
  }
  bool Summary(const std::string& values_json, std::string* err) override {
    return disabled_ || Guard([&] { return inner_->Summary(values_json, err); }, err);
  }
  bool Finish(const RunOutcome& outcome, std::string* err) override {
    return disabled_ || Guard([&] { return inner_->Finish(outcome, err); }, err);
  }

 private:
  template <typename F>
  static bool Guard(F&& call, std::string* err) {
    try {
      return call();
    } catch (const std::exception& e) {
      *err = std::string("unexpected failure: ") + e.what();
    } catch (...) {
      *err = "unexpected failure: an unknown exception";
    }
    return false;
  }

  std::unique_ptr<RunReporter> inner_;
  bool disabled_ = false;
};

}  // namespace

std::unique_ptr<RunReporter> GuardReporter(std::unique_ptr<RunReporter> inner) {
  return std::make_unique<GuardedReporter>(std::move(inner));
}

}  // namespace wandb_job

#include "log.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace wandb_job {
namespace {

Verbosity g_verbosity = Verbosity::kNormal;
std::mutex g_mutex;

std::vector<std::string>& Warnings() {
  static std::vector<std::string> warnings;
  return warnings;
}

std::string Format(const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out(n > 0 ? n : 0, '\0');
  if (n > 0) {
    vsnprintf(out.data(), out.size() + 1, format, args);
  }
  return out;
}

void Emit(const char* kind, const std::string& message) {
  std::lock_guard<std::mutex> lock(g_mutex);
  fprintf(stderr, "wandb-job: %s%s\n", kind, message.c_str());
  fflush(stderr);
}

}  // namespace

void SetVerbosity(Verbosity verbosity) { g_verbosity = verbosity; }
Verbosity GetVerbosity() { return g_verbosity; }

void Warning(const char* format, ...) {
  va_list args;
  va_start(args, format);
  std::string message = Format(format, args);
  va_end(args);
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    Warnings().push_back(message);
  }
  if (g_verbosity != Verbosity::kQuiet) {
    Emit("warning: ", message);
  }
}

void Info(const char* format, ...) {
  if (g_verbosity == Verbosity::kQuiet) {
    return;
  }
  va_list args;
  va_start(args, format);
  Emit("", Format(format, args));
  va_end(args);
}

void Verbose(const char* format, ...) {
  if (g_verbosity != Verbosity::kVerbose) {
    return;
  }
  va_list args;
  va_start(args, format);
  Emit("", Format(format, args));
  va_end(args);
}

void Fatal(const char* format, ...) {
  va_list args;
  va_start(args, format);
  Emit("internal error: ", Format(format, args));
  va_end(args);
  abort();
}

const std::vector<std::string>& WarningsIssued() { return Warnings(); }

}  // namespace wandb_job

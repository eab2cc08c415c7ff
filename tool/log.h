// Diagnostics with a fixed "wandb-job: " prefix on stderr, and the verbosity switch.
// Errors are not printed here: they travel as `std::string* err` up to cli.cc, which prints them.
#pragma once

#include <string>
#include <vector>

namespace wandb_job {

enum class Verbosity { kQuiet, kNormal, kVerbose };

void SetVerbosity(Verbosity verbosity);
Verbosity GetVerbosity();

/// "wandb-job: warning: ..." on stderr, unless quiet.
void Warning(const char* format, ...) __attribute__((format(printf, 1, 2)));
/// "wandb-job: ..." on stderr, unless quiet.
void Info(const char* format, ...) __attribute__((format(printf, 1, 2)));
/// Only with --verbose.
void Verbose(const char* format, ...) __attribute__((format(printf, 1, 2)));
/// An internal bug (like a failed assert): prints and aborts. Never for user errors.
[[noreturn]] void Fatal(const char* format, ...) __attribute__((format(printf, 1, 2)));

/// Every warning issued so far in this process, without prefix (tests and the bundle report).
const std::vector<std::string>& WarningsIssued();

}  // namespace wandb_job

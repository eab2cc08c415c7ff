// The command line: a table of subcommands {name, description, function} (as ninja's tools),
// flag parsing with CLI11, and the only place that prints errors and picks exit codes
// (0 ok, 1 failure, 2 usage).
#pragma once

#include <functional>

namespace wandb_job {

int RunCli(int argc, char** argv);

/// Runs `command`'s function and turns an exception that escaped it into one error line naming
/// `command` and exit 1: damaged input must never end in `terminate called ...` and a core dump.
int RunGuarded(const char* command, const std::function<int()>& run);

}  // namespace wandb_job

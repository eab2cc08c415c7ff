// The command line: a table of subcommands {name, description, function} (as ninja's tools),
// flag parsing with CLI11, and the only place that prints errors and picks exit codes
// (0 ok, 1 failure, 2 usage).
#pragma once

namespace wandb_job {

int RunCli(int argc, char** argv);

}  // namespace wandb_job

// Shared pieces of the `ondo` command-line program: exit codes, error lines, option parsing.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

#include "memory/budget.h"
#include "memory/kv_cache.h"
#include "platform/status.h"

namespace ondo::cli {

namespace po = boost::program_options;

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;  // the command could not do its job
inline constexpr int kExitUsage = 2;  // the command line is wrong

// Prints "ondo: error: MESSAGE" on stderr and returns kExitError.
int Error(std::string_view message);
int Error(const Status& status);
// Prints "ondo: error: MESSAGE" and a hint to --help on stderr and returns kExitUsage.
int UsageError(std::string_view command, std::string_view message);

// The whole file at `path`: NotFound "cannot open 'PATH'" when it cannot be opened,
// InvalidArgument on a read error.
Status ReadFile(const std::string& path, std::string* out);

// Parses args[1..] (args[0] is the command name) against `options`. Returns -1 when the
// command should run, otherwise the exit code to return (help printed, or a usage error).
// `synopsis` is the "ondo run -m MODEL -p TEXT [options]" line of --help. Positional
// arguments go to the option `positional_name` (nullptr: none are accepted).
int ParseArgs(std::string_view command, std::string_view synopsis, std::string_view summary,
              const po::options_description& options, const std::vector<std::string>& args,
              po::variables_map* vm, const char* positional_name = nullptr);

// The --mem-budget option text, declared once for run, bench and inspect.
inline constexpr const char* kMemBudgetHelp =
    "memory the run may use (resident weights + KV cache + scratch + what the process holds), "
    "e.g. 512M, 2G; weights that do not fit are streamed from the file; default: the cgroup "
    "memory limit if set, else physical RAM, minus 64 MiB + 5%";
// --mem-budget BYTES (K/M/G/T suffixes) or, when `text` is empty, the default budget.
// InvalidArgument for an unparsable or zero size.
Status ResolveMemBudget(const std::string& text, memory::Budget* budget);
// What this process already uses, counted against the budget (SessionOptions::process_bytes):
// its resident set now (code, tokenizer and analyzer tables) plus kProcessSlackBytes for what
// grows after the session is planned (output buffers, thread stacks, allocator slack).
inline constexpr uint64_t kProcessSlackBytes = 8ull << 20;
uint64_t ProcessBytesForBudget();

// The --kv-type option text, declared once for run, bench, inspect, perplexity and kld.
inline constexpr const char* kKvTypeHelp =
    "KV cache element type: f16, or q8 (llama.cpp's q8_0: 8.5 bits per element, about half "
    "the cache; needs head_dim % 32 == 0)";
// --kv-type f16|q8|q8_0. InvalidArgument for anything else.
Status ResolveKvType(const std::string& text, memory::KvType* type);

// "12.3 MiB".
std::string HumanBytes(unsigned long long bytes);

// Subcommands: args[0] is the command name.
int RunCommand(const std::vector<std::string>& args);
int InspectCommand(const std::vector<std::string>& args);
int TokenizeCommand(const std::vector<std::string>& args);
int TokenizerCommand(const std::vector<std::string>& args);
int MorphCommand(const std::vector<std::string>& args);
int PostCommand(const std::vector<std::string>& args);
int BenchCommand(const std::vector<std::string>& args);
int PerplexityCommand(const std::vector<std::string>& args);
int KldCommand(const std::vector<std::string>& args);
int ImatrixCommand(const std::vector<std::string>& args);
int ConvertCommand(const std::vector<std::string>& args);
int VerifyCommand(const std::vector<std::string>& args);

}  // namespace ondo::cli

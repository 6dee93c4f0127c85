// Error reporting and option parsing shared by the subcommands.
#include "examples/ondo/cli.h"

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "platform/sys_info.h"

namespace ondo::cli {

int Error(std::string_view message) {
  fmt::print(stderr, "ondo: error: {}\n", message);
  return kExitError;
}

int Error(const Status& status) { return Error(status.message()); }

Status ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open '{}'", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return InvalidArgument("error reading '{}'", path);
  *out = ss.str();
  return Status::Ok();
}

int UsageError(std::string_view command, std::string_view message) {
  fmt::print(stderr, "ondo: error: {} (see 'ondo {} --help')\n", message, command);
  return kExitUsage;
}

int ParseArgs(std::string_view command, std::string_view synopsis, std::string_view summary,
              const po::options_description& options, const std::vector<std::string>& args,
              po::variables_map* vm, const char* positional_name) {
  po::options_description help;
  help.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(options).add(help);
  try {
    const std::vector<std::string> rest(args.begin() + 1, args.end());
    // Without positional_name every value is given through a flag.
    po::positional_options_description pos;
    if (positional_name != nullptr) pos.add(positional_name, -1);
    po::store(po::command_line_parser(rest).options(all).positional(pos).run(), *vm);
    if (vm->count("help") != 0) {
      std::cout << "usage: " << synopsis << "\n\n" << summary << "\n" << all;
      std::cout.flush();
      return kExitOk;
    }
    po::notify(*vm);
  } catch (const po::error& e) {
    return UsageError(command, e.what());
  }
  return -1;
}

Status ResolveMemBudget(const std::string& text, memory::Budget* budget) {
  if (text.empty()) {
    *budget = memory::DefaultBudget();
    return Status::Ok();
  }
  uint64_t bytes = 0;
  if (Status s = memory::ParseByteSize(text, &bytes); !s.ok()) return InvalidArgument("--mem-budget {}", s.message());
  if (bytes == 0) return InvalidArgument("--mem-budget {} is zero", text);
  *budget = memory::GivenBudget(bytes);
  return Status::Ok();
}

uint64_t ProcessBytesForBudget() { return platform::CurrentRssBytes() + kProcessSlackBytes; }

Status ResolveKvType(const std::string& text, memory::KvType* type) {
  if (!memory::ParseKvType(text, type)) return InvalidArgument("--kv-type {} is not one of f16, q8", text);
  return Status::Ok();
}

std::string HumanBytes(unsigned long long bytes) {
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024.0 * 1024.0) return fmt::format("{:.2f} GiB", b / (1024.0 * 1024.0 * 1024.0));
  if (b >= 1024.0 * 1024.0) return fmt::format("{:.1f} MiB", b / (1024.0 * 1024.0));
  if (b >= 1024.0) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", bytes);
}

}  // namespace ondo::cli

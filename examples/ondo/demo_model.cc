// Locating the demo model: next to an installed binary, else in the source tree.
#include "examples/ondo/demo_model.h"

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#ifndef ONDO_DEMO_MODEL_SOURCE
#define ONDO_DEMO_MODEL_SOURCE ""
#endif

namespace ondo::cli {
namespace {

namespace fs = std::filesystem;

// <dir of /proc/self/exe>/../share/ondo/NAME; empty when the executable's path is unknown.
std::string InstalledPath() {
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return {};
  return (exe.parent_path().parent_path() / "share" / "ondo" / kDemoModelName).string();
}

bool IsFile(const std::string& path) {
  std::error_code ec;
  return !path.empty() && fs::is_regular_file(path, ec);
}

}  // namespace

std::string FindDemoModel() {
  if (std::string p = InstalledPath(); IsFile(p)) return p;
  if (std::string p = ONDO_DEMO_MODEL_SOURCE; IsFile(p)) return p;
  return {};
}

std::string DemoModelSearchDescription() {
  const std::string installed = InstalledPath();
  return fmt::format("no model given (-m) and the demo model is neither at {} nor at {}",
                     installed.empty() ? "<prefix>/share/ondo/" + std::string(kDemoModelName)
                                       : installed,
                     *ONDO_DEMO_MODEL_SOURCE ? ONDO_DEMO_MODEL_SOURCE : "(no source tree)");
}

}  // namespace ondo::cli

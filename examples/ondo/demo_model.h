// Where the embedded demo model (examples/demo/) is: the model `ondo run` uses when no -m is
// given.
#pragma once

#include <string>

namespace ondo::cli {

// The file name of the demo model, installed in <prefix>/share/ondo/.
inline constexpr const char* kDemoModelName = "ondo-demo-ko.ondo";

// The demo model's path: <dir of this executable>/../share/ondo/ (an installed ondo, wherever
// the prefix is), else the copy in the source tree this program was built from. Empty when
// neither exists.
std::string FindDemoModel();

// One sentence naming the places FindDemoModel looked, for the error when it found nothing.
std::string DemoModelSearchDescription();

}  // namespace ondo::cli

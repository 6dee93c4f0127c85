// NEON kernels (not yet written for these types: the set keeps the reference kernels).
#include "kernels/arm/arm.h"
#include "kernels/arm/neon_util.h"
#include "kernels/dispatch.h"

namespace ondo::kernels::ONDO_ARM_NS {

void RegisterK(KernelSet* s) { (void)s; }

}  // namespace ondo::kernels::ONDO_ARM_NS

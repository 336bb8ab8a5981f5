// Kubeconfig YAML through the parser the operator uses at start-up (yaml-cpp throws; nothing may
// leave ParseKubeconfigText). Files named in it are not read.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto config = waop::kube::ParseKubeconfigText(in, "/fuzz/kubeconfig", "", waop::RealClock::Get(),
                                                /*read_files=*/false);
  if (!config.ok()) (void)config.status().message();
  return 0;
}

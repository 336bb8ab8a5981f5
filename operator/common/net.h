// Small networking helpers shared by the servers and the tests.
#pragma once

#include <cstdint>

#include "common/status.h"

namespace waop {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read back, released).
// Another process may take it before the caller binds it, so a caller retries on a bind error.
// Unavailable when no socket can be bound.
Result<std::uint16_t> PickFreeLoopbackPort();

}  // namespace waop

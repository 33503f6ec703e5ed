// The Trade Server Plugin API is a header-only C interface; this file makes the
// header a SwiftPM C target and checks, at compile time, the header against the
// normative spec's names (shared/spec/abi_names_check.c has the same checks).
#include "trade_server_api.h"

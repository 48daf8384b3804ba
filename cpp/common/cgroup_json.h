// linux.resources from an already parsed JSON value (for the OCI spec parser).
#pragma once
#include <nlohmann/json.hpp>

#include "common/cgroup.h"

namespace pocker {

// `where` is the JSON path of `j` used in errors (e.g. "linux.resources").
Error parseResources(const nlohmann::json& j, LinuxResources* out, const std::string& where = "linux.resources");

}  // namespace pocker

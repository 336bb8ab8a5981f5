// meta.k8s.io/v1 Tables for the built-in kinds (what `kubectl get` prints): NAME/AGE, with
// STATUS for namespaces, DATA for configmaps, TYPE/DATA for secrets, and the event columns.
// Custom resources use BuildTable from schema/table.h instead.
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace devserver {

nlohmann::json BuildBuiltinTable(const std::string& resource,
                                 const std::vector<const nlohmann::json*>& objects,
                                 const std::string& resource_version, bool include_object,
                                 std::chrono::system_clock::time_point now);

// PartialObjectMetadata for a Table row.
nlohmann::json PartialObjectMetadata(const nlohmann::json& obj);

// True when the Accept header asks for a meta.k8s.io/v1 Table.
bool WantsTable(const std::string& accept);

}  // namespace devserver

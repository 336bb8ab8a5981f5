// The server side of `kubectl get` for custom resources: a meta.k8s.io/v1 Table built from a
// CRD version's additionalPrinterColumns, as kube-apiserver answers a request with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace devserver {

// The Table for `objects` (not owned; must outlive the call). Columns: NAME (type string,
// format name) first, then each printer column with name, type, format, description and
// priority. Each row has `cells` (the name, then each column's JSONPath value; a missing
// value is null, as the API server sends it) and `object`: a PartialObjectMetadata
// (apiVersion meta.k8s.io/v1, kind PartialObjectMetadata, metadata only) unless
// include_object is "Object"/true, then the full object. metadata.resourceVersion of the
// table is `list_resource_version`.
//
// Cells follow the type of their column as the apiserver's table convertor does: string
// columns print the value (numbers and objects as JSON text), integer / number / boolean
// columns carry JSON numbers / booleans (null on a type mismatch), and date columns carry the
// age as the apiserver renders it ("5m", "3h12m", "<invalid>"), not the timestamp: kubectl
// prints the cell as it comes. With no printer columns the table has NAME and Age, like a real
// server.
nlohmann::json BuildTable(const nlohmann::json& additional_printer_columns,
                          const std::vector<const nlohmann::json*>& objects,
                          const std::string& list_resource_version, bool include_object);
// The same, with "now" for date columns taken from `clock` (tests use a FakeClock).
nlohmann::json BuildTable(const nlohmann::json& additional_printer_columns,
                          const std::vector<const nlohmann::json*>& objects,
                          const std::string& list_resource_version, bool include_object,
                          const waop::Clock& clock);

// duration.HumanDuration of k8s.io/apimachinery: "45s", "3m20s", "5h", "12d", "2y40d".
std::string HumanDuration(std::chrono::nanoseconds d);

// Evaluates the printer-column JSONPath subset on `obj`: ".a.b.c", ".a[0].b", ".a[*].b",
// ".conditions[?(@.type==\"Ready\")].status" (== and != on strings, numbers, booleans), with
// or without surrounding "{}". Returns every match (a filter can match several), empty when
// nothing matches. InvalidArgument when the expression does not parse.
waop::Result<std::vector<nlohmann::json>> EvalJsonPath(std::string_view path,
                                                       const nlohmann::json& obj);

}  // namespace devserver

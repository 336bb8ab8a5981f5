// Decoding of the Kubernetes protobuf wire format ("k8s\0" + runtime.Unknown) for the few
// built-in kinds typed clients create with protobuf bodies: `kubectl create namespace`,
// `create configmap`, `create secret generic` send application/vnd.kubernetes.protobuf.
// Only the fields those kinds carry are decoded; responses are always JSON.
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common/status.h"

namespace devserver {

// The object as JSON (apiVersion, kind, metadata, data...). InvalidArgument when the bytes
// are not a k8s protobuf envelope or the kind is not one we decode.
waop::Result<nlohmann::json> DecodeK8sProtobuf(const std::string& bytes);

}  // namespace devserver

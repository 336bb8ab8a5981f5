// A gmock Kubernetes client for controller unit tests.
#pragma once

#include <gmock/gmock.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>

#include "kube/client.h"

namespace waop::controller {

class MockClient : public kube::Client {
 public:
  MOCK_METHOD(Result<nlohmann::json>, Get,
              (const kube::ResourceType&, std::string_view, std::string_view), (override));
  MOCK_METHOD(Result<kube::ListResult>, List,
              (const kube::ResourceType&, std::string_view, const kube::ListOptions&), (override));
  MOCK_METHOD(Result<nlohmann::json>, Create, (const kube::ResourceType&, const nlohmann::json&),
              (override));
  MOCK_METHOD(Result<nlohmann::json>, Update, (const kube::ResourceType&, const nlohmann::json&),
              (override));
  MOCK_METHOD(Result<nlohmann::json>, UpdateStatus,
              (const kube::ResourceType&, const nlohmann::json&), (override));
  MOCK_METHOD(Result<nlohmann::json>, Patch,
              (const kube::ResourceType&, std::string_view, std::string_view, kube::PatchType,
               const nlohmann::json&, std::string_view),
              (override));
  MOCK_METHOD(Status, Delete,
              (const kube::ResourceType&, std::string_view, std::string_view,
               const kube::DeleteOptions&),
              (override));
  MOCK_METHOD(Result<std::unique_ptr<kube::WatchStream>>, Watch,
              (const kube::ResourceType&, std::string_view, const kube::WatchOptions&), (override));
};

}  // namespace waop::controller

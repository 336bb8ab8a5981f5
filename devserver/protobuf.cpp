#include "protobuf.h"

#include <functional>

#include "base64.h"

namespace devserver {

using nlohmann::json;
using waop::Result;
using waop::Status;

namespace {

// A protobuf reader over one message's bytes.
class Reader {
 public:
  explicit Reader(std::string_view data) : d_(data) {}
  bool Done() const { return p_ >= d_.size(); }
  bool Varint(uint64_t* v) {
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= d_.size()) return false;
      uint8_t b = static_cast<uint8_t>(d_[p_++]);
      *v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return true;
    }
    return false;
  }
  // Next field: number, wire type, and for length-delimited its bytes.
  bool Next(int* field, int* wire, std::string_view* bytes, uint64_t* varint) {
    uint64_t key;
    if (!Varint(&key)) return false;
    *field = static_cast<int>(key >> 3);
    *wire = static_cast<int>(key & 7);
    switch (*wire) {
      case 0:
        return Varint(varint);
      case 1:
        if (p_ + 8 > d_.size()) return false;
        p_ += 8;
        return true;
      case 2: {
        uint64_t len;
        if (!Varint(&len) || p_ + len > d_.size()) return false;
        *bytes = d_.substr(p_, len);
        p_ += len;
        return true;
      }
      case 5:
        if (p_ + 4 > d_.size()) return false;
        p_ += 4;
        return true;
      default:
        return false;
    }
  }

 private:
  std::string_view d_;
  size_t p_ = 0;
};

using FieldFn = std::function<bool(int field, int wire, std::string_view bytes, uint64_t v)>;

bool Each(std::string_view msg, const FieldFn& fn) {
  Reader r(msg);
  while (!r.Done()) {
    int field, wire;
    std::string_view bytes;
    uint64_t v = 0;
    if (!r.Next(&field, &wire, &bytes, &v)) return false;
    if (!fn(field, wire, bytes, v)) return false;
  }
  return true;
}

// map<string, string|bytes> entry: key = 1, value = 2.
bool MapEntry(std::string_view entry, bool bytes_value, json* into) {
  std::string key, value;
  bool ok = Each(entry, [&](int f, int w, std::string_view b, uint64_t) {
    if (w != 2) return true;
    if (f == 1) key = b;
    if (f == 2) value = b;
    return true;
  });
  if (!ok) return false;
  (*into)[key] = bytes_value ? Base64Encode(value) : value;
  return true;
}

bool ObjectMeta(std::string_view msg, json* md) {
  return Each(msg, [&](int f, int w, std::string_view b, uint64_t v) {
    switch (f) {
      case 1:
        (*md)["name"] = std::string(b);
        break;
      case 2:
        (*md)["generateName"] = std::string(b);
        break;
      case 3:
        (*md)["namespace"] = std::string(b);
        break;
      case 11:
        if (!md->contains("labels")) (*md)["labels"] = json::object();
        return MapEntry(b, false, &(*md)["labels"]);
      case 12:
        if (!md->contains("annotations")) (*md)["annotations"] = json::object();
        return MapEntry(b, false, &(*md)["annotations"]);
      case 14:
        if (!md->contains("finalizers")) (*md)["finalizers"] = json::array();
        (*md)["finalizers"].push_back(std::string(b));
        break;
      case 13: {
        json ref = json::object();
        bool ok = Each(b, [&](int rf, int rw, std::string_view rb, uint64_t rv) {
          if (rf == 1) ref["kind"] = std::string(rb);
          if (rf == 3) ref["name"] = std::string(rb);
          if (rf == 4) ref["uid"] = std::string(rb);
          if (rf == 5) ref["apiVersion"] = std::string(rb);
          if (rf == 6 && rw == 0) ref["controller"] = rv != 0;
          if (rf == 7 && rw == 0) ref["blockOwnerDeletion"] = rv != 0;
          return true;
        });
        if (!ok) return false;
        (*md)["ownerReferences"].push_back(ref);
        break;
      }
      default:
        (void)w;
        (void)v;
        break;
    }
    return true;
  });
}

}  // namespace

Result<json> DecodeK8sProtobuf(const std::string& bytes) {
  if (bytes.size() < 4 || bytes.compare(0, 4, std::string("k8s\0", 4)) != 0) {
    return Status::InvalidArgument("protobuf body without the k8s envelope");
  }
  std::string api_version, kind;
  std::string_view raw;
  bool ok =
      Each(std::string_view(bytes).substr(4), [&](int f, int w, std::string_view b, uint64_t) {
        if (w != 2) return true;
        if (f == 1) {
          return Each(b, [&](int tf, int, std::string_view tb, uint64_t) {
            if (tf == 1) api_version = tb;
            if (tf == 2) kind = tb;
            return true;
          });
        }
        if (f == 2) raw = b;
        return true;
      });
  if (!ok) return Status::InvalidArgument("malformed protobuf envelope");
  json obj = {{"apiVersion", api_version}, {"kind", kind}, {"metadata", json::object()}};
  FieldFn fn;
  if (kind == "Namespace") {
    fn = [&](int f, int, std::string_view b, uint64_t) {
      if (f == 1) return ObjectMeta(b, &obj["metadata"]);
      if (f == 2) {
        return Each(b, [&](int sf, int, std::string_view sb, uint64_t) {
          if (sf == 1) obj["spec"]["finalizers"].push_back(std::string(sb));
          return true;
        });
      }
      return true;
    };
  } else if (kind == "ConfigMap") {
    fn = [&](int f, int w, std::string_view b, uint64_t v) {
      if (f == 1) return ObjectMeta(b, &obj["metadata"]);
      if (f == 2) {
        if (!obj.contains("data")) obj["data"] = json::object();
        return MapEntry(b, false, &obj["data"]);
      }
      if (f == 3) {
        if (!obj.contains("binaryData")) obj["binaryData"] = json::object();
        return MapEntry(b, true, &obj["binaryData"]);
      }
      if (f == 4 && w == 0) obj["immutable"] = v != 0;
      return true;
    };
  } else if (kind == "Secret") {
    fn = [&](int f, int w, std::string_view b, uint64_t v) {
      if (f == 1) return ObjectMeta(b, &obj["metadata"]);
      if (f == 2) {
        if (!obj.contains("data")) obj["data"] = json::object();
        return MapEntry(b, true, &obj["data"]);
      }
      if (f == 3) obj["type"] = std::string(b);
      if (f == 4) {
        if (!obj.contains("stringData")) obj["stringData"] = json::object();
        return MapEntry(b, false, &obj["stringData"]);
      }
      if (f == 5 && w == 0) obj["immutable"] = v != 0;
      return true;
    };
  } else if (kind == "ServiceAccount") {
    fn = [&](int f, int, std::string_view b, uint64_t) {
      if (f == 1) return ObjectMeta(b, &obj["metadata"]);
      return true;
    };
  } else {
    return Status::InvalidArgument(
        "protobuf bodies are supported for Namespace, ConfigMap, "
        "Secret and ServiceAccount only, not " +
        kind);
  }
  if (!Each(raw, fn)) return Status::InvalidArgument("malformed protobuf " + kind);
  return obj;
}

}  // namespace devserver

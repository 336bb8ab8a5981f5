// Watch stream bytes, fed in two chunks, through the decoder and everything the informer reads
// of an event: ValidateObjectMeta, the key accessors and (for ERROR events) the Status.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  waop::kube::WatchDecoder decoder;
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  for (std::string_view chunk : {in.substr(0, cut), in.substr(cut)}) {
    if (!decoder.Feed(chunk).ok()) break;
  }
  while (auto event = decoder.Next()) {
    (void)waop::kube::ValidateObjectMeta(event->object,
                                         event->type != waop::kube::WatchEventType::kBookmark);
    (void)waop::kube::ObjectKey(event->object);
    (void)waop::kube::ObjectResourceVersion(event->object);
    if (event->type == waop::kube::WatchEventType::kError) {
      (void)waop::kube::WatchErrorStatus(*event).ToString();
    }
    (void)event->object.dump();  // what a log line or a copy would do: bounded depth
  }
  // One line as the REST watch stream decodes it.
  if (auto e = waop::kube::WatchDecoder::DecodeLine(in); e.ok()) (void)e->object.dump();
  return 0;
}

// voiceover(): one AsyncWorker on the libuv threadpool running av::Voiceover; the inputs are read in place (kept
// alive by a reference) and the output is handed to JS uncopied.
#pragma once

#include <napi.h>

namespace ttsav {

// JS: voiceover(inputs: Uint8Array[] (video, then music when options.music, then the voice lines),
//               options: object, callback(err, result)) => job handle (External), cancel()-able.
Napi::Value StartVoiceover(const Napi::CallbackInfo& info);

}  // namespace ttsav

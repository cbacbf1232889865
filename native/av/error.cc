#include "error.h"

extern "C" {
#include <libavutil/error.h>
}

#include <cerrno>

#include "log.h"

namespace ttsav::av {

Error::Error(ErrorCode code, Stage stage, const std::string& message, int averror)
    : std::runtime_error(message), code(code), stage(stage), averror(averror) {
  if (code != ErrorCode::Limit && code != ErrorCode::Busy && code != ErrorCode::Aborted && code != ErrorCode::Timeout)
    detail = CurrentJobLastError();
}

Error WithPrefix(const Error& e, const std::string& prefix) {
  Error tagged(e.code, e.stage, prefix + e.what(), e.averror);
  tagged.detail = e.detail;
  tagged.reason = e.reason;
  return tagged;
}

Error LimitError(Stage stage, const std::string& message, const char* reason) {
  Error e(ErrorCode::Limit, stage, message);
  e.reason = reason;
  return e;
}

const char* CodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::Options: return "ERR_TTSAV_OPTIONS";
    case ErrorCode::InvalidData: return "ERR_TTSAV_INVALID_DATA";
    case ErrorCode::Unsupported: return "ERR_TTSAV_UNSUPPORTED";
    case ErrorCode::Limit: return "ERR_TTSAV_LIMIT";
    case ErrorCode::Busy: return "ERR_TTSAV_BUSY";
    case ErrorCode::Aborted: return "ERR_TTSAV_ABORTED";
    case ErrorCode::Timeout: return "ERR_TTSAV_TIMEOUT";
    case ErrorCode::NoMemory: return "ERR_TTSAV_NO_MEMORY";
    case ErrorCode::Network: return "ERR_TTSAV_NETWORK";
    case ErrorCode::Internal: return "ERR_TTSAV_INTERNAL";
  }
  return "ERR_TTSAV_INTERNAL";
}

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::None: return "";
    case Stage::Probe: return "probe";
    case Stage::Decode: return "decode";
    case Stage::Filter: return "filter";
    case Stage::Encode: return "encode";
    case Stage::Mux: return "mux";
  }
  return "";
}

std::string AvErrorString(int averror) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(averror, buf, sizeof buf);
  return buf;
}

namespace {
bool ReadsCallerBytes(Stage stage) { return stage == Stage::Probe || stage == Stage::Decode; }
}  // namespace

ErrorCode ClassifyAvError(int averror, Stage stage) {
  // While reading the caller's bytes, ENOMEM is the input's doing: libav refuses (rather than fails) allocations
  // over its size cap, which is what a table declaring 2^31 entries or a box declaring gigabytes asks for; a
  // process really out of memory meets the OOM killer long before malloc returns NULL on Linux.
  if (averror == AVERROR(ENOMEM)) return ReadsCallerBytes(stage) ? ErrorCode::InvalidData : ErrorCode::NoMemory;
  if (averror == AVERROR_DECODER_NOT_FOUND || averror == AVERROR_DEMUXER_NOT_FOUND ||
      averror == AVERROR_STREAM_NOT_FOUND || averror == AVERROR_PATCHWELCOME ||
      averror == AVERROR(ENOSYS))
    return ErrorCode::Unsupported;
  if (averror == AVERROR_INVALIDDATA || averror == AVERROR_EOF || averror == AVERROR(EIO) ||
      averror == AVERROR_BUG2)
    return ErrorCode::InvalidData;
  // Reading and decoding caller bytes: any other failure is still the input's fault.
  if (ReadsCallerBytes(stage)) return ErrorCode::InvalidData;
  if (averror == AVERROR(EINVAL)) return ErrorCode::Options;
  return ErrorCode::Internal;
}

Error AvError(int averror, Stage stage, const std::string& what) {
  std::string why = AvErrorString(averror);
  if (averror == AVERROR(ENOMEM) && ReadsCallerBytes(stage))
    why = "the input declares sizes or counts libav will not allocate (" + why + ")";
  return Error(ClassifyAvError(averror, stage), stage, what + ": " + why, averror);
}

void ThrowAv(int averror, Stage stage, const std::string& what) { throw AvError(averror, stage, what); }

}  // namespace ttsav::av

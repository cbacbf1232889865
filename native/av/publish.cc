#include "publish.h"

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/mathematics.h>
}

#include "init.h"
#include "input.h"
#include "io.h"
#include "log.h"

namespace ttsav::av {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxLoopBytes = size_t{512} << 20;  // packets of the loop video held in memory
constexpr int kAacFrame = 1024;
const int kAdtsRates[] = {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350};

// mbedtls (the bundled FFmpeg's TLS library) has no default trust store, unlike GnuTLS/OpenSSL: with verification on
// and no CA given, point it at the system's bundle (nullptr when none is found; verification then fails, typed).
const char* SystemCaBundle() {
  if (std::strstr(avformat_configuration(), "--enable-mbedtls") == nullptr) return nullptr;
  static const char* const kPaths[] = {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                                       "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"};
  for (const char* path : kPaths)
    if (std::FILE* f = std::fopen(path, "rb")) {
      std::fclose(f);
      return path;
    }
  return nullptr;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

// A demuxer over `reader`'s bytes with its stream information read; typed errors naming `what`.
InputFormatPtr OpenWithInfo(const MemoryReader& reader, const char* what) {
  InputFormatPtr fmt = OpenMemoryInput(reader, what);
  int ret = avformat_find_stream_info(fmt.get(), nullptr);
  if (ret < 0) ThrowAv(ret, Stage::Probe, std::string("cannot read the ") + what);
  return fmt;
}

}  // namespace

// ---- VideoLoop ----

VideoLoop::~VideoLoop() { avcodec_parameters_free(&par_); }

int VideoLoop::Width() const { return par_ ? par_->width : 0; }
int VideoLoop::Height() const { return par_ ? par_->height : 0; }

std::shared_ptr<const VideoLoop> VideoLoop::FromBytes(const uint8_t* data, size_t size) {
  InitLibav();
  JobLog log;
  ScopedJobLog scope(&log);
  if (size == 0) throw Error(ErrorCode::InvalidData, Stage::Probe, "the loop video is empty");
  MemoryReader reader(data, size);
  InputFormatPtr fmt = OpenWithInfo(reader, "loop video");
  std::shared_ptr<VideoLoop> loop(new VideoLoop());
  loop->Read(fmt.get());
  return loop;
}

std::shared_ptr<const VideoLoop> VideoLoop::FromFile(const std::string& path) {
  // Read into memory and demuxed from there, with nested opens refused like any other input (an MP4 data
  // reference never makes us open another file).
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw Error(ErrorCode::Options, Stage::Probe, "cannot open the loop video " + path + ": " + std::strerror(errno));
  std::vector<uint8_t> bytes;
  uint8_t buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    bytes.insert(bytes.end(), buf, buf + n);
    if (bytes.size() > kMaxLoopBytes) {
      std::fclose(f);
      throw Error(ErrorCode::Limit, Stage::Probe, "the loop video is larger than 512 MiB");
    }
  }
  std::fclose(f);
  return FromBytes(bytes.data(), bytes.size());
}

void VideoLoop::Read(AVFormatContext* fmt) {
  int index = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (index < 0) throw Error(ErrorCode::Unsupported, Stage::Probe, "the loop video has no video stream");
  AVStream* st = fmt->streams[index];
  if (st->codecpar->codec_id != AV_CODEC_ID_H264) {
    const char* name = avcodec_get_name(st->codecpar->codec_id);
    throw Error(ErrorCode::Unsupported, Stage::Probe,
                std::string("the loop video is ") + name + ", not H.264: it is copied, never re-encoded (convert it once)");
  }
  par_ = avcodec_parameters_alloc();
  if (par_ == nullptr) throw std::bad_alloc();
  Check(avcodec_parameters_copy(par_, st->codecpar), Stage::Probe, "cannot copy the video parameters");
  par_->codec_tag = 0;
  tb_ = st->time_base;
  size_t bytes = 0;
  int64_t minPts = INT64_MAX, maxEnd = INT64_MIN;
  int64_t lastDts = AV_NOPTS_VALUE;
  PacketPtr pkt = NewPacket();
  AVRational frameRate = av_guess_frame_rate(fmt, st, nullptr);
  int64_t defaultDur = frameRate.num > 0 ? av_rescale_q(1, av_inv_q(frameRate), tb_) : 0;
  for (;;) {
    int ret = av_read_frame(fmt, pkt.get());
    if (ret == AVERROR_EOF) break;
    if (ret < 0) ThrowAv(ret, Stage::Probe, "cannot read the loop video");
    if (pkt->stream_index != index) {
      av_packet_unref(pkt.get());
      continue;
    }
    if (packets_.empty() && !(pkt->flags & AV_PKT_FLAG_KEY)) {  // the loop starts at a keyframe
      av_packet_unref(pkt.get());
      continue;
    }
    // A packet with a pts and no dts keeps none here: all are derived from the pts below.
    if (pkt->dts == AV_NOPTS_VALUE && pkt->pts == AV_NOPTS_VALUE)
      pkt->dts = lastDts == AV_NOPTS_VALUE ? 0 : lastDts + std::max<int64_t>(defaultDur, 1);
    if (pkt->pts == AV_NOPTS_VALUE) pkt->pts = pkt->dts;
    if (pkt->duration <= 0) pkt->duration = defaultDur;
    if (pkt->dts != AV_NOPTS_VALUE) {
      if (lastDts != AV_NOPTS_VALUE && pkt->dts <= lastDts) pkt->dts = lastDts + 1;  // strictly increasing
      lastDts = pkt->dts;
    }
    minPts = std::min(minPts, pkt->pts);
    maxEnd = std::max(maxEnd, pkt->pts + pkt->duration);
    bytes += static_cast<size_t>(pkt->size);
    if (bytes > kMaxLoopBytes) throw Error(ErrorCode::Limit, Stage::Probe, "the loop video holds more than 512 MiB of video");
    PacketPtr kept = NewPacket();
    av_packet_move_ref(kept.get(), pkt.get());
    kept->stream_index = 0;
    kept->pos = -1;
    packets_.push_back(std::move(kept));
  }
  if (packets_.empty()) throw Error(ErrorCode::InvalidData, Stage::Probe, "the loop video has no keyframe");
  // Matroska stores no dts: its demuxer leaves the first ones out and guesses the rest, some after their pts
  // (with B-frames the muxer then refused the loop: EINVAL). Missing or impossible dts: all are derived from the
  // pts, the k-th smallest pts less the largest reorder shift (dts <= pts, strictly increasing).
  bool derive = false;
  for (const PacketPtr& p : packets_) derive = derive || p->dts == AV_NOPTS_VALUE || p->dts > p->pts;
  if (derive) {
    std::vector<int64_t> sorted;
    sorted.reserve(packets_.size());
    for (const PacketPtr& p : packets_) sorted.push_back(p->pts);
    std::sort(sorted.begin(), sorted.end());
    int64_t shift = 0;
    for (size_t i = 0; i < packets_.size(); i++) shift = std::max(shift, sorted[i] - packets_[i]->pts);
    for (size_t i = 0; i < packets_.size(); i++) {
      int64_t d = sorted[i] - shift;
      if (i > 0 && d <= packets_[i - 1]->dts) d = packets_[i - 1]->dts + 1;
      packets_[i]->dts = d;
    }
  }
  firstDts_ = packets_.front()->dts;
  firstPts_ = minPts;
  span_ = maxEnd - minPts;
  // The next pass's first dts is firstDts_ + span_: it must come after this pass's last one.
  int64_t minSpan = packets_.back()->dts - firstDts_ + 1;
  if (span_ < minSpan) span_ = minSpan;
  // A constant frame rate (the span is the frame count at that rate, to the time base's rounding): passes start at
  // whole multiples of the exact span, rounded once each, not at sums of the rounded one.
  if (frameRate.num > 0 && frameRate.den > 0) {
    AVRational frameDur = av_inv_q(frameRate);
    auto frames = static_cast<int64_t>(packets_.size());
    int64_t exact = av_rescale_q(frames, frameDur, tb_);
    if (std::llabs(exact - span_) <= 1 && av_rescale_q_rnd(frames, frameDur, tb_, AV_ROUND_DOWN) >= minSpan) {
      exactFrames_ = frames;
      frameDuration_ = frameDur;
      span_ = exact;
    }
  }
  if (av_rescale_q(span_, tb_, AVRational{1, 1000}) < 100)
    throw Error(ErrorCode::InvalidData, Stage::Probe, "the loop video lasts less than 100 ms");
}


int64_t VideoLoop::PassStart(int64_t pass) const {
  if (exactFrames_ > 0) return av_rescale_q(pass * exactFrames_, frameDuration_, tb_);
  return pass * span_;
}

// ---- Publisher ----

struct AacFrame {
  std::vector<uint8_t> data;  // raw AAC, ADTS header removed
  int64_t pts;                // in 1/sampleRate
};

struct Publisher::Shared {
  PublishOptions options;
  std::shared_ptr<const VideoLoop> video;
  EventFn onEvent;
  std::function<void()> onExit;

  std::mutex mutex;
  std::condition_variable wake;
  // Guarded by mutex:
  std::deque<AacFrame> queue;
  std::vector<uint8_t> pending;  // ADTS bytes short of a whole frame
  int64_t nextPts = 0;
  int sampleRate = 0, channels = 0;
  uint8_t asc[2] = {0, 0};
  bool connectRequested = false;
  bool closeRequested = false;
  bool connected = false;
  PublishStats stats;
  int64_t sentAudioSamples = 0, droppedSamples = 0;

  // Any thread:
  std::atomic<bool> abort{false};
  std::atomic<int64_t> opDeadlineMs{0};   // 0: none
  std::atomic<int64_t> closeDeadlineMs{0};

  static int Interrupt(void* opaque) {
    auto* s = static_cast<Shared*>(opaque);
    if (s->abort.load()) return 1;
    int64_t now = NowMs();
    int64_t d = s->opDeadlineMs.load();
    if (d != 0 && now > d) return 1;
    int64_t c = s->closeDeadlineMs.load();
    return c != 0 && now > c ? 1 : 0;
  }

  void DropLocked(const AacFrame&) {
    droppedSamples += kAacFrame;
    stats.droppedMs = droppedSamples * 1000 / std::max(sampleRate, 1);
  }
  int64_t QueuedMsLocked() const {
    return sampleRate > 0 ? static_cast<int64_t>(queue.size()) * kAacFrame * 1000 / sampleRate : 0;
  }
};

// One open session: the muxer, its output, and where the loop video stands.
class PublishSession {
 public:
  PublishSession(Publisher::Shared& s, int sampleRate, int channels, const uint8_t asc[2], int64_t startPts)
      : s_(s), sampleRate_(sampleRate), writer_(0) {
    const PublishOptions& o = s.options;
    AVFormatContext* raw = nullptr;
    const char* url = o.url.empty() ? nullptr : o.url.c_str();
    int ret = avformat_alloc_output_context2(&raw, nullptr, o.container.c_str(), url);
    if (ret < 0 || raw == nullptr) ThrowAv(ret < 0 ? ret : AVERROR(ENOMEM), Stage::Mux, "cannot create the muxer");
    fmt_.reset(raw);
    fmt_->interrupt_callback.callback = &Publisher::Shared::Interrupt;
    fmt_->interrupt_callback.opaque = &s;
    if (s.video) {
      AVStream* vs = avformat_new_stream(fmt_.get(), nullptr);
      if (vs == nullptr) throw std::bad_alloc();
      Check(avcodec_parameters_copy(vs->codecpar, s.video->Params()), Stage::Mux, "cannot set up the video stream");
      vs->codecpar->codec_tag = 0;
      vs->time_base = s.video->TimeBase();
      video_ = vs;
    }
    AVStream* as = avformat_new_stream(fmt_.get(), nullptr);
    if (as == nullptr) throw std::bad_alloc();
    AVCodecParameters* p = as->codecpar;
    p->codec_type = AVMEDIA_TYPE_AUDIO;
    p->codec_id = AV_CODEC_ID_AAC;
    p->sample_rate = sampleRate;
    av_channel_layout_default(&p->ch_layout, channels);
    p->frame_size = kAacFrame;
    p->profile = FF_PROFILE_AAC_LOW;
    p->extradata = static_cast<uint8_t*>(av_mallocz(2 + AV_INPUT_BUFFER_PADDING_SIZE));
    if (p->extradata == nullptr) throw std::bad_alloc();
    std::memcpy(p->extradata, asc, 2);
    p->extradata_size = 2;
    as->time_base = AVRational{1, sampleRate};
    audio_ = as;

    s.opDeadlineMs = NowMs() + o.connectTimeoutMs;
    TakeJobErrors();  // this connect's lines only (ThrowConnect reads them)
    if (url != nullptr) {
      Dict opts;
      if (!o.caFile.empty()) {
        opts.Set("ca_file", o.caFile.c_str());
      } else if (o.tlsVerify) {
        if (const char* bundle = SystemCaBundle()) opts.Set("ca_file", bundle);
      }
      opts.Set("tls_verify", o.tlsVerify ? 1 : 0);
      ret = avio_open2(&fmt_->pb, url, AVIO_FLAG_WRITE, &fmt_->interrupt_callback, opts.Addr());
      if (ret < 0) ThrowConnect(ret, "cannot connect to the server");
      ownsPb_ = true;
    } else {
      writer_.MakeStreaming();
      memory_ = true;
      fmt_->pb = writer_.Context();
      fmt_->flags |= AVFMT_FLAG_CUSTOM_IO;
    }
    Dict muxOpts;
    if (o.container == "flv") muxOpts.Set("flvflags", "no_duration_filesize");
    ret = avformat_write_header(fmt_.get(), muxOpts.Addr());
    if (ret < 0) ThrowConnect(ret, "cannot start the stream");
    s.opDeadlineMs = 0;
    // The video starts over from its first keyframe, at the audio's present.
    if (s.video) videoBase_ = av_rescale_q(startPts, AVRational{1, sampleRate}, s.video->TimeBase());
  }

  ~PublishSession() {
    if (ownsPb_) avio_closep(&fmt_->pb);
  }

  // Writes one audio frame, preceded by every video packet due before it.
  void WriteAudio(const AacFrame& f) {
    if (video_ != nullptr) WriteVideoUntil(f.pts);
    PacketPtr pkt = NewPacket();
    Check(av_new_packet(pkt.get(), static_cast<int>(f.data.size())), Stage::Mux, "cannot allocate a packet");
    std::memcpy(pkt->data, f.data.data(), f.data.size());
    pkt->pts = pkt->dts = f.pts;
    pkt->duration = kAacFrame;
    pkt->flags |= AV_PKT_FLAG_KEY;
    pkt->stream_index = audio_->index;
    av_packet_rescale_ts(pkt.get(), AVRational{1, sampleRate_}, audio_->time_base);
    Write(pkt.get());
    std::lock_guard<std::mutex> lock(s_.mutex);
    s_.sentAudioSamples += kAacFrame;
    s_.stats.sentAudioMs = s_.sentAudioSamples * 1000 / sampleRate_;
    s_.stats.audioEndMs = (f.pts + kAacFrame) * 1000 / sampleRate_;
  }

  void Finish() {
    s_.opDeadlineMs = NowMs() + s_.options.ioTimeoutMs;
    int ret = av_write_trailer(fmt_.get());
    s_.opDeadlineMs = 0;
    if (ret < 0) ThrowAv(ret, Stage::Mux, "cannot end the stream");
    Flushed();
    if (ownsPb_) {
      ownsPb_ = false;
      avio_closep(&fmt_->pb);  // RTMP: FCUnpublish + deleteStream
    }
  }

  // Memory output: the bytes written since the last call.
  std::vector<uint8_t> TakeBytes() {
    if (!memory_ || fmt_->pb == nullptr) return {};
    avio_flush(fmt_->pb);
    OwnedBytes b = writer_.TakeWritten();
    std::vector<uint8_t> out;
    if (b.data != nullptr && b.size > 0) {
      out.resize(b.size);
      std::memcpy(out.data(), b.data, b.size);
    }
    std::free(b.data);
    return out;
  }

 private:
  [[noreturn]] void ThrowConnect(int ret, const char* what) {
    s_.opDeadlineMs = 0;
    if (s_.abort.load()) throw Error(ErrorCode::Aborted, Stage::Mux, "the broadcast was closed");
    // The RTMP layer logs only "Cannot open connection tls://…" last, for a refused connection and for a server
    // certificate that fails verification alike: the TLS layer's own lines tell the second (no retry fixes it).
    for (const std::string& line : TakeJobErrors()) {
      if (IsTlsVerifyFailure(line)) {
        Error e(ErrorCode::Network, Stage::Mux, std::string(what) + ": TLS verification failed: " + line, ret);
        e.detail = line;
        e.reason = "tls-verify";
        throw e;
      }
    }
    ThrowIo(ret, what);
  }

  // A line of libav's TLS layer (GnuTLS, mbedtls or OpenSSL) about the peer's certificate or the trust setup.
  static bool IsTlsVerifyFailure(const std::string& line) {
    if (line.rfind("[tls", 0) != 0) return false;
    std::string lower(line);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* key : {"certificate", "verif", "ca chain", "ca cert"})
      if (lower.find(key) != std::string::npos) return true;
    return false;
  }

  // A failed write or connect: a network failure for a server, a libav one for memory output.
  [[noreturn]] void ThrowIo(int ret, const char* what) {
    if (ret != AVERROR(ENOMEM) && !s_.options.url.empty()) {
      std::string why = ret == AVERROR_EXIT ? "timed out" : AvErrorString(ret);
      throw Error(ErrorCode::Network, Stage::Mux, std::string(what) + ": " + why, ret);
    }
    ThrowAv(ret, Stage::Mux, what);
    throw Error(ErrorCode::Internal, Stage::Mux, what);  // not reached: ThrowAv throws
  }

  void WriteVideoUntil(int64_t audioPts) {
    const VideoLoop& v = *s_.video;
    const auto& packets = v.Packets();
    AVRational vtb = v.TimeBase();
    for (;;) {
      const AVPacket* src = packets[videoIndex_].get();
      // Presentation lines up with the audio: a pass's first picture shows at videoBase_ + PassStart(k) (its dts is
      // earlier by the stream's reorder delay, so the packet goes out that much ahead of the audio).
      int64_t shift = videoBase_ + v.PassStart(loopIndex_) - v.FirstPts();
      int64_t dts = src->dts + shift;
      // Due when its nominal presentation (dts + the reorder delay) starts before this audio frame ends.
      int64_t due = dts + (v.FirstPts() - v.FirstDts());
      if (av_compare_ts(due, vtb, audioPts + kAacFrame, AVRational{1, sampleRate_}) >= 0) return;
      PacketPtr pkt = NewPacket();
      Check(av_packet_ref(pkt.get(), src), Stage::Mux, "cannot reference a video packet");
      pkt->dts = dts;
      pkt->pts = src->pts + shift;
      pkt->stream_index = video_->index;
      int64_t dur = av_rescale_q(pkt->duration, vtb, video_->time_base);
      av_packet_rescale_ts(pkt.get(), vtb, video_->time_base);
      // Where the video stands on the stream's clock: the nominal presentation end of the last packet sent.
      int64_t endMs = av_rescale_q(due + src->duration, vtb, AVRational{1, 1000});
      Write(pkt.get());
      {
        std::lock_guard<std::mutex> lock(s_.mutex);
        s_.stats.sentVideoMs += av_rescale_q(dur, video_->time_base, AVRational{1, 1000});
        s_.stats.videoEndMs = endMs;
        if (videoIndex_ == 0) s_.stats.loops++;
      }
      if (++videoIndex_ == packets.size()) {
        videoIndex_ = 0;
        loopIndex_++;
      }
    }
  }

  void Write(AVPacket* pkt) {
    s_.opDeadlineMs = NowMs() + s_.options.ioTimeoutMs;
    int ret = av_write_frame(fmt_.get(), pkt);
    s_.opDeadlineMs = 0;
    if (ret < 0) {
      if (s_.abort.load()) throw Error(ErrorCode::Aborted, Stage::Mux, "the broadcast was closed");
      ThrowIo(ret, "cannot send to the server");
    }
    if (fmt_->pb != nullptr && fmt_->pb->error < 0) ThrowIo(fmt_->pb->error, "cannot send to the server");
    Flushed();
  }

  void Flushed() {
    int64_t pos = fmt_->pb != nullptr ? avio_tell(fmt_->pb) : 0;
    std::lock_guard<std::mutex> lock(s_.mutex);
    s_.stats.sentBytes += pos - lastPos_;
    lastPos_ = pos;
  }

  Publisher::Shared& s_;
  int sampleRate_;
  MemoryWriter writer_;
  OutputFormatPtr fmt_;
  bool ownsPb_ = false;
  bool memory_ = false;
  AVStream* video_ = nullptr;
  AVStream* audio_ = nullptr;
  int64_t videoBase_ = 0;
  size_t videoIndex_ = 0;
  int64_t loopIndex_ = 0;
  int64_t lastPos_ = 0;
};

namespace {

PublishEvent MakeEvent(PublishEvent::Type type) {
  PublishEvent ev;
  ev.type = type;
  return ev;
}

PublishEvent DisconnectedEvent(const Error& e, bool wasConnected) {
  PublishEvent ev = MakeEvent(PublishEvent::Type::Disconnected);
  ev.code = e.code;
  ev.message = e.what();
  ev.detail = e.detail;
  ev.averror = e.averror;
  ev.reason = e.reason;
  ev.wasConnected = wasConnected;
  return ev;
}

void Run(std::shared_ptr<Publisher::Shared> sp) {
  Publisher::Shared& s = *sp;
  JobLog log;
  ScopedJobLog scope(&log);
  std::unique_ptr<PublishSession> session;
  auto emitData = [&] {
    if (!session) return;
    std::vector<uint8_t> bytes = session->TakeBytes();
    if (bytes.empty()) return;
    PublishEvent ev = MakeEvent(PublishEvent::Type::Data);
    ev.bytes = std::move(bytes);
    s.onEvent(std::move(ev));
  };
  auto disconnect = [&](const Error& e) {
    bool was = session != nullptr;
    session.reset();
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      s.connected = false;
      s.stats.connected = false;
    }
    if (!s.abort.load()) s.onEvent(DisconnectedEvent(e, was));
  };
  // Runs one step of the session; any failure ends it (a Disconnected event), never the process.
  auto guarded = [&](auto&& step) {
    try {
      step();
    } catch (const Error& e) {
      disconnect(e);
    } catch (const std::bad_alloc&) {
      disconnect(Error(ErrorCode::NoMemory, Stage::Mux, "out of memory"));
    } catch (const std::exception& e) {
      disconnect(Error(ErrorCode::Internal, Stage::Mux, e.what()));
    }
  };
  for (;;) {
    std::unique_lock<std::mutex> lock(s.mutex);
    s.wake.wait(lock, [&] {
      return s.abort.load() || s.closeRequested || !s.queue.empty() || (s.connectRequested && s.sampleRate > 0);
    });
    if (s.abort.load()) break;
    if (s.connectRequested && !session && s.sampleRate > 0) {
      s.connectRequested = false;
      int rate = s.sampleRate, channels = s.channels;
      uint8_t asc[2] = {s.asc[0], s.asc[1]};
      int64_t startPts = s.queue.empty() ? s.nextPts : s.queue.front().pts;
      lock.unlock();
      guarded([&] {
        session = std::make_unique<PublishSession>(s, rate, channels, asc, startPts);
        {
          std::lock_guard<std::mutex> g(s.mutex);
          s.connected = true;
          s.stats.connected = true;
        }
        s.onEvent(MakeEvent(PublishEvent::Type::Connected));
        emitData();
      });
      continue;
    }
    if (!s.queue.empty()) {
      AacFrame f = std::move(s.queue.front());
      s.queue.pop_front();
      if (!session) {
        // Disconnected (a reconnect is waiting for its backoff): the feed keeps its clock, this audio is lost.
        s.DropLocked(f);
        continue;
      }
      lock.unlock();
      guarded([&] {
        session->WriteAudio(f);
        emitData();
      });
      continue;
    }
    if (s.closeRequested) {
      lock.unlock();
      if (session) {
        try {
          session->Finish();
          emitData();
        } catch (const Error&) {
          // Ending is best effort: the session is over either way.
        }
        session.reset();
      }
      break;
    }
  }
  session.reset();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    s.connected = false;
    s.stats.connected = false;
  }
  s.onEvent(MakeEvent(PublishEvent::Type::Closed));
  if (s.onExit) s.onExit();
}

}  // namespace

Publisher::Publisher(PublishOptions options, std::shared_ptr<const VideoLoop> video, EventFn onEvent,
                     std::function<void()> onExit)
    : s_(std::make_shared<Shared>()) {
  InitLibav();
  if (options.container != "flv" && options.container != "mpegts")
    throw Error(ErrorCode::Options, Stage::None, "container must be flv or mpegts");
  if (!options.url.empty() && options.url.rfind("rtmp://", 0) != 0 && options.url.rfind("rtmps://", 0) != 0)
    throw Error(ErrorCode::Options, Stage::None, "url must start with rtmp:// or rtmps://");
  if (!options.url.empty() && options.container != "flv")
    throw Error(ErrorCode::Options, Stage::None, "RTMP carries FLV only");
  s_->options = std::move(options);
  s_->video = std::move(video);
  s_->onEvent = std::move(onEvent);
  s_->onExit = std::move(onExit);
  std::thread(Run, s_).detach();
}

Publisher::~Publisher() { Abort(); }

void Publisher::PushAdts(const uint8_t* data, size_t size) {
  std::lock_guard<std::mutex> lock(s_->mutex);
  Shared& s = *s_;
  s.pending.insert(s.pending.end(), data, data + size);
  size_t at = 0;
  bool added = false;
  while (s.pending.size() - at >= 7) {
    const uint8_t* h = s.pending.data() + at;
    if (h[0] != 0xFF || (h[1] & 0xF6) != 0xF0) {
      s.pending.clear();
      throw Error(ErrorCode::InvalidData, Stage::Mux, "the feed's output is not ADTS AAC (create it with format 'adts')");
    }
    bool crc = (h[1] & 1) == 0;
    int profile = h[2] >> 6;
    int sfi = (h[2] >> 2) & 15;
    int chan = ((h[2] & 1) << 2) | (h[3] >> 6);
    size_t len = static_cast<size_t>(((h[3] & 3) << 11) | (h[4] << 3) | (h[5] >> 5));
    int rdb = h[6] & 3;
    size_t head = crc ? 9 : 7;
    if (sfi > 12 || chan == 0 || len <= head || rdb != 0) {
      s.pending.clear();
      throw Error(ErrorCode::Unsupported, Stage::Mux, "ADTS frames with this layout cannot be published (AAC-LC, 1 raw block, channels 1-7)");
    }
    if (s.pending.size() - at < len) break;
    int rate = kAdtsRates[sfi];
    if (s.sampleRate == 0) {
      s.sampleRate = rate;
      s.channels = chan == 7 ? 8 : chan;
      s.stats.sampleRate = rate;
      s.stats.channels = s.channels;
      int aot = profile + 1;
      s.asc[0] = static_cast<uint8_t>((aot << 3) | (sfi >> 1));
      s.asc[1] = static_cast<uint8_t>(((sfi & 1) << 7) | (chan << 3));
    } else if (rate != s.sampleRate || (chan == 7 ? 8 : chan) != s.channels) {
      s.pending.clear();
      throw Error(ErrorCode::Unsupported, Stage::Mux, "the feed's sample rate or channel count changed mid-stream");
    }
    AacFrame f{std::vector<uint8_t>(h + head, h + len), s.nextPts};
    s.nextPts += kAacFrame;
    s.queue.push_back(std::move(f));
    added = true;
    at += len;
  }
  s.pending.erase(s.pending.begin(), s.pending.begin() + static_cast<std::ptrdiff_t>(at));
  // Bounded memory: beyond maxQueueMs the oldest audio goes (a stalled or absent connection).
  while (s.QueuedMsLocked() > s.options.maxQueueMs) {
    s.DropLocked(s.queue.front());
    s.queue.pop_front();
  }
  if (added) s.wake.notify_one();
}

void Publisher::Connect() {
  std::lock_guard<std::mutex> lock(s_->mutex);
  if (s_->closeRequested) return;
  s_->connectRequested = true;
  s_->wake.notify_one();
}

void Publisher::Close() {
  std::lock_guard<std::mutex> lock(s_->mutex);
  if (s_->closeRequested) return;
  s_->closeRequested = true;
  s_->connectRequested = false;
  s_->closeDeadlineMs = NowMs() + 3000;  // a stuck network may hold the flush this long
  s_->wake.notify_one();
}

void Publisher::Abort() {
  s_->abort = true;
  std::lock_guard<std::mutex> lock(s_->mutex);
  s_->wake.notify_one();
}

PublishStats Publisher::Stats() {
  std::lock_guard<std::mutex> lock(s_->mutex);
  PublishStats out = s_->stats;
  out.queuedMs = s_->QueuedMsLocked();
  return out;
}

}  // namespace ttsav::av

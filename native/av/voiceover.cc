#include "voiceover.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>
#include <string>

#include "analysis.h"
#include "burn.h"
#include "filter.h"
#include "init.h"
#include "input.h"
#include "io.h"
#include "log.h"
#include "output.h"
#include "clock.h"
#include "encoder_tail.h"
#include "raii.h"

extern "C" {
#include <libavcodec/version.h>
#include <libavutil/mem.h>
}

namespace ttsav::av {
namespace {

// Re-throws `e` with `who` ("music", "voice line 2", "video") in front of its message.
[[noreturn]] void Rethrow(const Error& e, const std::string& who) { throw WithPrefix(e, who + ": "); }

// The video stream of the video input, read whole: its packets in demux order, timestamps shifted so the file
// starts at 0 (as the ffmpeg CLI does), still in the stream's time base.
class VideoSource {
 public:
  VideoSource(const InputBytes& bytes, const TranscodeOptions& options, JobControl& control)
      : reader_(bytes.data, bytes.size) {
    if (bytes.size == 0) throw Error(ErrorCode::InvalidData, Stage::Probe, "input is empty");
    Dict opts;
    SetProbingBounds(opts, options);
    fmt_ = OpenMemoryInput(reader_, "input", nullptr, opts.Addr(), &control);
    int ret = avformat_find_stream_info(fmt_.get(), nullptr);
    control.ThrowIfStopped(Stage::Probe);
    if (ret < 0) ThrowAv(ret, Stage::Probe, "cannot read stream information");
    int index = av_find_best_stream(fmt_.get(), AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    // A cover picture is a still image, not a video to put a voice over.
    if (index >= 0 && (fmt_->streams[index]->disposition & AV_DISPOSITION_ATTACHED_PIC)) index = -1;
    if (index < 0) throw Error(ErrorCode::Unsupported, Stage::Probe, "input has no video stream");
    stream_ = fmt_->streams[index];
    if (stream_->codecpar->codec_id == AV_CODEC_ID_NONE)
      throw Error(ErrorCode::Unsupported, Stage::Probe, "the video stream's codec is unknown to this libav");
    for (unsigned i = 0; i < fmt_->nb_streams; i++)
      if (static_cast<int>(i) != index) fmt_->streams[i]->discard = AVDISCARD_ALL;
    if (fmt_->start_time != AV_NOPTS_VALUE) offset_ = av_rescale_q(fmt_->start_time, AV_TIME_BASE_Q, stream_->time_base);

    for (;;) {
      control.ThrowIfStopped(Stage::Decode);
      PacketPtr pkt = NewPacket();
      ret = av_read_frame(fmt_.get(), pkt.get());
      if (ret == AVERROR_EOF) break;
      if (ret < 0) {
        control.ThrowIfStopped(Stage::Decode);
        if (fmt_->pb != nullptr && avio_feof(fmt_->pb)) break;
        ThrowAv(ret, Stage::Decode, "cannot read the video");
      }
      if (pkt->stream_index != index) continue;
      if (pkt->flags & AV_PKT_FLAG_CORRUPT)
        throw Error(ErrorCode::InvalidData, Stage::Decode, "the video stream holds a damaged or cut packet");
      if (pkt->pts != AV_NOPTS_VALUE) pkt->pts -= offset_;
      if (pkt->dts != AV_NOPTS_VALUE) pkt->dts -= offset_;
      int64_t end = (pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts) + std::max<int64_t>(pkt->duration, 0);
      if (pkt->pts != AV_NOPTS_VALUE || pkt->dts != AV_NOPTS_VALUE) end_ = std::max(end_, end);
      packets_.push_back(std::move(pkt));
    }
    if (packets_.empty()) throw Error(ErrorCode::InvalidData, Stage::Decode, "the video stream holds no packets");
    // A file whose video stops well short of what its container declares was cut.
    if (stream_->duration != AV_NOPTS_VALUE && stream_->duration > 0) {
      double declared = static_cast<double>(stream_->duration) * av_q2d(stream_->time_base);
      if (EndSeconds() < declared * 0.9 - 0.1)
        throw Error(ErrorCode::InvalidData, Stage::Decode,
                    "the video is truncated: its packets end at " + Num(EndSeconds()) + " s of the " + Num(declared) +
                        " s its container declares");
    }
  }

  AVFormatContext* Format() const { return fmt_.get(); }
  AVStream* Stream() const { return stream_; }
  std::vector<PacketPtr>& Packets() { return packets_; }
  double EndSeconds() const { return static_cast<double>(end_) * av_q2d(stream_->time_base); }

  // Keeps the packets before the first keyframe at or after `seconds` (decode order); returns where the video
  // now ends, in seconds. Nothing is cut when no keyframe comes that late.
  double CutAtKeyframe(double seconds) {
    int64_t at = static_cast<int64_t>(std::ceil(seconds / av_q2d(stream_->time_base)));
    for (size_t i = 1; i < packets_.size(); i++) {
      const AVPacket* p = packets_[i].get();
      if ((p->flags & AV_PKT_FLAG_KEY) && p->pts != AV_NOPTS_VALUE && p->pts >= at) {
        end_ = p->pts;
        packets_.resize(i);
        break;
      }
    }
    return EndSeconds();
  }

 private:
  MemoryReader reader_;
  InputFormatPtr fmt_;
  AVStream* stream_ = nullptr;
  int64_t offset_ = 0;
  int64_t end_ = 0;
  std::vector<PacketPtr> packets_;
};

// Decoded audio in the mix's common format.
struct Track {
  std::vector<FramePtr> frames;
  int64_t samples = 0;
};

// Decodes `in` whole (or its first `maxSamples`, when > 0) into the common format.
Track DecodeTrack(Input& in, const AudioFormat& common, int64_t maxSamples, JobControl& control, StageTimings& t) {
  Track track;
  AVCodecContext* dec = in.Decoder();
  FormatConverter convert(FormatOf(dec), common);
  auto pkt = NewPacket();
  auto decoded = NewFrame();
  bool full = false;
  auto drain = [&] {
    for (;;) {
      auto out = NewFrame();
      if (!convert.Pull(out.get())) return;
      track.samples += out->nb_samples;
      track.frames.push_back(std::move(out));
      if (maxSamples > 0 && track.samples >= maxSamples) full = true;
    }
  };
  auto decode = [&](AVPacket* p) {
    int ret = avcodec_send_packet(dec, p);
    if (ret < 0 && ret != AVERROR_EOF) ThrowAv(ret, Stage::Decode, "cannot decode the audio");
    for (;;) {
      ret = avcodec_receive_frame(dec, decoded.get());
      if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) break;
      if (ret < 0) ThrowAv(ret, Stage::Decode, "cannot decode the audio");
      AVFrame* f = decoded.get();
      if (!convert.Accepts(f)) throw FormatConverter::FormatChanged();
      f->pts = AV_NOPTS_VALUE;  // the converter counts samples
      convert.Push(f);
      av_frame_unref(f);
      drain();
    }
  };
  auto start = Clock::now();
  while (!full) {
    control.ThrowIfStopped(Stage::Decode);
    if (!in.ReadPacket(pkt.get())) break;
    decode(pkt.get());
    av_packet_unref(pkt.get());
  }
  if (!full) decode(nullptr);
  convert.Push(nullptr);
  drain();
  t.decode += MsSince(start);
  if (track.samples == 0) throw Error(ErrorCode::InvalidData, Stage::Decode, "no audio decoded");
  return track;
}

// Integrated loudness and range of the tracks played one after the other (no true peak: not needed to set gains).
Loudness Measure(const std::vector<const Track*>& tracks, const AudioFormat& format) {
  LoudnessMeter meter(format, false);
  for (const Track* t : tracks)
    for (const FramePtr& f : t->frames) meter.Feed(f.get());
  return meter.Finish();
}

// The gain that takes audio at `measured` LUFS to `target`; 0 for silence (nothing to scale).
double GainTo(double target, const Loudness& measured) {
  if (!std::isfinite(measured.integrated) || measured.integrated <= -70) return 0;
  return std::min(40.0, std::max(-60.0, target - measured.integrated));
}

// A soft subtitle track written without an encoder (FFmpeg builds without the mov_text and webvtt encoders can
// still make it): WebVTT in Matroska takes the cue text as the packet; 3GPP timed text (mov_text, "tx3g") takes a
// 16-bit big-endian length and the UTF-8 text, after a sample description (TS 26.245) in the extradata: white
// 16 px Arial, centred at the bottom, no background.
class SubtitleTrack {
 public:
  SubtitleTrack(AVFormatContext* fmt, const std::string& container) : webvtt_(container == "webm") {
    stream_ = avformat_new_stream(fmt, nullptr);
    if (stream_ == nullptr) throw std::bad_alloc();
    AVCodecParameters* par = stream_->codecpar;
    par->codec_type = AVMEDIA_TYPE_SUBTITLE;
    par->codec_id = webvtt_ ? AV_CODEC_ID_WEBVTT : AV_CODEC_ID_MOV_TEXT;
    if (!webvtt_) {
      static const char kFont[] = "Arial";  // and 16 px: the ASS default style players map timed text onto
      const uint8_t name = sizeof kFont - 1;
      std::vector<uint8_t> d = {
          0, 0, 0, 0,                   // displayFlags
          1, 0xff,                      // horizontal: centre; vertical: bottom
          0, 0, 0, 0,                   // background RGBA: transparent
          0, 0, 0, 0, 0, 0, 0, 0,       // default text box (top, left, bottom, right): the track's
          0, 0, 0, 0, 0, 1, 0, 16,      // style record: chars 0-0, font 1, plain, 16 px
          0xff, 0xff, 0xff, 0xff,       // text RGBA: white
          0, 0, 0, static_cast<uint8_t>(8 + 2 + 2 + 1 + name), 'f', 't', 'a', 'b', 0, 1, 0, 1, name};
      d.insert(d.end(), kFont, kFont + name);
      par->extradata = static_cast<uint8_t*>(av_mallocz(d.size() + AV_INPUT_BUFFER_PADDING_SIZE));
      if (par->extradata == nullptr) throw std::bad_alloc();
      std::copy(d.begin(), d.end(), par->extradata);
      par->extradata_size = static_cast<int>(d.size());
    }
    stream_->time_base = AVRational{1, 1000};
    av_dict_set(&stream_->metadata, "language", "und", 0);
  }

  // One cue (times in seconds) as a packet in the stream's time base (valid after the header).
  PacketPtr Encode(const SubtitleCue& cue) const {
    std::string text;
    for (size_t i = 0; i < cue.text.size(); i++) {
      if (cue.text[i] == '\r') continue;
      // "-->" would end a WebVTT cue's timing line when the track is exported; write an arrow instead.
      if (webvtt_ && cue.text.compare(i, 3, "-->") == 0) {
        text += "\xe2\x86\x92";
        i += 2;
        continue;
      }
      text += cue.text[i];
    }
    if (!webvtt_ && text.size() > 65535) text.resize(65535);
    size_t header = webvtt_ ? 0 : 2;
    PacketPtr pkt = NewPacket();
    Check(av_new_packet(pkt.get(), static_cast<int>(header + text.size())), Stage::Encode, "cannot allocate a subtitle packet");
    if (!webvtt_) {
      pkt->data[0] = static_cast<uint8_t>(text.size() >> 8);
      pkt->data[1] = static_cast<uint8_t>(text.size() & 0xff);
    }
    std::copy(text.begin(), text.end(), pkt->data + header);
    int64_t startMs = std::llround(cue.startSeconds * 1000);
    int64_t endMs = std::llround(cue.endSeconds * 1000);
    pkt->stream_index = stream_->index;
    pkt->pts = pkt->dts = av_rescale_q(startMs, AVRational{1, 1000}, stream_->time_base);
    pkt->duration = av_rescale_q(endMs - startMs, AVRational{1, 1000}, stream_->time_base);
    pkt->flags |= AV_PKT_FLAG_KEY;
    return pkt;
  }

 private:
  bool webvtt_;
  AVStream* stream_ = nullptr;
};

// Reads a track frame by frame with timestamps counted from 0: `lead` samples of silence first (where a voice line
// starts), then the track, looped until `loopTo` samples when > 0.
struct Cursor {
  const Track* track;
  int64_t loopTo;
  int64_t lead;
  const AudioFormat* format;
  size_t index = 0;
  int64_t pts = 0;
  bool ended = false;

  // The next frame in `out` (a new reference, or new silence), or false (once, and ended from then on) at the end.
  bool Next(AVFrame* out) {
    if (pts < lead) {
      int n = static_cast<int>(std::min<int64_t>(lead - pts, 4096));
      out->format = format->sampleFormat;
      out->sample_rate = format->sampleRate;
      out->nb_samples = n;
      Check(av_channel_layout_copy(&out->ch_layout, &format->layout), Stage::Filter, "cannot make silence");
      Check(av_frame_get_buffer(out, 0), Stage::Filter, "cannot make silence");
      av_samples_set_silence(out->extended_data, 0, n, format->layout.nb_channels, format->sampleFormat);
      out->pts = pts;
      pts += n;
      return true;
    }
    if (index == track->frames.size() && loopTo > 0 && pts < loopTo) index = 0;
    if (index == track->frames.size() || (loopTo > 0 && pts >= loopTo)) {
      ended = true;
      return false;
    }
    Check(av_frame_ref(out, track->frames[index++].get()), Stage::Filter, "cannot reference a frame");
    out->pts = pts;
    pts += out->nb_samples;
    return true;
  }
};

class Job {
 public:
  Job(const InputBytes& video, const std::vector<VoiceLine>& voice, const InputBytes* music,
      const VoiceoverOptions& options, JobControl& control)
      : videoBytes_(video), voice_(voice), music_(music), options_(options), control_(control),
        writer_(options.audio.maxOutputBytes) {
    if (voice.empty()) throw Error(ErrorCode::Options, Stage::Probe, "no voice to put over the video");
  }

  VoiceoverResult Run() {
    const TranscodeOptions& audio = options_.audio;
    // 1. The video: opened, checked against the output container, read whole.
    auto start = Clock::now();
    std::optional<VideoSource> video;
    try {
      video.emplace(videoBytes_, audio, control_);
    } catch (const Error& e) {
      Rethrow(e, "video");
    }
    const AVOutputFormat* ofmt = av_guess_format(audio.container.c_str(), nullptr, nullptr);
    if (ofmt == nullptr)
      throw Error(ErrorCode::Unsupported, Stage::Mux, "no muxer named '" + audio.container + "' in this libav");
    const AVCodecParameters* vpar = video->Stream()->codecpar;
    if (options_.burn) {
      std::string why = BurnUnsupported(options_.hwaccel);
      if (!why.empty()) throw Error(ErrorCode::Unsupported, Stage::Encode, why);
      if (avformat_query_codec(ofmt, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) != 1)
        throw Error(ErrorCode::Unsupported, Stage::Mux,
                    "burned-in subtitles re-encode the video as H.264, which the " + audio.container + " container cannot hold");
    } else if (avformat_query_codec(ofmt, vpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) {
      throw Error(ErrorCode::Unsupported, Stage::Mux,
                  std::string("the ") + audio.container + " container cannot hold " + avcodec_get_name(vpar->codec_id) +
                      " video (copied as is): use a container that takes it");
    }

    // 2. The voice lines, decoded into the common format (the first line's rate when the encoder takes it).
    std::vector<std::unique_ptr<Input>> lines;
    for (size_t i = 0; i < voice_.size(); i++) lines.push_back(OpenAudio(voice_[i].audio, VoiceName(i)));
    const AVCodecContext* dec0 = lines[0]->Decoder();
    timings_.probe += MsSince(start);
    tail_.emplace(audio, dec0->sample_rate, dec0->ch_layout.nb_channels, writer_, video->Format(), nullptr, 0,
                  &timings_);
    common_ = tail_->Common();
    const int rate = common_.sampleRate;

    std::vector<Track> voiceTracks;
    int64_t voiceEnd = 0;
    for (size_t i = 0; i < lines.size(); i++) {
      voiceTracks.push_back(Decode(*lines[i], 0, VoiceName(i)));
      lines[i].reset();
      voiceEnd = std::max(voiceEnd, AtSamples(voice_[i].atSeconds) + voiceTracks.back().samples);
    }

    // 3. The length of the output.
    double videoEnd = video->EndSeconds();
    double voiceEndSeconds = static_cast<double>(voiceEnd) / rate;
    double length = videoEnd;
    if (options_.length == VoiceoverLength::Voice) {
      length = video->CutAtKeyframe(voiceEndSeconds);
      if (length < voiceEndSeconds) length = voiceEndSeconds;  // no keyframe that late: the video ends first
    } else if (options_.length == VoiceoverLength::Longest) {
      length = std::max(videoEnd, voiceEndSeconds);
    }
    int64_t total = std::llround(length * rate);
    if (total <= 0) throw Error(ErrorCode::InvalidData, Stage::Probe, "the video has no duration");
    if (audio.maxDurationSeconds > 0 && length > audio.maxDurationSeconds)
      throw LimitError(Stage::Probe,
                       "the voice-over would last " + Num(length) + " s, over maxDurationSeconds (" +
                           Num(audio.maxDurationSeconds) + ")",
                       "duration");

    // 4. Music (only what the output needs) and the video's own audio.
    std::optional<Track> music;
    if (music_ != nullptr) music = Decode(*OpenAudio(*music_, "music"), total, "music");
    std::optional<Track> original;
    if (options_.originalAudio != OriginalAudio::Drop) {
      std::unique_ptr<Input> in;
      try {
        in = std::make_unique<Input>(videoBytes_.data, videoBytes_.size, Plain(), control_);
      } catch (const Error& e) {
        if (e.code != ErrorCode::Unsupported) Rethrow(e, "the video's audio");
      }
      if (in) original = Decode(*in, total, "the video's audio");
    }

    // 5. The mix, measured.
    start = Clock::now();
    std::vector<const Track*> voiceList;
    for (const Track& t : voiceTracks) voiceList.push_back(&t);
    double target = audio.filters.loudnessI;
    result_.voiceLoudness = Measure(voiceList, common_);
    double musicGain = 0, originalGain = 0;
    if (music) musicGain = GainTo(target + options_.musicGainDb, Measure({&*music}, common_));
    if (original) originalGain = GainTo(target + options_.originalGainDb, Measure({&*original}, common_));
    timings_.analyze += MsSince(start);

    start = Clock::now();
    std::vector<std::string> names;
    for (size_t i = 0; i < voiceTracks.size(); i++) names.push_back("v" + std::to_string(i));
    if (music) names.push_back("music");
    if (original) names.push_back("orig");
    std::string graph = MixDescription(voiceTracks.size(), total, GainTo(target, result_.voiceLoudness),
                                       music ? &musicGain : nullptr, original ? &originalGain : nullptr);
    MixGraph mix(names, common_, graph, common_);
    // The sources are fed in time order, a frame at a time (as a player would), and the mix pulled as it goes.
    std::vector<Cursor> cursors;
    for (size_t i = 0; i < voiceTracks.size(); i++)
      cursors.push_back({&voiceTracks[i], 0, AtSamples(voice_[i].atSeconds), &common_});
    if (music) cursors.push_back({&*music, total, 0, &common_});  // looped up to the output's length
    if (original) cursors.push_back({&*original, 0, 0, &common_});
    std::vector<FramePtr> mixed;
    LoudnessMeter mixMeter(common_);
    auto ref = NewFrame();
    for (;;) {
      control_.ThrowIfStopped(Stage::Filter);
      Cursor* next = nullptr;
      for (Cursor& c : cursors)
        if (!c.ended && (next == nullptr || c.pts < next->pts)) next = &c;
      if (next == nullptr) break;
      if (next->Next(ref.get())) {
        mix.Push(static_cast<size_t>(next - cursors.data()), ref.get());
        av_frame_unref(ref.get());
      } else {
        mix.Push(static_cast<size_t>(next - cursors.data()), nullptr);
      }
      for (;;) {
        auto f = NewFrame();
        if (!mix.Pull(f.get())) break;
        mixMeter.Feed(f.get());
        mixed.push_back(std::move(f));
      }
    }
    voiceTracks.clear();
    music.reset();
    original.reset();
    timings_.filter += MsSince(start);
    start = Clock::now();
    Analysis analysis;
    analysis.samples = total;
    analysis.loudness = mixMeter.Finish();
    timings_.analyze += MsSince(start);

    // 6. The tail: one gain to the loudness target (a dynamic normaliser would ride the gain and undo the ducking's
    // shape) and, only where that gain pushes peaks past the true peak target, a look-ahead limiter (delay-
    // compensated; 0.5 dB under the target: a sample-peak limiter, with room for inter-sample peaks). The limiter
    // takes loudness off peaky speech: the gain is then corrected from dry runs of gain + limiter (cheap: no
    // encoding) until the result is within 0.3 LU (two at most). Then exactly `total` samples, the encoder's format
    // and frame size.
    start = Clock::now();
    const Loudness& m = *analysis.loudness;
    double gain = GainTo(target, m);
    if (std::isfinite(m.integrated) && m.integrated > -70) {
      result_.normalization.applied = true;
      result_.normalization.mode = "linear";
      result_.normalization.measured = m;
    }
    const std::string limiter = ",alimiter=limit=" + Num(std::pow(10.0, (audio.filters.loudnessTP - 0.5) / 20)) +
                                ":attack=5:release=50:level=0:latency=1";
    result_.limited = std::isfinite(m.truePeak) && m.truePeak + gain > audio.filters.loudnessTP;
    for (int pass = 0; result_.limited && result_.normalization.applied && pass < 2; pass++) {
      Loudness after = DryRun(mixed, "volume=" + Num(gain) + "dB" + limiter);
      if (!std::isfinite(after.integrated) || std::fabs(after.integrated - target) <= 0.3) break;
      gain = std::min(gain + 40, gain + (target - after.integrated));
    }
    result_.normalization.gainDb = gain;
    std::string chain = "volume=" + Num(gain) + "dB" + (result_.limited ? limiter : "");
    chain += ",asetpts=N/SR/TB,apad=whole_len=" + std::to_string(total) + ",atrim=end_sample=" + std::to_string(total);
    timings_.filter += MsSince(start);

    // 7. The other streams, then everything muxed in time order.
    start = Clock::now();
    Output& muxer = tail_->Muxer();
    AVStream* vout = avformat_new_stream(muxer.Format(), nullptr);
    if (vout == nullptr) throw std::bad_alloc();
    CopyVideoParameters(video->Stream(), vout, ofmt);
    std::optional<SubtitleTrack> subtitles;
    if (options_.burn) {
      auto burnStart = Clock::now();
      std::vector<SubtitleCue> cues;
      for (const SubtitleCue& c : options_.cues)
        if (!c.text.empty() && c.endSeconds > c.startSeconds) cues.push_back(c);
      result_.video.encoder = BurnSubtitles(video->Stream(), video->Packets(), cues,
                                            (ofmt->flags & AVFMT_GLOBALHEADER) != 0, options_.hwaccel, vout->codecpar, control_);
      vout->codecpar->codec_tag = 0;
      result_.subtitles = static_cast<int>(cues.size());
      timings_.encode += MsSince(burnStart);
    } else if (!options_.cues.empty()) {
      subtitles.emplace(muxer.Format(), audio.container);
    }
    timings_.mux += MsSince(start);
    tail_->StartChain(chain, true);  // writes the header

    if (subtitles) {
      for (const SubtitleCue& cue : options_.cues) {
        SubtitleCue c = cue;
        c.startSeconds = std::max(0.0, c.startSeconds);
        c.endSeconds = std::min(length, c.endSeconds);
        if (c.endSeconds - c.startSeconds < 0.001 || c.text.empty()) continue;
        start = Clock::now();
        PacketPtr pkt = subtitles->Encode(c);
        timings_.encode += MsSince(start);
        start = Clock::now();
        muxer.WritePacket(pkt.get());
        timings_.mux += MsSince(start);
        result_.subtitles++;
      }
    }

    size_t nextAudio = 0;
    AVRational vtb = video->Stream()->time_base;
    for (PacketPtr& pkt : video->Packets()) {
      int64_t ts = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pkt->pts;
      double at = ts == AV_NOPTS_VALUE ? 0 : static_cast<double>(ts) * av_q2d(vtb);
      while (nextAudio < mixed.size() && static_cast<double>(tail_->OutputSamples()) / rate <= at) {
        tail_->Push(mixed[nextAudio].get(), &control_);
        mixed[nextAudio++].reset();
      }
      control_.ThrowIfStopped(Stage::Mux);
      start = Clock::now();
      pkt->stream_index = vout->index;
      pkt->pos = -1;
      av_packet_rescale_ts(pkt.get(), vtb, vout->time_base);
      muxer.WritePacket(pkt.get());
      timings_.mux += MsSince(start);
      result_.video.packets++;
    }
    while (nextAudio < mixed.size()) {
      tail_->Push(mixed[nextAudio].get(), &control_);
      mixed[nextAudio++].reset();
    }
    tail_->Finish(&control_);

    const AVCodecContext* enc = tail_->Encoder();
    const int64_t outSamples = tail_->OutputSamples();
    result_.audio.codec = enc->codec->name;
    result_.audio.sampleRate = enc->sample_rate;
    result_.audio.channels = enc->ch_layout.nb_channels;
    result_.audio.bitrate = enc->bit_rate;
    result_.audio.samples = outSamples;
    result_.audio.durationSeconds = static_cast<double>(outSamples) / rate;
    result_.audio.music = music_ != nullptr;
    result_.audio.original = originalUsed_;
    result_.video.codec = avcodec_get_name(vout->codecpar->codec_id);
    result_.video.width = vout->codecpar->width;
    result_.video.height = vout->codecpar->height;
    result_.video.copied = !options_.burn;
    result_.video.durationSeconds = video->EndSeconds();
    result_.durationSeconds = std::max(result_.audio.durationSeconds, result_.video.durationSeconds);
    result_.loudness = *tail_->MeasuredLoudness();
    result_.timings = timings_;
    result_.data = writer_.Release();
    return std::move(result_);
  }

 private:
  static std::string VoiceName(size_t i) { return "voice line " + std::to_string(i); }

  // Audio inputs are probed, never hinted (the hint is for the job's main input, here none).
  TranscodeOptions Plain() const {
    TranscodeOptions o = options_.audio;
    o.inputFormat.clear();
    return o;
  }

  std::unique_ptr<Input> OpenAudio(const InputBytes& bytes, const std::string& who) {
    try {
      return std::make_unique<Input>(bytes.data, bytes.size, Plain(), control_);
    } catch (const Error& e) {
      Rethrow(e, who);
    }
  }

  Track Decode(Input& in, int64_t maxSamples, const std::string& who) {
    try {
      Track t = DecodeTrack(in, common_, maxSamples, control_, timings_);
      if (who == "the video's audio") originalUsed_ = true;
      return t;
    } catch (const Error& e) {
      Rethrow(e, who);
    }
  }

  // The loudness `frames` would have through `chain` (no encoding).
  Loudness DryRun(const std::vector<FramePtr>& frames, const std::string& chain) {
    AudioFilter graph(common_, chain, common_);
    LoudnessMeter meter(common_, false);  // only the integrated loudness is wanted
    auto out = NewFrame();
    auto ref = NewFrame();
    auto drain = [&] {
      while (graph.Pull(out.get())) {
        meter.Feed(out.get());
        av_frame_unref(out.get());
      }
    };
    int64_t pts = 0;
    for (const FramePtr& f : frames) {
      control_.ThrowIfStopped(Stage::Filter);
      Check(av_frame_ref(ref.get(), f.get()), Stage::Filter, "cannot reference a frame");
      ref->pts = pts;
      pts += ref->nb_samples;
      graph.Push(ref.get());
      av_frame_unref(ref.get());
      drain();
    }
    graph.Push(nullptr);
    drain();
    return meter.Finish();
  }

  int64_t AtSamples(double seconds) const { return std::llround(std::max(0.0, seconds) * common_.sampleRate); }

  // [v0..] (placed by their cursors) mixed into the voice, normalised to the target; the music and the video's audio set
  // relative to it, faded, and ducked by the voice; all summed to exactly `total` samples.
  std::string MixDescription(size_t lines, int64_t total, double voiceGain, const double* musicGain,
                             const double* originalGain) const {
    std::string n = std::to_string(total);
    std::string fit = "apad=whole_len=" + n + ",atrim=end_sample=" + n;
    std::string g;
    // Each line arrives already placed (its cursor leads with silence).
    for (size_t i = 0; i < lines; i++) g += "[v" + std::to_string(i) + "]";
    if (lines > 1) g += "amix=inputs=" + std::to_string(lines) + ":normalize=0:duration=longest,";
    g += "volume=" + Num(voiceGain) + "dB," + fit;

    const Ducking& d = options_.ducking;
    bool duckMusic = musicGain != nullptr && d.enabled;
    bool duckOriginal = originalGain != nullptr && options_.originalAudio == OriginalAudio::Duck;
    int keys = (duckMusic ? 1 : 0) + (duckOriginal ? 1 : 0);
    if (keys > 0) {
      g += ",asplit=" + std::to_string(keys + 1) + "[voice]";
      for (int k = 0; k < keys; k++) g += "[key" + std::to_string(k) + "]";
    } else {
      g += "[voice]";
    }
    g += ";";
    double threshold = std::pow(10.0, (options_.audio.filters.loudnessI + d.thresholdDb) / 20);
    threshold = std::min(1.0, std::max(0.000977, threshold));
    auto duck = [&](int key) {
      return "[key" + std::to_string(key) + "]sidechaincompress=threshold=" + Num(threshold) +
             ":ratio=" + Num(d.ratio) + ":attack=" + Num(std::max(0.01, d.attackMs)) +
             ":release=" + Num(std::max(0.01, d.releaseMs)) + ":detection=rms:link=maximum";
    };
    int key = 0;
    std::string mixIn = "[voice]";
    int inputs = 1;
    if (musicGain != nullptr) {
      g += "[music]" + fit + ",volume=" + Num(*musicGain) + "dB";
      int64_t in = AtSamples(options_.musicFadeInMs / 1000);
      int64_t out = std::min(total, AtSamples(options_.musicFadeOutMs / 1000));
      if (in > 0) g += ",afade=t=in:start_sample=0:nb_samples=" + std::to_string(in);
      if (out > 0) g += ",afade=t=out:start_sample=" + std::to_string(total - out) + ":nb_samples=" + std::to_string(out);
      g += duckMusic ? "[m0];[m0]" + duck(key++) + "[m];" : "[m];";
      mixIn += "[m]";
      inputs++;
    }
    if (originalGain != nullptr) {
      g += "[orig]" + fit + ",volume=" + Num(*originalGain) + "dB";
      g += duckOriginal ? "[o0];[o0]" + duck(key++) + "[o];" : "[o];";
      mixIn += "[o]";
      inputs++;
    }
    if (inputs == 1) return g + "[voice]anull[out]";
    return g + mixIn + "amix=inputs=" + std::to_string(inputs) + ":normalize=0:duration=longest[out]";
  }

  // The copied video stream: the source's parameters (and, where FFmpeg keeps them apart, its side data such as
  // the display matrix), with a codec tag only where the output container knows it.
  static void CopyVideoParameters(const AVStream* in, AVStream* out, const AVOutputFormat* ofmt) {
    Check(avcodec_parameters_copy(out->codecpar, in->codecpar), Stage::Mux, "cannot copy the video parameters");
    unsigned tag = in->codecpar->codec_tag;
    if (tag != 0 && (ofmt->codec_tag == nullptr || av_codec_get_id(ofmt->codec_tag, tag) != in->codecpar->codec_id))
      out->codecpar->codec_tag = 0;
    out->time_base = in->time_base;
    out->avg_frame_rate = in->avg_frame_rate;
    out->r_frame_rate = in->r_frame_rate;
    out->sample_aspect_ratio = in->sample_aspect_ratio;
    out->disposition = in->disposition & ~AV_DISPOSITION_ATTACHED_PIC;
    av_dict_copy(&out->metadata, in->metadata, 0);
#if LIBAVCODEC_VERSION_INT < AV_VERSION_INT(60, 31, 100)
    // Before FFmpeg 6.1 stream side data is not part of the codec parameters.
    for (int i = 0; i < in->nb_side_data; i++) {
      const AVPacketSideData& sd = in->side_data[i];
      uint8_t* dst = av_stream_new_side_data(out, sd.type, sd.size);
      if (dst == nullptr) throw std::bad_alloc();
      std::copy(sd.data, sd.data + sd.size, dst);
    }
#endif
  }

  const InputBytes& videoBytes_;
  const std::vector<VoiceLine>& voice_;
  const InputBytes* music_;
  const VoiceoverOptions& options_;
  JobControl& control_;
  MemoryWriter writer_;
  std::optional<EncoderTail> tail_;
  AudioFormat common_;
  bool originalUsed_ = false;
  StageTimings timings_;
  VoiceoverResult result_;
};

}  // namespace

VoiceoverResult Voiceover(const InputBytes& video, const std::vector<VoiceLine>& voice, const InputBytes* music,
                          const VoiceoverOptions& options, JobControl& control) {
  InitLibav();
  JobLog log;
  ScopedJobLog scope(&log);
  auto start = Clock::now();
  control.ThrowIfStopped(Stage::None);
  Job job(video, voice, music, options, control);
  VoiceoverResult result = job.Run();
  result.timings.total = MsSince(start);
  return result;
}

}  // namespace ttsav::av

/* Training audio for the profile-guided build of scripts/build-ffmpeg.sh (TTSAV_FFMPEG_PGO=1): deterministic
 * synthetic signals written as 16-bit PCM WAV, so that the training needs only the compiler the build needs anyway.
 *
 *   pgo-signals KIND RATE CHANNELS SECONDS OUT.wav      KIND: speech | tonal | noise | mixed
 *
 * speech: a voice-like source — a glottal pulse train with a wandering pitch (85-260 Hz) through three formant
 *         resonators whose targets change every 60-220 ms, syllable envelopes, fricative noise bursts and pauses;
 * tonal:  chords of harmonic tones with vibrato and decaying notes, plus short noise hits;
 * noise:  white and low-passed noise with a slow amplitude modulation;
 * mixed:  speech over a quiet tonal bed.
 * In stereo the second channel is a delayed, attenuated, slightly differently coloured copy plus its own noise, so
 * the encoder sees both near-mono and decorrelated content. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t seed = 12345u;
static double rnd(void) { /* uniform in [-1, 1) */
  seed = seed * 1664525u + 1013904223u;
  return (double)(seed >> 8) / 8388608.0 - 1.0;
}

typedef struct { double a1, a2, b0, y1, y2; } reson; /* two-pole resonator */
static void reson_set(reson *r, double f, double bw, double rate) {
  double rr = exp(-M_PI * bw / rate), th = 2.0 * M_PI * f / rate;
  r->a1 = 2.0 * rr * cos(th);
  r->a2 = -rr * rr;
  r->b0 = 1.0 - rr;
}
static double reson_run(reson *r, double x) {
  double y = r->b0 * x + r->a1 * r->y1 + r->a2 * r->y2;
  r->y2 = r->y1;
  r->y1 = y;
  return y;
}

static const double VOWELS[][3] = {{730, 1090, 2440}, {270, 2290, 3010}, {530, 1840, 2480}, {660, 1720, 2410},
                                   {300, 870, 2240},  {640, 1190, 2390}, {490, 1350, 1690}, {440, 1020, 2240}};

typedef struct {
  double rate, f0, f0target, phase, env, envtarget, fric, formant[3], target[3];
  long left; /* samples left in this segment */
  reson r[3];
  double lp;
} speech;

static void speech_next_segment(speech *s) {
  double u = (rnd() + 1.0) / 2.0;
  s->left = (long)(s->rate * (0.06 + 0.16 * u));
  int kind = (int)((rnd() + 1.0) * 4.0) % 8; /* 0: pause, 1: fricative, else a vowel */
  s->envtarget = kind == 0 ? 0.0 : 0.35 + 0.6 * (rnd() + 1.0) / 2.0;
  s->fric = kind == 1 ? 0.5 : 0.02;
  const double *v = VOWELS[(int)((rnd() + 1.0) * 4.0) % 8];
  for (int i = 0; i < 3; i++) s->target[i] = v[i] * (1.0 + 0.08 * rnd());
  s->f0target = 85.0 + 175.0 * (rnd() + 1.0) / 2.0;
}

static double speech_sample(speech *s) {
  if (s->left-- <= 0) speech_next_segment(s);
  double k = 1.0 / (0.02 * s->rate); /* ~20 ms glides */
  s->f0 += (s->f0target - s->f0) * k;
  s->env += (s->envtarget - s->env) * k * 0.7;
  for (int i = 0; i < 3; i++) {
    s->formant[i] += (s->target[i] - s->formant[i]) * k;
    if (s->formant[i] < s->rate * 0.45) reson_set(&s->r[i], s->formant[i], 60.0 + 40.0 * i, s->rate);
  }
  s->phase += s->f0 / s->rate;
  double pulse = 0.0;
  if (s->phase >= 1.0) {
    s->phase -= 1.0;
    pulse = 1.0;
  }
  double src = pulse * 0.9 + rnd() * s->fric;
  double y = reson_run(&s->r[0], src) + 0.6 * reson_run(&s->r[1], src) + 0.3 * reson_run(&s->r[2], src);
  return 2.2 * y * s->env;
}

static double tonal_sample(double t, double rate) {
  static const double CHORDS[][3] = {{261.6, 329.6, 392.0}, {220.0, 261.6, 329.6}, {174.6, 220.0, 261.6}, {196.0, 246.9, 293.7}};
  int bar = (int)(t / 1.5);
  const double *c = CHORDS[bar % 4];
  double in_bar = t - bar * 1.5, y = 0.0;
  for (int n = 0; n < 3; n++) {
    double f = c[n] * (1.0 + 0.004 * sin(2.0 * M_PI * 5.5 * t));
    for (int h = 1; h <= 6 && f * h < rate * 0.45; h++) y += sin(2.0 * M_PI * f * h * t) / (h * h);
  }
  y *= 0.12 * exp(-1.2 * in_bar) + 0.05;
  if (fmod(t, 0.375) < 0.01) y += 0.25 * rnd() * (1.0 - fmod(t, 0.375) / 0.01);
  return y;
}

int main(int argc, char **argv) {
  if (argc != 6) {
    fprintf(stderr, "usage: pgo-signals speech|tonal|noise|mixed RATE CHANNELS SECONDS OUT.wav\n");
    return 2;
  }
  const char *kind = argv[1];
  int rate = atoi(argv[2]), ch = atoi(argv[3]);
  double seconds = atof(argv[4]);
  if (rate < 8000 || rate > 96000 || ch < 1 || ch > 2 || seconds <= 0 || seconds > 600 ||
      (strcmp(kind, "speech") && strcmp(kind, "tonal") && strcmp(kind, "noise") && strcmp(kind, "mixed"))) {
    fprintf(stderr, "pgo-signals: bad arguments\n");
    return 2;
  }
  FILE *out = fopen(argv[5], "wb");
  if (!out) {
    perror(argv[5]);
    return 1;
  }
  uint32_t frames = (uint32_t)(seconds * rate), bytes = frames * ch * 2;
  unsigned char h[44];
  memcpy(h, "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0", 22);
  uint32_t v[] = {36 + bytes, (uint32_t)rate, (uint32_t)rate * ch * 2, bytes};
  for (int i = 0; i < 4; i++) h[4 + i] = (unsigned char)(v[0] >> (8 * i));
  h[22] = (unsigned char)ch;
  h[23] = 0;
  for (int i = 0; i < 4; i++) h[24 + i] = (unsigned char)(v[1] >> (8 * i)), h[28 + i] = (unsigned char)(v[2] >> (8 * i));
  h[32] = (unsigned char)(ch * 2);
  h[33] = 0;
  h[34] = 16;
  h[35] = 0;
  memcpy(h + 36, "data", 4);
  for (int i = 0; i < 4; i++) h[40 + i] = (unsigned char)(v[3] >> (8 * i));
  fwrite(h, 1, 44, out);

  speech sp;
  memset(&sp, 0, sizeof sp);
  sp.rate = rate;
  sp.f0 = 120.0;
  double delay[64] = {0}, lp = 0.0, lp2 = 0.0;
  for (uint32_t i = 0; i < frames; i++) {
    double t = (double)i / rate, x;
    if (!strcmp(kind, "speech")) x = speech_sample(&sp);
    else if (!strcmp(kind, "tonal")) x = tonal_sample(t, rate);
    else if (!strcmp(kind, "noise")) {
      lp += (rnd() - lp) * 0.05;
      x = (0.15 * rnd() + 1.5 * lp) * (0.5 + 0.45 * sin(2.0 * M_PI * 0.3 * t));
    } else x = speech_sample(&sp) + 0.3 * tonal_sample(t, rate);
    double frame[2];
    frame[0] = x;
    if (ch == 2) {
      lp2 += (delay[(i + 1) % 64] - lp2) * 0.6;
      frame[1] = 0.8 * lp2 + 0.01 * rnd();
      delay[i % 64] = x;
    }
    for (int c = 0; c < ch; c++) {
      double s = frame[c] * 32767.0;
      int16_t q = (int16_t)(s > 32767.0 ? 32767 : s < -32768.0 ? -32768 : lrint(s));
      fputc(q & 0xff, out);
      fputc((q >> 8) & 0xff, out);
    }
  }
  if (fclose(out) != 0) {
    perror(argv[5]);
    return 1;
  }
  return 0;
}

/** What a job noticed about its input while it still succeeded: `result.warnings`. */

/** Warning codes, defined once (native/av/options.h makes them). */
export type TtsavWarningCode =
  | 'DURATION_MISMATCH' // the decoded length differs from the container's declared one by more than 5%
  | 'TRAILING_DATA' // bytes after the last whole frame (an incomplete or damaged final frame) were not decoded
  | 'JUNK_SKIPPED' // the demuxer skipped bytes that were not audio before the first frame
  | 'GUESSED_LAYOUT' // more than two channels and no declared layout: the default layout was assumed
  | 'DECODE_ERRORS_CONCEALED'; // decodeErrors 'conceal': frames that failed to decode were skipped (count + first)

export interface TtsavWarning {
  code: TtsavWarningCode;
  /** What was noticed; in concat, prefixed with the input's index ("input 2: …"). */
  message: string;
}

/** What to do when a frame fails to decode. */
export type DecodeErrors = 'fail' | 'conceal';

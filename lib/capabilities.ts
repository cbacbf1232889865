/** What the linked libav can do: output formats and hardware devices. */
import { TtsavError, fromNative } from './errors';
import { loadNative } from './native';
import { FORMATS, encoderOf, type OutputCodec, type OutputFormat } from './options';

export interface FormatInfo {
  format: OutputFormat;
  codec: OutputCodec;
  /** libavformat muxer and libavcodec encoder behind it. */
  muxer: string;
  encoder: string;
  /** Both are in the linked libav. */
  available: boolean;
  extension: string;
  mimeType: string;
}

/** The output formats ttsav knows, and whether the linked libav has what each needs. */
export function formats(): FormatInfo[] {
  const native = loadNative();
  return (Object.keys(FORMATS) as OutputFormat[]).map((format) => {
    const spec = FORMATS[format];
    const encoder = encoderOf(format);
    return {
      format,
      codec: spec.codec,
      muxer: spec.container,
      encoder,
      available: native.hasMuxer(spec.container) && native.hasEncoder(encoder),
      extension: spec.extension,
      mimeType: spec.mimeType,
    };
  });
}

export interface HwDevice {
  /** libav's name for the device type: 'cuda', 'vaapi', 'qsv', 'vdpau', 'drm', 'opencl', 'vulkan', … */
  type: string;
  available: boolean;
  /** Why it is not available. */
  reason?: string;
}

let devices: Promise<HwDevice[]> | undefined;

/**
 * Tries to open a device of each hardware type the linked libav supports, once per process, on the threadpool
 * (a missing driver gives `available: false` and the reason). Opened device contexts are kept and shared. No
 * libav AAC, Opus or MP3 encoder and no audio filter uses them: they matter for video work only.
 */
export function hwDevices(): Promise<HwDevice[]> {
  if (!devices) {
    const native = loadNative();
    devices = new Promise<HwDevice[]>((resolve, reject) => {
      native.hwDevices((err, list) => (err || !list ? reject(fromNative(err)) : resolve(list)));
    });
    devices.catch(() => {
      devices = undefined;
    });
  }
  return devices.then((list) => list.map((d) => ({ ...d })));
}

/** Rejects with ERR_TTSAV_HW_UNAVAILABLE unless a device of `type` can be opened. */
export async function requireHwDevice(type: string): Promise<void> {
  const list = await hwDevices();
  const device = list.find((d) => d.type === type);
  if (!device)
    throw new TtsavError('ERR_TTSAV_HW_UNAVAILABLE', `hwaccel '${type}': this libav has no ${type} support (it knows ${list.map((d) => d.type).join(', ') || 'no device types'})`);
  if (!device.available)
    throw new TtsavError('ERR_TTSAV_HW_UNAVAILABLE', `hwaccel '${type}' is not available here: ${device.reason ?? 'unknown reason'}`);
}

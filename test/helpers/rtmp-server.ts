/**
 * A real RTMP server for tests: nginx with Debian's libnginx-mod-rtmp, on a free loopback port, with a config
 * written to a temp dir (no daemon, pid and logs in that dir). The receiving side is the ffmpeg CLI.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const MODULE_PATHS = ['/usr/lib/nginx/modules/ngx_rtmp_module.so', '/usr/share/nginx/modules/ngx_rtmp_module.so'];
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'];

/** Why an RTMP test cannot run here ('' when it can). */
export function rtmpServerMissing(): string {
  if (!NGINX.some((p) => fs.existsSync(p))) return 'nginx is not installed (apt-get install nginx libnginx-mod-rtmp)';
  if (!MODULE_PATHS.some((p) => fs.existsSync(p))) return 'libnginx-mod-rtmp is not installed';
  return '';
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

export function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > until) reject(new Error(`nothing listens on ${port}`));
        else setTimeout(attempt, 20);
      });
    };
    attempt();
  });
}

export class RtmpServer {
  readonly dir: string;
  readonly port: number;
  #proc: ChildProcess | undefined;

  private constructor(dir: string, port: number) {
    this.dir = dir;
    this.port = port;
  }

  static async start(): Promise<RtmpServer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-nginx-'));
    const server = new RtmpServer(dir, await freePort());
    const mod = MODULE_PATHS.find((p) => fs.existsSync(p))!;
    fs.writeFileSync(
      path.join(dir, 'nginx.conf'),
      [
        `load_module ${mod};`,
        'daemon off;',
        'master_process off;',
        'worker_processes 1;',
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log info;`,
        'events { worker_connections 64; }',
        'rtmp {',
        '  server {',
        `    listen 127.0.0.1:${server.port};`,
        '    chunk_size 4096;',
        // The server's own copy of what it received (KEY.flv), for duration checks.
        `    application live { live on; record all; record_path ${dir}; record_unique off; }`,
        '  }',
        '}',
        '',
      ].join('\n'),
    );
    await server.resume();
    return server;
  }

  /** What the server recorded of stream `key` (complete once the publisher has left). */
  recording(key: string): string {
    return path.join(this.dir, `${key}.flv`);
  }

  url(key: string): string {
    return `rtmp://127.0.0.1:${this.port}/live/${key}`;
  }

  /** Starts (again) on the same port; resolves once it accepts connections. */
  async resume(): Promise<void> {
    const nginx = NGINX.find((p) => fs.existsSync(p))!;
    const proc = spawn(nginx, ['-p', this.dir, '-c', path.join(this.dir, 'nginx.conf'), '-e', path.join(this.dir, 'error.log')], {
      stdio: 'ignore',
    });
    // Never outlive the test process (a test that times out skips its cleanup).
    const reap = () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL');
    process.once('exit', reap);
    proc.once('exit', () => process.removeListener('exit', reap));
    this.#proc = proc;
    await waitForPort(this.port);
  }

  /** Stops the server (SIGTERM: connections closed); resolves once the process has exited. */
  async stop(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
      setTimeout(() => p.kill('SIGKILL'), 3000).unref();
    });
  }

  async close(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Receiver {
  /** Resolves when ffmpeg exits: what it logged at level error (decode errors), and the copy it recorded. */
  done: Promise<{ code: number | null; errors: string }>;
  file: string;
  stop(): void;
}

/** ffmpeg pulling a live stream: decodes both tracks (errors on stderr) and records a copy for timestamp checks. */
export function receive(url: string, file: string, decodeLive = true): Receiver {
  const args = ['-v', 'error', '-nostdin', '-analyzeduration', '2000000', '-rtmp_live', 'live', '-i', url, '-map', '0', '-c', 'copy', '-f', 'flv', '-y', file];
  // decodeLive false: only the copy (decode it afterwards); a viewer joining mid-GOP decodes from the next keyframe.
  if (decodeLive) args.push('-map', '0', '-f', 'null', '-');
  const proc = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const reap = () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.removeListener('exit', reap));
  let errors = '';
  proc.stderr!.on('data', (c: Buffer) => (errors += c.toString()));
  // ffmpeg reports the end of a live RTMP stream (the publisher left) as an I/O error on the input: not a decode error.
  const endOfLive = /^rtmp:\/\/\S+: Input\/output error\n?/m;
  const done = new Promise<{ code: number | null; errors: string }>((resolve) =>
    proc.once('exit', (code) => resolve({ code, errors: errors.replace(endOfLive, '') })),
  );
  const stop = () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGINT');
    setTimeout(() => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL'), 2000).unref();
  };
  return { done, file, stop };
}

/** A TLS terminator (Debian's stunnel4) in front of an RTMP server, with a self-signed certificate made here. */
export class TlsFront {
  readonly port: number;
  /** The certificate (PEM), to trust with publish({ tls: { ca } }). */
  readonly certPem: Buffer;
  #proc: ChildProcess;
  #dir: string;

  private constructor(dir: string, port: number, certPem: Buffer, proc: ChildProcess) {
    this.#dir = dir;
    this.port = port;
    this.certPem = certPem;
    this.#proc = proc;
  }

  static missing(): string {
    if (!['/usr/bin/stunnel4', '/usr/bin/stunnel'].some((p) => fs.existsSync(p))) return 'stunnel4 is not installed';
    if (!fs.existsSync('/usr/bin/openssl')) return 'openssl is not installed';
    return '';
  }

  static async start(backendPort: number): Promise<TlsFront> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ttsav-stunnel-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const port = await freePort();
    const conf = path.join(dir, 'stunnel.conf');
    fs.writeFileSync(conf, [`foreground = yes`, `pid =`, `debug = 3`, `output = ${dir}/stunnel.log`, '[rtmps]',
      `accept = 127.0.0.1:${port}`, `connect = 127.0.0.1:${backendPort}`, `cert = ${cert}`, `key = ${key}`, ''].join('\n'));
    const bin = ['/usr/bin/stunnel4', '/usr/bin/stunnel'].find((p) => fs.existsSync(p))!;
    const proc = spawn(bin, [conf], { stdio: 'ignore' });
    const reap = () => proc.exitCode === null && proc.signalCode === null && proc.kill('SIGKILL');
    process.once('exit', reap);
    proc.once('exit', () => process.removeListener('exit', reap));
    await waitForPort(port);
    return new TlsFront(dir, port, fs.readFileSync(cert), proc);
  }

  url(key: string): string {
    return `rtmps://127.0.0.1:${this.port}/live/${key}`;
  }

  async close(): Promise<void> {
    const p = this.#proc;
    if (p.exitCode === null && p.signalCode === null) {
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
      });
    }
    fs.rmSync(this.#dir, { recursive: true, force: true });
  }
}

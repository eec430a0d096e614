/**
 * `--pcap FILE` and `--keylog FILE` of `sl-bridge run`: the capture writers of bridge/capture/
 * put on the daemon's stack transport and key installation. Loaded only when a flag asks.
 */
import type { KeyTap, StackTap } from './daemon.js';

export async function openCaptureTaps(files: { pcap?: string | undefined; keylog?: string | undefined }): Promise<{ stackTap?: StackTap; keyTap?: KeyTap }> {
  const out: { stackTap?: StackTap; keyTap?: KeyTap } = {};
  if (files.pcap === undefined && files.keylog === undefined) return out;
  const capture = await import('../capture/index.js');
  if (files.pcap !== undefined) {
    const writer = await capture.PcapWriter.open(files.pcap);
    out.stackTap = {
      wrap: (transport) => capture.captureStackTransport(transport, writer),
      close: () => writer.close(),
    };
  }
  if (files.keylog !== undefined) {
    try {
      const keylog = capture.KeylogWriter.open(files.keylog);
      out.keyTap = { logGroup: (m) => void keylog.logGroup(m), close: () => keylog.close() };
    } catch (e) {
      await out.stackTap?.close();
      throw e;
    }
  }
  return out;
}

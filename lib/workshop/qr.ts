/** The QR code of a room's join link, for the projector. */
import QRCode from 'qrcode';

/** An SVG image of the QR code of `text` (error correction M: still reads from the back of a room). */
export async function qrSvg(text: string): Promise<string> {
  return QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 });
}

/** The same image as a `data:` URL for an `<img>`. */
export async function qrDataUrl(text: string): Promise<string> {
  return `data:image/svg+xml;base64,${Buffer.from(await qrSvg(text)).toString('base64')}`;
}

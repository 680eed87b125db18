// The QR encoder that qrcode-terminal ships (Kazuhiko Arase's), used for its module matrix.
declare module 'qrcode-terminal/vendor/QRCode/index.js' {
  export default class QRCode {
    constructor(typeNumber: number, errorCorrectLevel: number);
    addData(data: string): void;
    make(): void;
    modules: Array<Array<boolean | null>>;
  }
}
declare module 'qrcode-terminal/vendor/QRCode/QRErrorCorrectLevel.js' {
  const level: { L: number; M: number; Q: number; H: number };
  export default level;
}

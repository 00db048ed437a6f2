// A log destination for the runtime's logger (createLogger's stream) that
// keeps every record, so a spec can assert on what the code under test logged.
import { Writable } from 'node:stream';

export class LogRecorder extends Writable {
  /** Each record's message. */
  readonly messages: string[] = [];
  /** Each record whole, as JSON: a failing write's fields show in an assertion. */
  readonly lines: string[] = [];
  constructor() {
    super({ objectMode: true });
  }
  override _write(info: { msg?: unknown }, _encoding: BufferEncoding, next: () => void): void {
    this.messages.push(String(info.msg));
    this.lines.push(JSON.stringify(info));
    next();
  }
}

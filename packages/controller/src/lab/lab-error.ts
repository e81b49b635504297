import { EntropyError, ErrorCode, LabErrorCode } from '@entropy/protocol';

export { LabErrorCode };

/** A user-reachable lab error: one line on stderr, exit code 1 (main.ts). */
export class LabError extends EntropyError {
  override name = 'LabError';
  constructor(code: LabErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

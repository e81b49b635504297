import { EntropyError, ErrorCode } from '@entropy/protocol';

/** The codes of `entropy lab`'s errors (from ErrorCode); tests assert them. */
export const LabErrorCode = {
  Unavailable: ErrorCode.LabUnavailable,
  DirBusy: ErrorCode.LabDirBusy,
  State: ErrorCode.LabState,
  StartFailed: ErrorCode.LabStartFailed,
  Teardown: ErrorCode.LabTeardown,
  UnknownHost: ErrorCode.LabUnknownHost,
  HostPower: ErrorCode.LabHostPower,
} as const;
export type LabErrorCode = (typeof LabErrorCode)[keyof typeof LabErrorCode];

/** A user-reachable lab error: one line on stderr, exit code 1 (main.ts). */
export class LabError extends EntropyError {
  override name = 'LabError';
  constructor(code: LabErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
